// softmax/log_softmax (stable), fused cross-entropies, bias_add, dropout.
#include <cmath>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
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
        for (std::int64_t blk = b; blk < e; ++blk) {
          auto r = philox4x32(philox_counter(stream, static_cast<std::uint64_t>(blk)), key);
          for (int j = 0; j < 4 && blk * 4 + j < n; ++j) {
            std::int64_t i = blk * 4 + j;
            pm[i] = r[j] >= threshold ? scale : T(0);
            py[i] = px[i] * pm[i];
          }
        }
      });
    }
  });
}

}  // namespace duet::kernels
