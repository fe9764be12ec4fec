#pragma once
// Vectorized transcendental functions over arrays. They call glibc's libmvec SIMD variants
// (AVX-512 or AVX2, chosen at run time) and fall back to scalar libm on older CPUs.
#include <cstdint>

namespace duet::vmath {

enum class Fn { Exp, Log, Log1p, Sin, Cos, Tan, Tanh, Erf, Expm1, Sigmoid };

// y[i] = fn(x[i]) for i in [0, n); x and y may alias.
void apply(Fn fn, const float* x, float* y, std::int64_t n);
void apply(Fn fn, const double* x, double* y, std::int64_t n);

}  // namespace duet::vmath
