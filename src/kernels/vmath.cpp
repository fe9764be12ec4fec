#include "kernels/vmath.h"

// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_* helpers); not our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>

// libmvec's vector-ABI entry points (glibc >= 2.35 for tanh/erf/log1p/expm1/tan).
#define DUET_MVEC(F)                          \
  extern "C" __m512 _ZGVeN16v_##F##f(__m512); \
  extern "C" __m512d _ZGVeN8v_##F(__m512d);   \
  extern "C" __m256 _ZGVdN8v_##F##f(__m256);  \
  extern "C" __m256d _ZGVdN4v_##F(__m256d);
DUET_MVEC(exp)
DUET_MVEC(log)
DUET_MVEC(log1p)
DUET_MVEC(sin)
DUET_MVEC(cos)
DUET_MVEC(tan)
DUET_MVEC(tanh)
DUET_MVEC(erf)
DUET_MVEC(expm1)
#undef DUET_MVEC

namespace duet::vmath {
namespace {

using F512 = __m512 (*)(__m512);
using D512 = __m512d (*)(__m512d);
using F256 = __m256 (*)(__m256);
using D256 = __m256d (*)(__m256d);

struct Entry {
  F512 f512;
  D512 d512;
  F256 f256;
  D256 d256;
  float (*fs)(float);
  double (*ds)(double);
};

#define DUET_ENTRY(F) \
  { _ZGVeN16v_##F##f, _ZGVeN8v_##F, _ZGVdN8v_##F##f, _ZGVdN4v_##F, ::F##f, ::F }
const Entry kTable[] = {DUET_ENTRY(exp), DUET_ENTRY(log),  DUET_ENTRY(log1p), DUET_ENTRY(sin),  DUET_ENTRY(cos),
                        DUET_ENTRY(tan), DUET_ENTRY(tanh), DUET_ENTRY(erf),   DUET_ENTRY(expm1)};
#undef DUET_ENTRY

// __builtin_cpu_init must run before __builtin_cpu_supports during static initialization.
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kHas512 = cpu_has_avx512();
const bool kHas256 = cpu_has_avx2_fma();

__attribute__((target("avx512f"))) std::int64_t run512(const Entry& e, const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, e.f512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    // Masked-off lanes read 1.0, valid for every function here.
    __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(1.f), m, x + i);
    _mm512_mask_storeu_ps(y + i, m, e.f512(v));
    i = n;
  }
  return i;
}
__attribute__((target("avx512f"))) std::int64_t run512(const Entry& e, const double* x, double* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(y + i, e.d512(_mm512_loadu_pd(x + i)));
  if (i < n) {
    __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    __m512d v = _mm512_mask_loadu_pd(_mm512_set1_pd(1.0), m, x + i);
    _mm512_mask_storeu_pd(y + i, m, e.d512(v));
    i = n;
  }
  return i;
}
__attribute__((target("avx2,fma"))) std::int64_t run256(const Entry& e, const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, e.f256(_mm256_loadu_ps(x + i)));
  return i;
}
__attribute__((target("avx2,fma"))) std::int64_t run256(const Entry& e, const double* x, double* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, e.d256(_mm256_loadu_pd(x + i)));
  return i;
}

// Own float32 exp, tanh and sigmoid (AVX2 + FMA, and AVX-512 below). Polynomial and rational coefficients are our own
// Lawson (iteratively reweighted least-squares) minimax fits made with mpmath; errors measured against
// double-precision libm over 1M random inputs plus edge values: exp <= 2 ulp, sigmoid <= 4 ulp, tanh <= 6 ulp.
//   exp(x) = 2^k p(r), x = k ln2 + r, |r| <= ln2/2, p a degree-6 fit of e^r (relative error 1.9e-9). When
//            every lane lies in [-87.33, 88.72] (results normal) 2^k is added straight into p's exponent bits;
//            otherwise the vector takes the wide path, which scales by 2^(k/2) 2^(k - k/2) so overflow gives
//            inf and results down in the subnormal range stay right.
//   tanh(x) = x P(x^2) / Q(x^2) on x clamped to [-9, 9] (tanh(9) rounds to 1), a [13/6] rational fit with
//            relative error 6e-8: no exp, no cancellation near 0, one division.
//   sigmoid(x) = 1/(1 + e) for x >= 0 and e/(1 + e) otherwise, e = exp(-|x|) in (0, 1].
// Min/max operand order makes NaN propagate through the clamps (they return their second operand on NaN).
constexpr float kLog2e = 1.44269504f, kLn2Hi = 0.693145752f, kLn2Lo = 1.42860677e-06f;
constexpr float kExpPoly[7] = {
    1.38367260e-3f, 8.37489827e-3f, 4.16682321e-2f, 1.66664192e-1f, 4.99999920e-1f, 1.00000004f, 1.f};
constexpr float kTanhP[6] = {1.82546438e-11f, -1.27805332e-8f, 9.26757145e-6f,
                             2.92078978e-3f,  1.29192600e-1f,  9.99999943e-1f};
constexpr float kTanhQ[4] = {2.28103335e-4f, 2.37632987e-2f, 4.62525444e-1f, 1.f};
constexpr float kExpFastLo = -87.33f, kExpFastHi = 88.72f;

float exp_scalar(float v) { return std::exp(v); }
float tanh_scalar(float v) { return std::tanh(v); }
float sigmoid_scalar(float v) {
  float e = std::exp(-std::fabs(v));
  return v >= 0 ? 1.f / (1.f + e) : e / (1.f + e);
}

struct Avx2 {
  // 2^k for integer-valued k in [-126, 127].
  __attribute__((target("avx2,fma"))) static __m256 pow2(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
  }
  template <int N>
  __attribute__((target("avx2,fma"))) static __m256 horner(const float (&c)[N], __m256 x) {
    __m256 p = _mm256_set1_ps(c[0]);
    for (int j = 1; j < N; ++j) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[j]));
    return p;
  }
  // x = k ln2 + r; k is returned as a float holding an integer.
  __attribute__((target("avx2,fma"))) static __m256 reduce(__m256 x, __m256 k) {
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), x);
    return _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  }
  // Any input: clamps to [-104, 89] and scales in two steps.
  __attribute__((target("avx2,fma"))) static __m256 exp_wide(__m256 x) {
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.f)), _mm256_set1_ps(89.f));
    __m256 k =
        _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 p = horner(kExpPoly, reduce(xc, k));
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1);
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, pow2(k1)), pow2(_mm256_sub_epi32(ki, k1)));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
  }
  // Inputs in [kExpFastLo, kExpFastHi] only. Adding 1.5 * 2^23 rounds x log2(e) to the integer k and leaves
  // k in the low mantissa bits, so (bits << 23) is k in the exponent field.
  __attribute__((target("avx2,fma"))) static __m256 exp_normal(__m256 x) {
    const __m256 magic = _mm256_set1_ps(12582912.f);
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), magic);
    __m256 p = horner(kExpPoly, reduce(x, _mm256_sub_ps(t, magic)));
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(_mm256_castps_si256(t), 23)));
  }
  __attribute__((target("avx2,fma"))) static __m256 exp(__m256 x) {
    __m256 out = _mm256_or_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kExpFastLo), _CMP_NGE_UQ),
                              _mm256_cmp_ps(x, _mm256_set1_ps(kExpFastHi), _CMP_GT_OQ));
    if (__builtin_expect(_mm256_movemask_ps(out) != 0, 0)) return exp_wide(x);
    return exp_normal(x);
  }
  __attribute__((target("avx2,fma"))) static __m256 tanh(__m256 v) {
    __m256 x = _mm256_min_ps(_mm256_set1_ps(9.f), _mm256_max_ps(_mm256_set1_ps(-9.f), v));
    __m256 u = _mm256_mul_ps(x, x);
    // The fit overshoots 1 by an ulp near |x| = 9; |tanh| <= 1 always (NaN passes: min/max return the
    // second operand when one is NaN).
    __m256 r = _mm256_div_ps(_mm256_mul_ps(x, horner(kTanhP, u)), horner(kTanhQ, u));
    return _mm256_max_ps(_mm256_set1_ps(-1.f), _mm256_min_ps(_mm256_set1_ps(1.f), r));
  }
  // e = exp(-|v|); the numerator is e where v's sign bit is set, else 1.
  __attribute__((target("avx2,fma"))) static __m256 sigmoid_from(__m256 v, __m256 e) {
    return _mm256_div_ps(_mm256_blendv_ps(_mm256_set1_ps(1.f), e, v), _mm256_add_ps(e, _mm256_set1_ps(1.f)));
  }
  __attribute__((target("avx2,fma"))) static __m256 sigmoid(__m256 v) {
    __m256 a = _mm256_or_ps(v, _mm256_set1_ps(-0.f));  // -|v|
    if (__builtin_expect(_mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(kExpFastLo), _CMP_NGE_UQ)) != 0, 0)) {
      __m256 s = sigmoid_from(v, exp_wide(a));  // |v| > 87.33 or NaN
      return _mm256_blendv_ps(s, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    return sigmoid_from(v, exp_normal(a));
  }
};

// The same functions on 16 lanes, operation for operation (so both give bit-identical results); a mask
// register replaces the AVX2 blend vectors.
struct Avx512 {
  __attribute__((target("avx512f"))) static __m512 pow2(__m512i k) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, _mm512_set1_epi32(127)), 23));
  }
  template <int N>
  __attribute__((target("avx512f"))) static __m512 horner(const float (&c)[N], __m512 x) {
    __m512 p = _mm512_set1_ps(c[0]);
    for (int j = 1; j < N; ++j) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[j]));
    return p;
  }
  __attribute__((target("avx512f"))) static __m512 reduce(__m512 x, __m512 k) {
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Hi), x);
    return _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Lo), r);
  }
  __attribute__((target("avx512f"))) static __mmask16 is_nan(__m512 x) {
    return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  }
  __attribute__((target("avx512f"))) static __m512 exp_wide(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.f)), _mm512_set1_ps(89.f));
    __m512 k =
        _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 p = horner(kExpPoly, reduce(xc, k));
    __m512i ki = _mm512_cvtps_epi32(k);
    __m512i k1 = _mm512_srai_epi32(ki, 1);
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, pow2(k1)), pow2(_mm512_sub_epi32(ki, k1)));
    return _mm512_mask_blend_ps(is_nan(x), y, x);
  }
  __attribute__((target("avx512f"))) static __m512 exp_normal(__m512 x) {
    const __m512 magic = _mm512_set1_ps(12582912.f);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), magic);
    __m512 p = horner(kExpPoly, reduce(x, _mm512_sub_ps(t, magic)));
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(_mm512_castps_si512(t), 23)));
  }
  __attribute__((target("avx512f"))) static __m512 exp(__m512 x) {
    const __mmask16 out = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpFastLo), _CMP_NGE_UQ) |
                          _mm512_cmp_ps_mask(x, _mm512_set1_ps(kExpFastHi), _CMP_GT_OQ);
    if (__builtin_expect(out != 0, 0)) return exp_wide(x);
    return exp_normal(x);
  }
  __attribute__((target("avx512f"))) static __m512 tanh(__m512 v) {
    __m512 x = _mm512_min_ps(_mm512_set1_ps(9.f), _mm512_max_ps(_mm512_set1_ps(-9.f), v));
    __m512 u = _mm512_mul_ps(x, x);
    __m512 r = _mm512_div_ps(_mm512_mul_ps(x, horner(kTanhP, u)), horner(kTanhQ, u));
    return _mm512_max_ps(_mm512_set1_ps(-1.f), _mm512_min_ps(_mm512_set1_ps(1.f), r));
  }
  __attribute__((target("avx512f"))) static __m512 sigmoid_from(__m512 v, __m512 e) {
    const __mmask16 negative = _mm512_test_epi32_mask(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
    return _mm512_div_ps(_mm512_mask_blend_ps(negative, _mm512_set1_ps(1.f), e), _mm512_add_ps(e, _mm512_set1_ps(1.f)));
  }
  __attribute__((target("avx512f"))) static __m512 sigmoid(__m512 v) {
    __m512 a = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN)));  // -|v|
    if (__builtin_expect(_mm512_cmp_ps_mask(a, _mm512_set1_ps(kExpFastLo), _CMP_NGE_UQ) != 0, 0))
      return _mm512_mask_blend_ps(is_nan(v), sigmoid_from(v, exp_wide(a)), v);  // |v| > 87.33 or NaN
    return sigmoid_from(v, exp_normal(a));
  }
};

template <__m256 (*F)(__m256)>
__attribute__((target("avx2,fma"))) std::int64_t run_own(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, F(_mm256_loadu_ps(x + i)));  // x and y may alias: read first
  return i;
}
template <__m512 (*F)(__m512)>
__attribute__((target("avx512f"))) std::int64_t run_own(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(x + i)));
  if (i < n) {  // masked-off lanes read 1.0, in range for all three functions
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, F(_mm512_mask_loadu_ps(_mm512_set1_ps(1.f), m, x + i)));
  }
  return n;
}

bool own_function(Fn fn) { return fn == Fn::Tanh || fn == Fn::Exp || fn == Fn::Sigmoid; }

void apply_own(Fn fn, const float* x, float* y, std::int64_t n, bool avx512) {
  std::int64_t i = 0;
  if (avx512)
    i = fn == Fn::Tanh  ? run_own<Avx512::tanh>(x, y, n)
        : fn == Fn::Exp ? run_own<Avx512::exp>(x, y, n)
                        : run_own<Avx512::sigmoid>(x, y, n);
  else if (kHas256)
    i = fn == Fn::Tanh  ? run_own<Avx2::tanh>(x, y, n)
        : fn == Fn::Exp ? run_own<Avx2::exp>(x, y, n)
                        : run_own<Avx2::sigmoid>(x, y, n);
  float (*scalar)(float) = fn == Fn::Tanh ? tanh_scalar : fn == Fn::Exp ? exp_scalar : sigmoid_scalar;
  for (; i < n; ++i) y[i] = scalar(x[i]);
}

}  // namespace

bool has_avx512() { return kHas512; }

void apply_isa(Fn fn, const float* x, float* y, std::int64_t n, bool avx512) {
  if (!own_function(fn))
    throw std::invalid_argument("vmath::apply_isa: only exp, tanh and sigmoid have their own AVX2/AVX-512 code");
  if (avx512 && !kHas512) throw std::invalid_argument("vmath::apply_isa: this CPU has no AVX-512");
  apply_own(fn, x, y, n, avx512);
}

void apply(Fn fn, const float* x, float* y, std::int64_t n) {
  if (own_function(fn)) {
    apply_own(fn, x, y, n, kHas512);
    return;
  }
  const Entry& e = kTable[static_cast<int>(fn)];
  std::int64_t i = kHas512 ? run512(e, x, y, n) : kHas256 ? run256(e, x, y, n) : 0;
  for (; i < n; ++i) y[i] = e.fs(x[i]);
}

void apply(Fn fn, const double* x, double* y, std::int64_t n) {
  if (fn == Fn::Sigmoid) {
    for (std::int64_t i = 0; i < n; ++i) {
      double e = std::exp(-std::fabs(x[i]));
      y[i] = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
    return;
  }
  const Entry& e = kTable[static_cast<int>(fn)];
  std::int64_t i = kHas512 ? run512(e, x, y, n) : kHas256 ? run256(e, x, y, n) : 0;
  for (; i < n; ++i) y[i] = e.ds(x[i]);
}

}  // namespace duet::vmath
