#pragma once
// Labels against predictions, as Keras's losses and metrics take them (squeeze_or_expand_to_same_rank).
#include <utility>

#include "duet/tensor.h"

namespace duet::losses::internal {

// Labels and predictions brought to one shape: when the ranks differ by one and the longer ends in a dim of 1
// ((N,) labels with (N, 1) predictions), a rank-1 side gains that dim, else the longer loses it. Other shapes
// that do not match throw ShapeError naming `who` (never broadcast: (N,) against (N, 1) would make (N, N)).
std::pair<Tensor, Tensor> same_shape(const char* who, Tensor y, Tensor p);

}  // namespace duet::losses::internal
