#pragma once
#include "duet/tensor.h"

namespace duet {

// Matrix product of the last two dims, with the leading (batch) dims broadcast: (..., m, k) x (..., k, n).
// transpose_a/transpose_b use the transposed last two dims of a/b without copying. float32 runs on oneDNN.
[[nodiscard]] Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

}  // namespace duet
