#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <atomic>
#include <cmath>
#include <numbers>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "duet/random.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/philox.h"

namespace duet {
namespace {
std::atomic<std::uint64_t> g_seed{0x5eedULL};
std::atomic<std::uint64_t> g_counter{0};
std::atomic<std::uint64_t> g_process_stream{0};
}  // namespace

void set_random_process_stream(std::uint64_t id) { g_process_stream.store(id); }
std::uint64_t random_process_stream() { return g_process_stream.load(); }

namespace random {
void set_seed(std::uint64_t seed) {
  g_seed.store(seed);
  g_counter.store(0);
}
}  // namespace random

namespace random {
GeneratorState get_state() { return {g_seed.load(), g_counter.load()}; }
void set_state(const GeneratorState& s) {
  g_seed.store(s.seed);
  g_counter.store(s.counter);
}
}  // namespace random

// (key, stream) for this call: the op's own seed (stateless), or the global seed and its next call.
void random_key_for(const Attrs& a, std::array<std::uint32_t, 2>& key, std::uint64_t& stream) {
  std::int64_t seed = a.i("seed");
  std::uint64_t s;
  if (seed >= 0) {
    s = static_cast<std::uint64_t>(seed);
    stream = 0;
  } else {
    // A process stream id moves the key by an odd multiple (a bijection: distinct ids, distinct keys).
    s = g_seed.load() + g_process_stream.load() * 0x9E3779B97F4A7C15ULL;
    stream = g_counter.fetch_add(1) + 1;
  }
  key = {static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(s >> 32)};
}

namespace kernels {
namespace {

// Four uniforms per Philox block; block b of a call covers elements 4b .. 4b+3.
template <class F>
void fill(Tensor& y, const Attrs& a, F draw) {
  std::array<std::uint32_t, 2> key;
  std::uint64_t stream;
  random_key_for(a, key, stream);
  const std::int64_t n = y.num_elements();
  visit_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(y);
    parallel_for((n + 3) / 4, 1 << 12, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t blk = b; blk < e; ++blk) {
        T v[4];
        draw(key, stream, static_cast<std::uint64_t>(blk), v);
        for (int j = 0; j < 4 && blk * 4 + j < n; ++j) p[blk * 4 + j] = v[j];
      }
    });
  });
}

std::array<std::uint32_t, 4> block(std::array<std::uint32_t, 2> key, std::uint64_t stream, std::uint64_t blk,
                                   std::uint32_t attempt = 0) {
  return philox4x32(philox_counter(stream, blk, attempt), key);
}

// Box-Muller: two uniforms give two independent standard normals.
template <class T>
void normals(const std::array<std::uint32_t, 4>& r, T out[4]) {
  for (int j = 0; j < 2; ++j) {
    double u1 = (static_cast<double>(r[2 * j]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
    double u2 = static_cast<double>(r[2 * j + 1]) * (1.0 / 4294967296.0);
    double rad = std::sqrt(-2.0 * std::log(u1));
    out[2 * j] = static_cast<T>(rad * std::cos(2.0 * std::numbers::pi * u2));
    out[2 * j + 1] = static_cast<T>(rad * std::sin(2.0 * std::numbers::pi * u2));
  }
}

}  // namespace

void random_normal(KernelContext& k) {
  const double mean = k.attrs.f("a"), sd = k.attrs.f("b");
  fill(k.outputs[0], k.attrs, [&](auto key, std::uint64_t s, std::uint64_t blk, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    double z[4];
    normals<double>(block(key, s, blk), z);
    for (int j = 0; j < 4; ++j) v[j] = static_cast<T>(mean + sd * z[j]);
  });
}

void random_uniform(KernelContext& k) {
  const double lo = k.attrs.f("a"), hi = k.attrs.f("b");
  fill(k.outputs[0], k.attrs, [&](auto key, std::uint64_t s, std::uint64_t blk, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    auto r = block(key, s, blk);
    // float64 takes 53 bits per element: the low words come from a second block.
    auto r2 = std::is_same_v<T, double> ? block(key, s, blk, 1) : r;
    for (int j = 0; j < 4; ++j) {
      double u = std::is_same_v<T, double> ? u01d(r[j], r2[j]) : static_cast<double>(u01f(r[j]));
      T val = static_cast<T>(lo + (hi - lo) * u);
      if constexpr (std::is_floating_point_v<T>) {
        if (val >= static_cast<T>(hi)) val = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));  // keep [lo, hi)
      }
      v[j] = val;
    }
  });
}

// Each element redraws (with a fresh counter) until it lands within two standard deviations.
void truncated_normal(KernelContext& k) {
  const double mean = k.attrs.f("a"), sd = k.attrs.f("b");
  fill(k.outputs[0], k.attrs, [&](auto key, std::uint64_t s, std::uint64_t blk, auto* v) {
    using T = std::remove_pointer_t<decltype(v)>;
    double z[4] = {0, 0, 0, 0};
    bool done[4] = {false, false, false, false};
    for (std::uint32_t attempt = 0; attempt < 255; ++attempt) {
      double c[4];
      normals<double>(block(key, s, blk, attempt), c);
      bool all = true;
      for (int j = 0; j < 4; ++j) {
        if (!done[j] && std::fabs(c[j]) <= 2.0) {
          z[j] = c[j];
          done[j] = true;
        }
        all = all && done[j];
      }
      if (all) break;
    }
    for (int j = 0; j < 4; ++j) v[j] = static_cast<T>(mean + sd * (done[j] ? z[j] : 0.0));
  });
}

}  // namespace kernels

#ifdef __AVX2__
namespace {
// The high and low 32 bits of each lane's a * m (m: one multiplier in every lane).
inline void mul_hi_lo(__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
  lo = _mm256_mullo_epi32(a, m);
  const __m256i even = _mm256_mul_epu32(a, m);                        // lanes 0, 2, 4, 6 as 64-bit products
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
}  // namespace
#endif

void philox4x32_blocks(std::array<std::uint32_t, 2> key, std::uint64_t stream, std::uint64_t first, std::int64_t count,
                       std::uint32_t* out) {
  std::int64_t i = 0;
#ifdef __AVX2__
  // Eight blocks side by side, word j of each block in lane i of vector j: the same rounds as philox4x32.
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  for (; i + 8 <= count; i += 8) {
    alignas(32) std::uint32_t lo[8], hi[8], w[4][8];
    for (int l = 0; l < 8; ++l) {
      const std::uint64_t b = first + static_cast<std::uint64_t>(i + l);
      lo[l] = static_cast<std::uint32_t>(b);
      hi[l] = static_cast<std::uint32_t>(b >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
    __m256i c2 = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    __m256i c3 = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      __m256i h0, l0, h1, l1;
      mul_hi_lo(c0, m0, h0, l0);
      mul_hi_lo(c2, m1, h1, l1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      c1 = l1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c3 = l0;
      k0 += kW0;
      k1 += kW1;
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(w[0]), c0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w[1]), c1);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w[2]), c2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(w[3]), c3);
    for (int l = 0; l < 8; ++l)
      for (int j = 0; j < 4; ++j) out[4 * (i + l) + j] = w[j][l];
  }
#endif
  for (; i < count; ++i) {
    const auto r = philox4x32(philox_counter(stream, first + static_cast<std::uint64_t>(i)), key);
    for (int j = 0; j < 4; ++j) out[4 * i + j] = r[static_cast<std::size_t>(j)];
  }
}

}  // namespace duet
