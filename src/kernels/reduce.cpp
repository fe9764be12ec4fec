// Reductions. Dims are merged into alternating kept/reduced runs, so the inner loop is either a
// contiguous reduction (16 independent lanes, vectorized) or a contiguous accumulate into the output.
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace duet::kernels {
namespace {

struct Runs {
  std::vector<std::int64_t> dims;
  std::vector<bool> reduced;
};

Runs merge_runs(const Shape& s, const std::vector<bool>& red) {
  Runs r;
  for (int d = 0; d < s.rank(); ++d) {
    if (s[d] == 1) continue;
    if (!r.dims.empty() && r.reduced.back() == red[d]) {
      r.dims.back() *= s[d];
    } else {
      r.dims.push_back(s[d]);
      r.reduced.push_back(red[d]);
    }
  }
  return r;
}

template <class T>
struct SumOp {
  static T init() { return T(0); }
  static T combine(T a, T b) { return a + b; }
};
template <class T>
struct ProdOp {
  static T init() { return T(1); }
  static T combine(T a, T b) { return a * b; }
};
template <class T>
struct MaxOp {
  static T init() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  static T combine(T a, T b) { return (a >= b || a != a) ? a : b; }
};
template <class T>
struct MinOp {
  static T init() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  static T combine(T a, T b) { return (a <= b || a != a) ? a : b; }
};

// Reduce a contiguous run of n elements with 16 independent lanes (vectorizes without reassociation).
template <class T, class Op>
T reduce_contiguous(const T* x, std::int64_t n) {
  constexpr int L = 16;
  T acc[L];
  for (int j = 0; j < L; ++j) acc[j] = Op::init();
  std::int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) acc[j] = Op::combine(acc[j], x[i + j]);
  T r = Op::init();
  for (int j = 0; j < L; ++j) r = Op::combine(r, acc[j]);
  for (; i < n; ++i) r = Op::combine(r, x[i]);
  return r;
}

// Recursive walk over runs [d, end). in_stride/out_stride are the element strides of each run.
template <class T, class Op>
void walk(const Runs& r, const std::vector<std::int64_t>& is, const std::vector<std::int64_t>& os, std::size_t d,
          const T* x, T* y) {
  const std::int64_t n = r.dims[d];
  if (d + 1 == r.dims.size()) {
    if (r.reduced[d]) {
      *y = Op::combine(*y, reduce_contiguous<T, Op>(x, n));
    } else {
      for (std::int64_t i = 0; i < n; ++i) y[i] = Op::combine(y[i], x[i]);
    }
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) walk<T, Op>(r, is, os, d + 1, x + i * is[d], y + (r.reduced[d] ? 0 : i * os[d]));
}

template <class T, class Op>
void reduce_into(const Tensor& xt, const std::vector<bool>& red, Tensor& yt) {
  const T* x = ptr<T>(xt);
  T* y = ptr<T>(yt);
  const std::int64_t ny = yt.num_elements();
  for (std::int64_t i = 0; i < ny; ++i) y[i] = Op::init();
  if (xt.num_elements() == 0) return;
  Runs r = merge_runs(xt.shape(), red);
  if (r.dims.empty()) {  // every dim is 1
    y[0] = Op::combine(y[0], x[0]);
    return;
  }
  const std::size_t m = r.dims.size();
  std::vector<std::int64_t> is(m), os(m);
  std::int64_t s = 1, o = 1;
  for (std::size_t d = m; d-- > 0;) {
    is[d] = s;
    s *= r.dims[d];
    os[d] = o;
    if (!r.reduced[d]) o *= r.dims[d];
  }
  const std::int64_t n0 = r.dims[0];
  const std::int64_t work = xt.num_elements();
  if (m == 2 && r.reduced[0] && r.dims[1] <= 4096) {
    // Many rows down to one short row (a bias gradient: N*H*W rows of C channels): each thread combines
    // its rows into a private accumulator in one flat loop (no call per row), then the accumulators meet.
    const std::int64_t cols = r.dims[1];
    std::mutex mu;
    parallel_for(n0, std::max<std::int64_t>(1, kParallelGrain / cols), [&](std::int64_t b, std::int64_t e) {
      std::vector<T> acc(static_cast<std::size_t>(cols), Op::init());
      T* __restrict a = acc.data();
      for (std::int64_t i = b; i < e; ++i) {
        const T* __restrict row = x + i * cols;
        for (std::int64_t c = 0; c < cols; ++c) a[c] = Op::combine(a[c], row[c]);
      }
      std::lock_guard<std::mutex> lock(mu);
      for (std::int64_t c = 0; c < cols; ++c) y[c] = Op::combine(y[c], a[c]);
    });
    return;
  }
  if (!r.reduced[0] && m > 1) {
    // Outermost run is kept: threads own disjoint slices of the output.
    parallel_for(n0, std::max<std::int64_t>(1, kParallelGrain * n0 / std::max<std::int64_t>(work, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t i = b; i < e; ++i) walk<T, Op>(r, is, os, 1, x + i * is[0], y + i * os[0]);
                 });
  } else if (r.reduced[0] && work >= 2 * kParallelGrain && num_threads() > 1 && ny <= (1 << 20)) {
    // Outermost run is reduced: each thread reduces a share into a private output, then they combine.
    int nt = num_threads();
    std::vector<std::vector<T>> part(nt, std::vector<T>(ny, Op::init()));
    parallel_for(n0, 1, [&](std::int64_t b, std::int64_t e) {
      T* py = part[omp_get_thread_num()].data();
      if (m == 1) {
        *py = Op::combine(*py, reduce_contiguous<T, Op>(x + b, e - b));
        return;
      }
      for (std::int64_t i = b; i < e; ++i) walk<T, Op>(r, is, os, 1, x + i * is[0], py);
    });
    for (auto& p : part)
      for (std::int64_t i = 0; i < ny; ++i) y[i] = Op::combine(y[i], p[i]);
  } else {
    walk<T, Op>(r, is, os, 0, x, y);
  }
}

std::vector<bool> reduced_mask(int rank, const std::vector<std::int64_t>& axes) {
  std::vector<bool> red(rank, false);
  for (auto a : axes) red[a] = true;
  return red;
}

template <template <class> class Op>
void reduce_kernel(KernelContext& k) {
  auto red = reduced_mask(k.inputs[0].rank(), k.attrs.ints("axes"));
  visit_dtype(k.inputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    reduce_into<T, Op<T>>(k.inputs[0], red, k.outputs[0]);
  });
}

template <bool kMax>
void arg_kernel(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const int axis = static_cast<int>(k.attrs.i("axis"));
  std::int64_t outer = 1, inner = 1, n = x.shape()[axis];
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
  std::int64_t* y = ptr<std::int64_t>(k.outputs[0]);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    parallel_for(outer * inner, kParallelGrain / std::max<std::int64_t>(n, 1) + 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t oi = b; oi < e; ++oi) {
        std::int64_t o = oi / inner, i = oi % inner;
        const T* base = px + o * n * inner + i;
        std::int64_t best = 0;
        T bv = base[0];
        for (std::int64_t j = 1; j < n; ++j) {
          T v = base[j * inner];
          if (bv != bv) break;  // NaN wins, first occurrence
          if (kMax ? (v > bv || v != v) : (v < bv || v != v)) {
            bv = v;
            best = j;
          }
        }
        y[oi] = best;
      }
    });
  });
}

}  // namespace

void reduce_sum(KernelContext& k) { reduce_kernel<SumOp>(k); }
void reduce_prod(KernelContext& k) { reduce_kernel<ProdOp>(k); }
void reduce_max(KernelContext& k) { reduce_kernel<MaxOp>(k); }
void reduce_min(KernelContext& k) { reduce_kernel<MinOp>(k); }

void reduce_mean(KernelContext& k) {
  reduce_kernel<SumOp>(k);
  std::int64_t count = 1;
  for (auto a : k.attrs.ints("axes")) count *= k.inputs[0].shape()[static_cast<int>(a)];
  visit_dtype(k.outputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    T* y = ptr<T>(k.outputs[0]);
    const std::int64_t ny = k.outputs[0].num_elements();
    if (count == 0) {  // the mean of nothing is NaN (as in NumPy); integers get 0
      for (std::int64_t i = 0; i < ny; ++i)
        y[i] = std::is_floating_point_v<T> ? std::numeric_limits<T>::quiet_NaN() : T(0);
      return;
    }
    for (std::int64_t i = 0; i < ny; ++i) y[i] = static_cast<T>(y[i] / static_cast<T>(count));
  });
}

namespace {

// Running sums/products along attr "axis": each of the outer x inner lines is scanned in order (reversed
// when "reverse"); "exclusive" leaves each element out of its own result (the first result is the identity).
template <template <class> class Op>
void scan_kernel(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const auto axis = static_cast<int>(k.attrs.i("axis"));
  const bool exclusive = k.attrs.b("exclusive"), reverse = k.attrs.b("reverse");
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
  const std::int64_t n = x.shape()[axis];
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* in = ptr<T>(x);
    T* out = ptr<T>(k.outputs[0]);
    parallel_for(outer * inner, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(n, 1)),
                 [&](std::int64_t l0, std::int64_t l1) {
                   for (std::int64_t l = l0; l < l1; ++l) {
                     const std::int64_t base = l / inner * n * inner + l % inner;
                     T acc = Op<T>::init();
                     for (std::int64_t j = 0; j < n; ++j) {
                       const std::int64_t at = base + (reverse ? n - 1 - j : j) * inner;
                       if (exclusive) {
                         out[at] = acc;
                         acc = Op<T>::combine(acc, in[at]);
                       } else {
                         acc = Op<T>::combine(acc, in[at]);
                         out[at] = acc;
                       }
                     }
                   }
                 });
  });
}

}  // namespace

void cumsum(KernelContext& k) { scan_kernel<SumOp>(k); }
void cumprod(KernelContext& k) { scan_kernel<ProdOp>(k); }

void arg_max(KernelContext& k) { arg_kernel<true>(k); }
void arg_min(KernelContext& k) { arg_kernel<false>(k); }

void size(KernelContext& k) {
  std::int64_t n = 1;
  for (auto a : k.attrs.ints("axes")) n *= k.inputs[0].shape()[static_cast<int>(a)];
  convert_elements(&n, DType::Int64, raw(k.outputs[0]), k.outputs[0].dtype(), 1);
}

// Sums x down to like's shape: leading extra dims and dims where like has 1 are reduced.
void sum_to(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Shape& target = k.inputs[1].shape();
  if (x.shape() == target) {
    k.outputs[0] = make_view(x, target);
    return;
  }
  std::vector<bool> red(x.rank(), false);
  const int lead = x.rank() - target.rank();
  for (int d = 0; d < x.rank(); ++d) red[d] = d < lead || (target[d - lead] == 1 && x.shape()[d] != 1);
  k.outputs[0] = make_concrete(x.dtype(), target);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    reduce_into<T, SumOp<T>>(x, red, k.outputs[0]);
  });
}

NonFinite count_nonfinite(const Tensor& t) {
  NonFinite r;
  visit_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* p = ptr<T>(t);
      for (std::int64_t i = 0, n = t.num_elements(); i < n; ++i) {
        if (std::isfinite(p[i])) continue;
        if (r.first < 0) r.first = i;
        (std::isnan(p[i]) ? r.nan : r.inf) += 1;
      }
    }
  });
  return r;
}

// Passes its input through, or throws naming the user's message.
void check_numerics(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  NonFinite bad = count_nonfinite(x);
  if (bad.nan + bad.inf > 0) {
    throw NumericsError("[check_numerics] " + k.attrs.s("message") + ": a " + dtype_name(x.dtype()) +
                        " tensor of shape " + x.shape().str() + " holds " + std::to_string(bad.nan) + " NaN and " +
                        std::to_string(bad.inf) + " infinite values (first at element " + std::to_string(bad.first) +
                        ")");
  }
  k.outputs[0] = make_view(x, x.shape());
}

}  // namespace duet::kernels
