#pragma once
// The vector-Jacobian product of a computation re-run under a fresh tape: used by the gradients of
// control-flow subgraphs, host functions and layers run as host steps.
#include <functional>
#include <vector>

#include "duet/tape.h"

namespace duet::internal {

// Runs fn under a tape watching `sources` and returns d(sum_k out_k * output_grads_k) / d source for each
// source. Outputs that are not float, or whose output gradient is undefined, do not contribute. Sources
// the result does not depend on (and non-float tensor sources) get zeros.
std::vector<Tensor> vjp(const std::function<std::vector<Tensor>()>& fn, const std::vector<Source>& sources,
                        const std::vector<Tensor>& output_grads);

}  // namespace duet::internal
