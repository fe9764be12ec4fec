// softmax/log_softmax (stable), fused cross-entropies, bias_add, dropout.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/elementwise_fns.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/philox.h"
#include "kernels/vmath.h"

namespace duet::kernels {
namespace {

struct Axis {
  std::int64_t outer, n, inner;
};
Axis split_at(const Shape& s, int axis) {
  Axis a{1, s[axis], 1};
  for (int d = 0; d < axis; ++d) a.outer *= s[d];
  for (int d = axis + 1; d < s.rank(); ++d) a.inner *= s[d];
  return a;
}

// tmp[j] = exp(x[j*st] - m) with m the row max; returns sum(tmp) and sets *max_out = m. Subtracting the max
// keeps exp from overflowing (rows that are all -inf use m = 0 and get the IEEE result). A row whose max is
// +inf takes the limit as those entries grow: tmp is 1 at each +inf entry and 0 elsewhere, so softmax shares
// 1 among them (softmax([inf, 1, 2]) = [1, 0, 0], not [nan, 0, 0]); NaN entries stay NaN.
template <class T>
T shifted_exp_sum(const T* x, std::int64_t n, std::int64_t st, T* tmp, T* max_out) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t j = 0; j < n; ++j) m = x[j * st] > m ? x[j * st] : m;
  if (m == std::numeric_limits<T>::infinity()) {
    T s = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const T v = x[j * st];
      tmp[j] = v != v ? v : T(v == m);
      s += tmp[j];
    }
    *max_out = m;
    return s;
  }
  if (!std::isfinite(m)) m = T(0);
  for (std::int64_t j = 0; j < n; ++j) tmp[j] = x[j * st] - m;
  vmath::apply(vmath::Fn::Exp, tmp, tmp, n);
  T s = 0;
  for (std::int64_t j = 0; j < n; ++j) s += tmp[j];
  *max_out = m;
  return s;
}

// One softmax row of n elements at stride `st`. tmp holds n values.
template <class T>
void softmax_row(const T* x, T* y, std::int64_t n, std::int64_t st, bool log_out, T* tmp) {
  T m;
  T s = shifted_exp_sum(x, n, st, tmp, &m);
  if (log_out && m == std::numeric_limits<T>::infinity()) {
    T ls = std::log(s);  // the limit: -log(k) at the k entries that are +inf, -inf elsewhere
    for (std::int64_t j = 0; j < n; ++j)
      y[j * st] = tmp[j] > 0 ? -ls : tmp[j] == 0 ? -std::numeric_limits<T>::infinity() : tmp[j];
  } else if (log_out) {
    T ls = std::log(s);
    for (std::int64_t j = 0; j < n; ++j) y[j * st] = x[j * st] - m - ls;
  } else {
    T inv = T(1) / s;
    for (std::int64_t j = 0; j < n; ++j) y[j * st] = tmp[j] * inv;
  }
}

template <class T>
void softmax_impl(const Tensor& xt, Tensor& yt, int axis, bool log_out) {
  Axis a = split_at(xt.shape(), axis);
  const T* x = ptr<T>(xt);
  T* y = ptr<T>(yt);
  parallel_for(a.outer * a.inner, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(a.n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 std::vector<T> tmp(static_cast<std::size_t>(a.n));
                 for (std::int64_t r = b; r < e; ++r) {
                   std::int64_t o = r / a.inner, i = r % a.inner;
                   std::int64_t off = o * a.n * a.inner + i;
                   softmax_row<T>(x + off, y + off, a.n, a.inner, log_out, tmp.data());
                 }
               });
}

// log(sum(exp(row))) computed stably.
template <class T>
T logsumexp(const T* x, std::int64_t n, T* tmp) {
  T m;
  T s = shifted_exp_sum(x, n, std::int64_t{1}, tmp, &m);
  return m + std::log(s);
}

}  // namespace

void softmax(KernelContext& k) {
  int axis = static_cast<int>(k.attrs.i("axis"));
  if (k.inputs[0].dtype() == DType::Float32)
    softmax_impl<float>(k.inputs[0], k.outputs[0], axis, false);
  else
    softmax_impl<double>(k.inputs[0], k.outputs[0], axis, false);
}

void log_softmax(KernelContext& k) {
  int axis = static_cast<int>(k.attrs.i("axis"));
  if (k.inputs[0].dtype() == DType::Float32)
    softmax_impl<float>(k.inputs[0], k.outputs[0], axis, true);
  else
    softmax_impl<double>(k.inputs[0], k.outputs[0], axis, true);
}

// loss[r] = logsumexp(logits[r]) - logits[r, label[r]]
void sparse_softmax_cross_entropy(KernelContext& k) {
  const Tensor& labels = k.inputs[0];
  const Tensor& logits = k.inputs[1];
  const std::int64_t C = logits.shape()[logits.rank() - 1];
  const std::int64_t rows = labels.num_elements();
  std::vector<std::int64_t> lab(static_cast<std::size_t>(rows));
  convert_elements(raw(labels), labels.dtype(), lab.data(), DType::Int64, rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    if (lab[r] < 0 || lab[r] >= C) {
      throw ValueError("[sparse_softmax_cross_entropy_with_logits] label " + std::to_string(lab[r]) + " at position " +
                       std::to_string(r) + " is outside [0, " + std::to_string(C) + ") for logits of shape " +
                       logits.shape().str());
    }
  }
  visit_dtype(logits.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* x = ptr<T>(logits);
      T* loss = ptr<T>(k.outputs[0]);
      parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(C, 1)),
                   [&](std::int64_t b, std::int64_t e) {
                     std::vector<T> tmp(static_cast<std::size_t>(C));
                     for (std::int64_t r = b; r < e; ++r)
                       loss[r] = logsumexp(x + r * C, C, tmp.data()) - x[r * C + lab[r]];
                   });
    }
  });
}

// loss[r] = -sum_j labels[r, j] * (logits[r, j] - logsumexp(logits[r]))
void softmax_cross_entropy(KernelContext& k) {
  const Tensor& labels = k.inputs[0];
  const Tensor& logits = k.inputs[1];
  const std::int64_t C = logits.shape()[logits.rank() - 1];
  const std::int64_t rows = k.outputs[0].num_elements();
  visit_dtype(logits.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* x = ptr<T>(logits);
      const T* l = ptr<T>(labels);
      T* loss = ptr<T>(k.outputs[0]);
      parallel_for(rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(C, 1)),
                   [&](std::int64_t b, std::int64_t e) {
                     std::vector<T> tmp(static_cast<std::size_t>(C));
                     for (std::int64_t r = b; r < e; ++r) {
                       T lse = logsumexp(x + r * C, C, tmp.data());
                       T s = 0;
                       for (std::int64_t j = 0; j < C; ++j) s -= l[r * C + j] * (x[r * C + j] - lse);
                       loss[r] = s;
                     }
                   });
    }
  });
}

void bias_add(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const std::int64_t C = k.inputs[1].num_elements();
  const std::int64_t rows = C ? x.num_elements() / C : 0;
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    const T* pb = ptr<T>(k.inputs[1]);
    T* py = ptr<T>(k.outputs[0]);
    parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(C, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t r = b; r < e; ++r)
                     for (std::int64_t c = 0; c < C; ++c) py[r * C + c] = px[r * C + c] + pb[c];
                 });
  });
}

// Batch normalization over rows of C channels (every axis but the last). Per-channel sums go through double
// accumulators, one per block of rows, combined in block order. The blocks depend only on the shape, so the
// statistics are the same whatever the thread count (which adapts to the machine's load).
namespace {

template <class F>
std::vector<double> channel_sums(std::int64_t rows, std::int64_t C, int sums, F&& row_fn) {
  const int nt = static_cast<int>(std::clamp<std::int64_t>(rows / 64 + 1, 1, 16));
  std::vector<double> part(static_cast<std::size_t>(nt * sums * C), 0.0);
  parallel_for(nt, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = rows * t / nt, e = rows * (t + 1) / nt;
      double* acc = part.data() + t * sums * C;
      for (std::int64_t r = b; r < e; ++r) row_fn(r, acc);
    }
  });
  std::vector<double> total(static_cast<std::size_t>(sums * C), 0.0);
  for (int t = 0; t < nt; ++t)
    for (std::size_t i = 0; i < total.size(); ++i) total[i] += part[static_cast<std::size_t>(t) * total.size() + i];
  return total;
}

}  // namespace

// (x, gamma, beta; epsilon) -> (y, mean, variance): batch statistics (variance biased), y normalized, and
// with Relu, max(y, 0) (FusedBatchNormRelu: the relu in the same pass over the output).
template <bool Relu>
void batch_norm_kernel(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const std::int64_t C = k.inputs[1].num_elements();
  const std::int64_t rows = C ? x.num_elements() / C : 0;
  const double eps = k.attrs.f("epsilon");
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = ptr<T>(x);
      const T* g = ptr<T>(k.inputs[1]);
      const T* bt = ptr<T>(k.inputs[2]);
      T* py = ptr<T>(k.outputs[0]);
      T* pm = ptr<T>(k.outputs[1]);
      T* pv = ptr<T>(k.outputs[2]);
      const double n = static_cast<double>(std::max<std::int64_t>(rows, 1));
      auto s1 = channel_sums(rows, C, 1, [&](std::int64_t r, double* acc) {
        const T* xr = px + r * C;
        for (std::int64_t c = 0; c < C; ++c) acc[c] += xr[c];
      });
      std::vector<T> mean(static_cast<std::size_t>(C));
      for (std::int64_t c = 0; c < C; ++c)
        mean[static_cast<std::size_t>(c)] = static_cast<T>(s1[static_cast<std::size_t>(c)] / n);
      auto s2 = channel_sums(rows, C, 1, [&](std::int64_t r, double* acc) {
        const T* xr = px + r * C;
        for (std::int64_t c = 0; c < C; ++c) {
          const double d = static_cast<double>(xr[c] - mean[static_cast<std::size_t>(c)]);
          acc[c] += d * d;
        }
      });
      std::vector<T> scale(static_cast<std::size_t>(C)), shift(static_cast<std::size_t>(C));
      for (std::int64_t c = 0; c < C; ++c) {
        const auto uc = static_cast<std::size_t>(c);
        const double var = s2[uc] / n;
        pm[c] = mean[uc];
        pv[c] = static_cast<T>(var);
        const double inv = 1.0 / std::sqrt(var + eps);
        scale[uc] = static_cast<T>(g[c] * inv);
        shift[uc] = static_cast<T>(bt[c] - mean[uc] * g[c] * inv);
      }
      parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(C, 1)),
                   [&](std::int64_t b, std::int64_t e) {
                     for (std::int64_t r = b; r < e; ++r) {
                       const T* xr = px + r * C;
                       T* yr = py + r * C;
                       for (std::int64_t c = 0; c < C; ++c) {
                         const T v = xr[c] * scale[static_cast<std::size_t>(c)] + shift[static_cast<std::size_t>(c)];
                         yr[c] = Relu ? fn::Relu{}(v) : v;  // relu's own rule (NaN stays, -0 becomes 0)
                       }
                     }
                   });
    }
  });
}

void fused_batch_norm(KernelContext& k) { batch_norm_kernel<false>(k); }
void fused_batch_norm_relu(KernelContext& k) { batch_norm_kernel<true>(k); }

// (dy, x, mean, variance, gamma, dmean, dvariance; epsilon) -> (dx, dgamma, dbeta). With xhat the normalized
// x and dxhat = dy * gamma: dbeta = sum dy, dgamma = sum dy * xhat,
// dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) + dmean / N + dvariance * 2 (x - mean) / N.
void fused_batch_norm_grad(KernelContext& k) {
  const Tensor& dy = k.inputs[0];
  const Tensor& x = k.inputs[1];
  const std::int64_t C = k.inputs[2].num_elements();
  const std::int64_t rows = C ? x.num_elements() / C : 0;
  const double eps = k.attrs.f("epsilon");
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* pdy = ptr<T>(dy);
      const T* px = ptr<T>(x);
      const T* pm = ptr<T>(k.inputs[2]);
      const T* pv = ptr<T>(k.inputs[3]);
      const T* g = ptr<T>(k.inputs[4]);
      const T* dmean = ptr<T>(k.inputs[5]);
      const T* dvar = ptr<T>(k.inputs[6]);
      T* pdx = ptr<T>(k.outputs[0]);
      T* pdg = ptr<T>(k.outputs[1]);
      T* pdb = ptr<T>(k.outputs[2]);
      std::vector<T> inv(static_cast<std::size_t>(C));
      for (std::int64_t c = 0; c < C; ++c)
        inv[static_cast<std::size_t>(c)] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(pv[c]) + eps));
      auto s = channel_sums(rows, C, 2, [&](std::int64_t r, double* acc) {
        const T* xr = px + r * C;
        const T* dr = pdy + r * C;
        for (std::int64_t c = 0; c < C; ++c) {
          acc[c] += dr[c];
          acc[C + c] +=
              static_cast<double>(dr[c]) * static_cast<double>((xr[c] - pm[c]) * inv[static_cast<std::size_t>(c)]);
        }
      });
      const double n = static_cast<double>(std::max<std::int64_t>(rows, 1));
      std::vector<T> a(static_cast<std::size_t>(C)), b(static_cast<std::size_t>(C)), d(static_cast<std::size_t>(C)),
          e(static_cast<std::size_t>(C));
      for (std::int64_t c = 0; c < C; ++c) {
        const auto uc = static_cast<std::size_t>(c);
        pdb[c] = static_cast<T>(s[uc]);
        pdg[c] = static_cast<T>(s[static_cast<std::size_t>(C) + uc]);
        // dx = dy * (gamma * inv) - xhat * (inv * gamma * mean(dy * xhat)) - inv * gamma * mean(dy) + terms
        a[uc] = static_cast<T>(g[c] * inv[uc]);                                            // times dy
        b[uc] = static_cast<T>(g[c] * inv[uc] * s[static_cast<std::size_t>(C) + uc] / n);  // times xhat
        d[uc] = static_cast<T>(-g[c] * inv[uc] * s[uc] / n + dmean[c] / n);                // constant
        e[uc] = static_cast<T>(2.0 * dvar[c] / n);                                         // times (x - mean)
      }
      parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(C, 1)),
                   [&](std::int64_t rb, std::int64_t re) {
                     for (std::int64_t r = rb; r < re; ++r) {
                       const T* xr = px + r * C;
                       const T* dr = pdy + r * C;
                       T* out = pdx + r * C;
                       for (std::int64_t c = 0; c < C; ++c) {
                         const auto uc = static_cast<std::size_t>(c);
                         const T xc = xr[c] - pm[c];
                         out[c] = dr[c] * a[uc] - xc * inv[uc] * b[uc] + d[uc] + xc * e[uc];
                       }
                     }
                   });
    }
  });
}

// Keeps an element when its uniform draw is >= rate; outputs (y, scale) with scale 0 or 1/(1-rate).
void dropout(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& r = k.inputs[1];
  const double rate = r.dtype() == DType::Float32 ? double(*ptr<float>(r)) : *ptr<double>(r);
  if (!(rate >= 0 && rate < 1)) {  // a value read at run time, so checked here
    throw ValueError("[dropout] rate must be in [0, 1), got " + std::to_string(rate) + " (input of shape " +
                     x.shape().str() + ")");
  }
  std::array<std::uint32_t, 2> key;
  std::uint64_t stream;
  random_key_for(k.attrs, key, stream);
  const std::int64_t n = x.num_elements();
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = ptr<T>(x);
      T* py = ptr<T>(k.outputs[0]);
      T* pm = ptr<T>(k.outputs[1]);
      const T scale = static_cast<T>(1.0 / (1.0 - rate));
      const std::uint32_t threshold = static_cast<std::uint32_t>(std::min(rate * 4294967296.0, 4294967295.0));
      parallel_for((n + 3) / 4, 1 << 12, [&](std::int64_t b, std::int64_t e) {
        constexpr std::int64_t kChunk = 256;  // blocks drawn at once (4 KiB of random words)
        std::uint32_t bits[4 * kChunk];
        for (std::int64_t c = b; c < e; c += kChunk) {
          const std::int64_t blocks = std::min(kChunk, e - c);
          philox4x32_blocks(key, stream, static_cast<std::uint64_t>(c), blocks, bits);
          const std::int64_t i0 = 4 * c, i1 = std::min(4 * (c + blocks), n);
          for (std::int64_t i = i0; i < i1; ++i) {
            pm[i] = bits[i - i0] >= threshold ? scale : T(0);
            py[i] = px[i] * pm[i];
          }
        }
      });
    }
  });
}

}  // namespace duet::kernels
