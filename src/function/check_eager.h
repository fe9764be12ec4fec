#pragma once
// FunctionOptions::check_eager: run a compiled call, then the same call eagerly from the same state, and
// explain the first difference (which node, which layer, which graph pass).
#include "function/function_core.h"

namespace duet::internal {

std::vector<Tensor> check_eager_call(FunctionCore& core, const FunctionCore::Entry& entry, const ArgList& args,
                                     const TraceFn& trace);

}  // namespace duet::internal
