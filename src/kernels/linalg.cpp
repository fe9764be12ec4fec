// matmul: float32 through oneDNN (cached primitives, transposes as strides), float64 through a
// cache-blocked loop nest (oneDNN has no f64 matmul on CPU).
// GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_* helpers); not our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/tensor_impl.h"
#include "kernels/dnnl_util.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace duet::kernels {
namespace {

struct Gemm {
  std::int64_t batch, m, n, k;
  bool ta, tb;
  std::int64_t a_batch_stride, b_batch_stride;  // 0 when that operand is shared by every batch
};

void matmul_f32(const Gemm& g, const float* a, const float* b, float* c) {
  using dims = dnnl::memory::dims;
  // The team size (sgemm reads it per call, a primitive when it is created), brought up to date for products
  // large enough to be split (a 10x10 product runs on one thread whatever the setting).
  const int threads =
      g.batch * g.m * g.n * g.k >= kParallelGrain * 8 ? omp_threads_for_library() : omp_get_max_threads();
  // A times a transposed B with few rows (a recurrent net's dh = dz @ wh^T, 32 x 512 x 128) or a long
  // contraction (a dense layer's input gradient: the tf-cnn's 128x1024 @ (3136x1024)^T): oneDNN's matmul
  // primitive (brgemm on AVX-512) reads B^T in place, where sgemm repacks it on every call (18.5 vs 24.4 us;
  // 3.1 vs 3.6 ms; 2 threads). Short contractions (k = 10: 11.4 vs 10.5 us) stay with sgemm.
  const bool primitive_for_transposed = g.tb && !g.ta && (g.m <= 64 || g.k >= 512);
  if (g.batch == 1 && !primitive_for_transposed) {
    // One 2-D product: oneDNN's row-major sgemm skips the primitive and memory objects (~2 us less per
    // call, which is most of the time for small matrices).
    const char ta = g.ta ? 'T' : 'N', tb = g.tb ? 'T' : 'N';
    const std::int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n;
    // oneDNN 2.6's AVX2 sgemm reads a 32-byte-aligned, untransposed B in place ("no copy") when it can; with
    // rows a multiple of 1 KiB apart, those reads thrash the cache: the tf-cnn's dense layer (128x3136 @
    // 3136x1024) took 9.4 ms instead of 5.3 (512^3: 2.0 vs 1.5 ms). Columns 1.. start unaligned and take
    // the packing path; column 0 is a matrix-vector product. Measured no gain for M > 512, so limited.
    const bool cache_hostile = !g.tb && g.n % 256 == 0 && g.n >= 512 && g.m <= 512 && g.k >= 256 &&
                               reinterpret_cast<std::uintptr_t>(b) % 32 == 0;
    if (cache_hostile) {
      dnnl_sgemm(ta, tb, g.m, g.n - 1, g.k, 1.f, a, lda, b + 1, ldb, 0.f, c + 1, g.n);
      dnnl_sgemm(ta, tb, g.m, 1, g.k, 1.f, a, lda, b, ldb, 0.f, c, g.n);
    } else {
      dnnl_sgemm(ta, tb, g.m, g.n, g.k, 1.f, a, lda, b, ldb, 0.f, c, g.n);
    }
    return;
  }
  struct Prim {
    dnnl::matmul prim;
    dnnl::memory::desc scratch_md;
  };
  static dnnl_util::Cache<Prim> cache;
  const bool batched = g.batch > 1;
  dnnl_util::Key key{g.batch, g.m, g.n, g.k, g.ta, g.tb, g.a_batch_stride != 0, g.b_batch_stride != 0, threads};
  auto make_md = [&](std::int64_t rows, std::int64_t cols, bool trans, bool shared) {
    // Logical (rows x cols); stored (cols x rows) when transposed.
    // A shared operand has batch dim 1 and oneDNN broadcasts it.
    dims d = batched ? dims{shared ? 1 : g.batch, rows, cols} : dims{rows, cols};
    dims s = trans ? dims{1, rows} : dims{cols, 1};
    if (batched) s.insert(s.begin(), rows * cols);
    return dnnl_util::plain_md(d, s);
  };
  auto a_md = make_md(g.m, g.k, g.ta, g.a_batch_stride == 0);
  auto b_md = make_md(g.k, g.n, g.tb, g.b_batch_stride == 0);
  auto c_md = make_md(g.m, g.n, false, false);
  Prim& p = cache.get(key, [&] {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), dnnl_util::attr(), dnnl_util::engine());
    return Prim{dnnl::matmul(pd), pd.scratchpad_desc()};
  });
  auto& eng = dnnl_util::engine();
  dnnl::memory am(a_md, eng, const_cast<float*>(a)), bm(b_md, eng, const_cast<float*>(b)), cm(c_md, eng, c);
  std::vector<Tensor> keep;
  p.prim.execute(dnnl_util::stream(), {{DNNL_ARG_SRC, am},
                                       {DNNL_ARG_WEIGHTS, bm},
                                       {DNNL_ARG_DST, cm},
                                       {DNNL_ARG_SCRATCHPAD, dnnl_util::scratchpad(p.scratch_md, keep)}});
}

// Integer products wrap on overflow (two's complement, as TensorFlow and PyTorch): computed unsigned,
// where wrapping is defined.
template <class T>
T mul_add(T acc, T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(acc) + static_cast<U>(x) * static_cast<U>(y));
  } else {
    return acc + x * y;
  }
}

template <class T>
void matmul_ref(const Gemm& g, const T* a, const T* b, T* c) {
  parallel_for(g.batch * g.m, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(g.n * g.k, 1)),
               [&](std::int64_t lo, std::int64_t hi) {
                 for (std::int64_t bi_i = lo; bi_i < hi; ++bi_i) {
                   std::int64_t bi = bi_i / g.m, i = bi_i % g.m;
                   const T* ab = a + bi * g.a_batch_stride;
                   const T* bb = b + bi * g.b_batch_stride;
                   T* row = c + (bi * g.m + i) * g.n;
                   for (std::int64_t j = 0; j < g.n; ++j) row[j] = T(0);
                   for (std::int64_t p = 0; p < g.k; ++p) {
                     T av = g.ta ? ab[p * g.m + i] : ab[i * g.k + p];
                     if (!g.tb) {
                       const T* brow = bb + p * g.n;
                       for (std::int64_t j = 0; j < g.n; ++j) row[j] = mul_add(row[j], av, brow[j]);
                     } else {
                       for (std::int64_t j = 0; j < g.n; ++j) row[j] = mul_add(row[j], av, bb[j * g.k + p]);
                     }
                   }
                 }
               });
}

// Tiny products: each output row accumulates in a local array (no aliasing checks, no threads).
constexpr std::int64_t kTinyMaxN = 64;
template <class T>
void matmul_tiny(const Gemm& g, const T* a, const T* b, T* c) {
  T acc[kTinyMaxN];
  for (std::int64_t bi = 0; bi < g.batch; ++bi) {
    const T* ab = a + bi * g.a_batch_stride;
    const T* bb = b + bi * g.b_batch_stride;
    for (std::int64_t i = 0; i < g.m; ++i) {
      for (std::int64_t j = 0; j < g.n; ++j) acc[j] = T(0);
      for (std::int64_t p = 0; p < g.k; ++p) {
        const T av = g.ta ? ab[p * g.m + i] : ab[i * g.k + p];
        if (!g.tb) {
          const T* brow = bb + p * g.n;
          for (std::int64_t j = 0; j < g.n; ++j) acc[j] += av * brow[j];
        } else {
          for (std::int64_t j = 0; j < g.n; ++j) acc[j] += av * bb[j * g.k + p];
        }
      }
      T* row = c + (bi * g.m + i) * g.n;
      for (std::int64_t j = 0; j < g.n; ++j) row[j] = acc[j];
    }
  }
}

// The no-transpose float32 case with AVX2: a row of C lives in up to 8 registers (n <= 64); each a[i, p]
// is broadcast and multiplied into row p of B (masked loads for the last partial vector).
// Lane masks for the last partial vector of a row: kTailMask[t] enables the first t lanes (t = 1..8).
alignas(32) const int kTailMask[9][8] = {{0},
                                         {-1},
                                         {-1, -1},
                                         {-1, -1, -1},
                                         {-1, -1, -1, -1},
                                         {-1, -1, -1, -1, -1},
                                         {-1, -1, -1, -1, -1, -1},
                                         {-1, -1, -1, -1, -1, -1, -1},
                                         {-1, -1, -1, -1, -1, -1, -1, -1}};

// Rows of at most 16 columns, with the vector count a compile-time constant (fully unrolled). R rows of C
// are computed together: each row's accumulation is a chain of dependent FMAs (4 cycles each), so one row
// at a time would be bound by that latency; R independent chains also share each load of a B row.
template <int NV, int R>
__attribute__((target("avx2,fma"))) inline void tiny_rows(const float* arow, std::int64_t k, const float* bb,
                                                          std::int64_t n, __m256i tail, float* crow) {
  __m256 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t p = 0; p < k; ++p) {
    const float* brow = bb + p * n;
    __m256 bv[NV];
    for (int v = 0; v + 1 < NV; ++v) bv[v] = _mm256_loadu_ps(brow + 8 * v);
    bv[NV - 1] = _mm256_maskload_ps(brow + 8 * (NV - 1), tail);
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(arow + r * k + p);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* row = crow + r * n;
    for (int v = 0; v + 1 < NV; ++v) _mm256_storeu_ps(row + 8 * v, acc[r][v]);
    _mm256_maskstore_ps(row + 8 * (NV - 1), tail, acc[r][NV - 1]);
  }
}

template <int NV>
__attribute__((target("avx2,fma"))) void matmul_tiny_fixed(const Gemm& g, const float* a, const float* b, float* c) {
  const __m256i tail = _mm256_load_si256(reinterpret_cast<const __m256i*>(kTailMask[g.n - (NV - 1) * 8]));
  for (std::int64_t bi = 0; bi < g.batch; ++bi) {
    const float* ab = a + bi * g.a_batch_stride;
    const float* bb = b + bi * g.b_batch_stride;
    float* cb = c + bi * g.m * g.n;
    std::int64_t i = 0;
    for (; i + 4 <= g.m; i += 4) tiny_rows<NV, 4>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
    for (; i + 2 <= g.m; i += 2) tiny_rows<NV, 2>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
    for (; i < g.m; ++i) tiny_rows<NV, 1>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
  }
}

// With AVX-512 (checked at run time), rows of 9..16 columns are one masked 16-lane vector instead of two
// 8-lane ones (half the multiply-adds, and no vmaskmov, which is slow).
template <int R>
__attribute__((target("avx512f"))) inline void tiny_rows512(const float* arow, std::int64_t k, const float* bb,
                                                            std::int64_t n, __mmask16 tail, float* crow) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < k; ++p) {
    const __m512 bv = _mm512_maskz_loadu_ps(tail, bb + p * n);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(arow[r * k + p]), bv, acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(crow + r * n, tail, acc[r]);
}

__attribute__((target("avx512f"))) void matmul_tiny_avx512(const Gemm& g, const float* a, const float* b, float* c) {
  const auto tail = static_cast<__mmask16>((1u << g.n) - 1);
  for (std::int64_t bi = 0; bi < g.batch; ++bi) {
    const float* ab = a + bi * g.a_batch_stride;
    const float* bb = b + bi * g.b_batch_stride;
    float* cb = c + bi * g.m * g.n;
    std::int64_t i = 0;
    for (; i + 4 <= g.m; i += 4) tiny_rows512<4>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
    for (; i + 2 <= g.m; i += 2) tiny_rows512<2>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
    for (; i < g.m; ++i) tiny_rows512<1>(ab + i * g.k, g.k, bb, g.n, tail, cb + i * g.n);
  }
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
const bool kAvx512 = cpu_has_avx512();

__attribute__((target("avx2,fma"))) void matmul_tiny_avx2(const Gemm& g, const float* a, const float* b, float* c) {
  if (g.n > 8 && g.n <= 16 && kAvx512) return matmul_tiny_avx512(g, a, b, c);
  if (g.n <= 8) return matmul_tiny_fixed<1>(g, a, b, c);
  if (g.n <= 16) return matmul_tiny_fixed<2>(g, a, b, c);
  const int nv = static_cast<int>((g.n + 7) / 8);
  const int tail = static_cast<int>(g.n - (nv - 1) * 8);
  alignas(32) int mask_bits[8];
  for (int l = 0; l < 8; ++l) mask_bits[l] = l < tail ? -1 : 0;
  const __m256i tail_mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(mask_bits));
  for (std::int64_t bi = 0; bi < g.batch; ++bi) {
    const float* ab = a + bi * g.a_batch_stride;
    const float* bb = b + bi * g.b_batch_stride;
    for (std::int64_t i = 0; i < g.m; ++i) {
      __m256 acc[8];
      for (int v = 0; v < nv; ++v) acc[v] = _mm256_setzero_ps();
      for (std::int64_t p = 0; p < g.k; ++p) {
        const __m256 av = _mm256_set1_ps(ab[i * g.k + p]);
        const float* brow = bb + p * g.n;
        for (int v = 0; v < nv - 1; ++v) acc[v] = _mm256_fmadd_ps(av, _mm256_loadu_ps(brow + 8 * v), acc[v]);
        acc[nv - 1] = _mm256_fmadd_ps(av, _mm256_maskload_ps(brow + 8 * (nv - 1), tail_mask), acc[nv - 1]);
      }
      float* row = c + (bi * g.m + i) * g.n;
      for (int v = 0; v < nv - 1; ++v) _mm256_storeu_ps(row + 8 * v, acc[v]);
      _mm256_maskstore_ps(row + 8 * (nv - 1), tail_mask, acc[nv - 1]);
    }
  }
}

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kAvx2 = cpu_has_avx2();

}  // namespace

// An operand whose batch dims neither match the output's nor are all 1 (e.g. (2, 1, 3, 4) against an output
// batch of (2, 3)) is broadcast into `copy` first; the fast paths take equal or shared batches. Returns the
// operand to use (no handle copy in the common case: tiny products are dominated by such overheads).
const Tensor& broadcast_batch(const Tensor& t, const Shape& out, Tensor& copy) {
  if (t.impl()->shape.rank() <= 2 && out.rank() <= 2) return t;
  std::int64_t tb = 1, ob = 1;
  for (int d = 0; d + 2 < t.rank(); ++d) tb *= t.shape()[d];
  for (int d = 0; d + 2 < out.rank(); ++d) ob *= out[d];
  if (tb == 1 || tb == ob) return t;  // shared, or dims equal (each is 1 or the output's, so equal counts mean equal)
  Shape full(std::span<const std::int64_t>(out.begin(), out.end() - 2));
  full.push_back(t.shape()[t.rank() - 2]);
  full.push_back(t.shape()[t.rank() - 1]);
  copy = make_concrete(t.dtype(), full);
  broadcast_copy(t, copy);
  return copy;
}

// One thread's float32 product speed on this machine, measured once: the best of several 32x128x512
// products (a recurrent step's size). CPUs differ by 2x and more here (AVX-512 with full-width units,
// double-pumped ones, AVX2), so cost models read this instead of a constant.
double gemm_flops_per_ns_one_thread() {
  static const double rate = [] {
    constexpr std::int64_t m = 32, n = 512, k = 128;
    std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double best = 1e30;
    for (int rep = 0; rep < 12; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      dnnl_sgemm('N', 'N', m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);
      best = std::min(best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    }
    omp_set_num_threads(saved);
    return std::clamp(2.0 * m * n * k / best, 10.0, 1000.0);
  }();
  return rate;
}

void matmul(KernelContext& kc) {
  Tensor a_copy, b_copy;
  Tensor& c = kc.outputs[0];
  const Shape& cs = c.impl()->shape;
  const Tensor& a = broadcast_batch(kc.inputs[0], cs, a_copy);
  const Tensor& b = broadcast_batch(kc.inputs[1], cs, b_copy);
  const bool ta = kc.attrs.b("transpose_a"), tb = kc.attrs.b("transpose_b");
  const Shape& as = a.impl()->shape;
  const Shape& bs = b.impl()->shape;
  const int ra = as.rank(), rb = bs.rank();
  Gemm g;
  g.ta = ta;
  g.tb = tb;
  g.m = ta ? as[ra - 1] : as[ra - 2];
  g.k = ta ? as[ra - 2] : as[ra - 1];
  g.n = tb ? bs[rb - 2] : bs[rb - 1];
  // Batch counts as products of the leading dims (no divisions: they dominate tiny products' setup).
  auto leading = [](const Shape& s) {
    std::int64_t n = 1;
    for (int d = 0; d + 2 < s.rank(); ++d) n *= s[d];
    return n;
  };
  g.batch = leading(cs);
  const std::int64_t a_batches = leading(as), b_batches = leading(bs);
  g.a_batch_stride = a_batches == 1 ? 0 : g.m * g.k;
  g.b_batch_stride = b_batches == 1 ? 0 : g.k * g.n;
  if (c.num_elements() == 0) return;
  if (g.k == 0) {
    std::memset(raw(c), 0, static_cast<std::size_t>(c.num_elements()) * dtype_size(c.dtype()));
    return;
  }
  // A shared right operand with an untransposed left one is one big 2-D product.
  if (g.batch > 1 && g.b_batch_stride == 0 && !ta && g.a_batch_stride != 0) {
    g.m *= g.batch;
    g.batch = 1;
    g.a_batch_stride = 0;
  }
  // Tiny products (a 10x10 matmul is 1000 multiply-adds) cost less as plain loops on this thread than
  // oneDNN's call and thread start-up.
  const bool tiny = g.batch * g.m * g.n * g.k <= 16 * 16 * 16 && g.n <= kTinyMaxN;
  if (a.dtype() == DType::Float32 && tiny && kAvx2 && !ta && !tb) {
    matmul_tiny_avx2(g, ptr<float>(a), ptr<float>(b), ptr<float>(c));
  } else if (a.dtype() == DType::Float32 && tiny) {
    matmul_tiny<float>(g, ptr<float>(a), ptr<float>(b), ptr<float>(c));
  } else if (a.dtype() == DType::Float32) {
    matmul_f32(g, ptr<float>(a), ptr<float>(b), ptr<float>(c));
  } else if (a.dtype() == DType::Float64) {
    matmul_ref<double>(g, ptr<double>(a), ptr<double>(b), ptr<double>(c));
  } else if (a.dtype() == DType::Int32) {
    matmul_ref<std::int32_t>(g, ptr<std::int32_t>(a), ptr<std::int32_t>(b), ptr<std::int32_t>(c));
  } else {
    matmul_ref<std::int64_t>(g, ptr<std::int64_t>(a), ptr<std::int64_t>(b), ptr<std::int64_t>(c));
  }
}

}  // namespace duet::kernels

namespace duet::kernels {

namespace {
template <class T>
void add_into(T* c, const T* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) c[i] = static_cast<T>(c[i] + x[i]);
}
}  // namespace

// c += x, where x has c's m * n elements or is one row of n, added to every row.
template <class T>
void add_addend(T* c, const T* x, std::int64_t m, std::int64_t n, std::int64_t x_numel) {
  if (x_numel == m * n) {
    add_into(c, x, m * n);
  } else {
    for (std::int64_t r = 0; r < m; ++r) add_into(c + r * n, x, n);
  }
}

void add_addends(KernelContext& kc, std::size_t first, std::int64_t m, std::int64_t n) {
  Tensor& c = kc.outputs[0];
  for (std::size_t j = first; j < kc.inputs.size(); ++j) {
    const void* x = raw(kc.inputs[j]);
    const std::int64_t xn = kc.inputs[j].num_elements();
    switch (c.dtype()) {
      case DType::Float32:
        add_addend(ptr<float>(c), static_cast<const float*>(x), m, n, xn);
        break;
      case DType::Float64:
        add_addend(ptr<double>(c), static_cast<const double*>(x), m, n, xn);
        break;
      case DType::Int32:  // wraps, as the matmul does
        add_addend(ptr<std::uint32_t>(c), static_cast<const std::uint32_t*>(x), m, n, xn);
        break;
      default:
        add_addend(ptr<std::uint64_t>(c), static_cast<const std::uint64_t*>(x), m, n, xn);
        break;
    }
  }
}

// The unpacked form: the output starts as the sum of the addends (or zero), then each term's product is
// accumulated into it (float32: sgemm with beta = 1; other dtypes: a product, then an addition).
void matmul_sum_accumulate(KernelContext& kc, std::size_t terms, bool ta, bool tb, std::int64_t m, std::int64_t n) {
  Tensor& c = kc.outputs[0];
  const std::size_t es = dtype_size(c.dtype());
  // Starts as the first addend (copied, or its row repeated), then the others are added.
  char* cp = static_cast<char*>(raw(c));
  const std::size_t row_bytes = static_cast<std::size_t>(n) * es;
  if (kc.inputs.size() == 2 * terms) {
    std::memset(cp, 0, static_cast<std::size_t>(m) * row_bytes);
  } else {
    const Tensor& first = kc.inputs[2 * terms];
    const char* fp = static_cast<const char*>(raw(first));
    const bool full = first.num_elements() == m * n;
    for (std::int64_t r = 0; r < m; ++r)
      std::memcpy(cp + static_cast<std::size_t>(r) * row_bytes,
                  full ? fp + static_cast<std::size_t>(r) * row_bytes : fp, row_bytes);
  }
  add_addends(kc, 2 * terms + 1, m, n);
  omp_threads_for_library();
  for (std::size_t i = 0; i < terms; ++i) {
    const Tensor& a = kc.inputs[i];
    const Tensor& b = kc.inputs[terms + i];
    const std::int64_t k = ta ? a.impl()->shape[0] : a.impl()->shape[1];
    if (k == 0) continue;
    if (c.dtype() == DType::Float32) {
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, ptr<float>(a), ta ? m : k, ptr<float>(b), tb ? k : n,
                 1.f, ptr<float>(c), n);
      continue;
    }
    Tensor product = make_concrete(c.dtype(), Shape{m, n});
    const Tensor operands[2] = {a, b};
    std::span<Tensor> out(&product, 1);
    KernelContext one{kc.op, std::span<const Tensor>(operands, 2), kc.attrs, kc.specs, out};
    matmul(one);
    const Tensor sum_in[1] = {product};
    KernelContext add{kc.op, std::span<const Tensor>(sum_in, 1), kc.attrs, kc.specs, kc.outputs};
    add_addends(add, 0, m, n);
  }
}

void matmul_sum(KernelContext& kc) {
  const auto terms = static_cast<std::size_t>(kc.attrs.i("terms"));
  const bool ta = kc.attrs.b("transpose_a"), tb = kc.attrs.b("transpose_b");
  Tensor& c = kc.outputs[0];
  const DType dt = c.dtype();
  const std::size_t es = dtype_size(dt);
  const std::int64_t m = c.impl()->shape[0], n = c.impl()->shape[1];
  if (kc.attrs.has("pack") && !kc.attrs.b("pack")) {
    matmul_sum_accumulate(kc, terms, ta, tb, m, n);
    return;
  }
  std::vector<std::int64_t> off(terms + 1, 0);
  for (std::size_t i = 0; i < terms; ++i) {
    const Shape& as = kc.inputs[i].impl()->shape;
    off[i + 1] = off[i] + (ta ? as[0] : as[1]);
  }
  const std::int64_t k = off[terms];
  // A is (K, m) when transposed (term blocks are whole rows) or (m, K) (term blocks are column ranges);
  // likewise B is (n, K) or (K, n). Whole-row terms already back to back in memory, in term order (a
  // compiled step's memory plan lays them out so), are that matrix as they are: no packing.
  auto back_to_back = [&](std::size_t first) {
    const char* at = static_cast<const char*>(raw(kc.inputs[first]));
    for (std::size_t i = 0; i < terms; ++i) {
      const Tensor& t = kc.inputs[first + i];
      if (static_cast<const char*>(raw(t)) != at) return false;
      at += static_cast<std::size_t>(t.num_elements()) * es;
    }
    return true;
  };
  const bool a_in_place = ta && back_to_back(0), b_in_place = !tb && back_to_back(terms);
  const Shape a_shape = ta ? Shape{k, m} : Shape{m, k}, b_shape = tb ? Shape{n, k} : Shape{k, n};
  Tensor a = a_in_place ? Tensor() : make_concrete(dt, a_shape);
  Tensor b = b_in_place ? Tensor() : make_concrete(dt, b_shape);
  char* ap = a_in_place ? nullptr : static_cast<char*>(raw(a));
  char* bp = b_in_place ? nullptr : static_cast<char*>(raw(b));
  auto pack = [&](char* dst, const char* src, bool rows_stacked, std::int64_t other, std::int64_t ki, std::int64_t o) {
    if (rows_stacked) {
      std::memcpy(dst + o * other * static_cast<std::int64_t>(es), src, static_cast<std::size_t>(ki * other) * es);
    } else {
      for (std::int64_t r = 0; r < other; ++r)
        std::memcpy(dst + (r * k + o) * static_cast<std::int64_t>(es), src + r * ki * static_cast<std::int64_t>(es),
                    static_cast<std::size_t>(ki) * es);
    }
  };
  // Packing is a copy: threads only when each one gets at least kParallelGrain elements.
  const std::int64_t per_term = std::max<std::int64_t>(1, (m + n) * (k / static_cast<std::int64_t>(terms)));
  parallel_for(static_cast<std::int64_t>(terms), std::max<std::int64_t>(1, kParallelGrain / per_term),
               [&](std::int64_t lo, std::int64_t hi) {
                 for (std::int64_t i = lo; i < hi; ++i) {
                   const auto ui = static_cast<std::size_t>(i);
                   const std::int64_t ki = off[ui + 1] - off[ui];
                   if (!a_in_place) pack(ap, static_cast<const char*>(raw(kc.inputs[ui])), ta, m, ki, off[ui]);
                   if (!b_in_place) pack(bp, static_cast<const char*>(raw(kc.inputs[terms + ui])), !tb, n, ki, off[ui]);
                 }
               });
  // In place: the first term's buffer (the plan's arena) seen as the whole stacked matrix.
  if (a_in_place) a = make_view(kc.inputs[0], a_shape);
  if (b_in_place) b = make_view(kc.inputs[terms], b_shape);
  const Tensor packed[2] = {a, b};
  KernelContext one{kc.op, std::span<const Tensor>(packed, 2), kc.attrs, kc.specs, kc.outputs};
  matmul(one);
  add_addends(kc, 2 * terms, m, n);
}

}  // namespace duet::kernels
