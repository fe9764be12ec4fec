#include "kernels/vmath.h"

#include <immintrin.h>

#include <cmath>

// libmvec's vector-ABI entry points (glibc >= 2.35 for tanh/erf/log1p/expm1/tan).
#define DUET_MVEC(F)                                                        \
  extern "C" __m512 _ZGVeN16v_##F##f(__m512);                               \
  extern "C" __m512d _ZGVeN8v_##F(__m512d);                                 \
  extern "C" __m256 _ZGVdN8v_##F##f(__m256);                                \
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

#define DUET_ENTRY(F) {_ZGVeN16v_##F##f, _ZGVeN8v_##F, _ZGVdN8v_##F##f, _ZGVdN4v_##F, ::F##f, ::F}
const Entry kTable[] = {DUET_ENTRY(exp), DUET_ENTRY(log), DUET_ENTRY(log1p), DUET_ENTRY(sin), DUET_ENTRY(cos),
                        DUET_ENTRY(tan), DUET_ENTRY(tanh), DUET_ENTRY(erf), DUET_ENTRY(expm1)};
#undef DUET_ENTRY

const bool kHas512 = __builtin_cpu_supports("avx512f");
const bool kHas256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

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

}  // namespace

void apply(Fn fn, const float* x, float* y, std::int64_t n) {
  const Entry& e = kTable[static_cast<int>(fn)];
  std::int64_t i = kHas512 ? run512(e, x, y, n) : kHas256 ? run256(e, x, y, n) : 0;
  for (; i < n; ++i) y[i] = e.fs(x[i]);
}

void apply(Fn fn, const double* x, double* y, std::int64_t n) {
  const Entry& e = kTable[static_cast<int>(fn)];
  std::int64_t i = kHas512 ? run512(e, x, y, n) : kHas256 ? run256(e, x, y, n) : 0;
  for (; i < n; ++i) y[i] = e.ds(x[i]);
}

}  // namespace duet::vmath
