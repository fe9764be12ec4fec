#pragma once
// Vectorized transcendental functions over arrays: float32 exp, tanh and sigmoid are our own (AVX-512 or
// AVX2 + FMA, chosen at run time); the rest call glibc's libmvec SIMD variants (likewise chosen). Older CPUs
// fall back to scalar libm.
#include <cstdint>

namespace duet::vmath {

enum class Fn { Exp, Log, Log1p, Sin, Cos, Tan, Tanh, Erf, Expm1, Sigmoid };

// y[i] = fn(x[i]) for i in [0, n); x and y may alias.
void apply(Fn fn, const float* x, float* y, std::int64_t n);
void apply(Fn fn, const double* x, double* y, std::int64_t n);

// Tests: exp, tanh and sigmoid (float32) have their own AVX2 and AVX-512 code (one picked at run time),
// which must agree bit for bit; this runs the one asked for (avx512 needs has_avx512()).
bool has_avx512();
void apply_isa(Fn fn, const float* x, float* y, std::int64_t n, bool avx512);

}  // namespace duet::vmath
