#include <algorithm>
#include <cstring>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/broadcast.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace duet::kernels {
namespace {

std::int64_t prod_dims(const Shape& s, int b, int e) {
  std::int64_t n = 1;
  for (int d = b; d < e; ++d) n *= s[d];
  return n;
}

char* bytes(const Tensor& t) { return static_cast<char*>(raw(t)); }

// Copies the box `size` at offset `begin` of src into dst (both row-major), or the reverse when scatter.
void copy_box(const Tensor& src, const Tensor& dst, const std::vector<std::int64_t>& begin, bool scatter) {
  const Shape& big = scatter ? dst.shape() : src.shape();
  const Shape& box = scatter ? src.shape() : dst.shape();
  const int r = big.rank();
  const std::size_t es = dtype_size(src.dtype());
  if (box.num_elements() == 0) return;
  if (r == 0) {
    std::memcpy(bytes(dst), bytes(src), es);
    return;
  }
  std::vector<std::int64_t> bstride(r);
  std::int64_t s = 1;
  for (int d = r - 1; d >= 0; --d) {
    bstride[d] = s;
    s *= big[d];
  }
  // One memcpy per run of contiguous elements: the trailing dims the box covers whole, and the dim before
  // them (a batch of rows of (N, 28, 28, 1) images is one run, not N * 28 * 28 runs of one element).
  int k = r - 1;
  while (k > 0 && box[k] == big[k]) --k;
  std::int64_t inner = box[k];
  for (int d = k + 1; d < r; ++d) inner *= big[d];
  const std::int64_t rows = box.num_elements() / inner;
  parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(inner, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 std::vector<std::int64_t> idx(r, 0);
                 for (std::int64_t row = b; row < e; ++row) {
                   std::int64_t rem = row, off = begin[k] * bstride[k];
                   for (int d = k - 1; d >= 0; --d) {
                     idx[d] = rem % box[d];
                     rem /= box[d];
                     off += (idx[d] + begin[d]) * bstride[d];
                   }
                   char* big_p = (scatter ? bytes(dst) : bytes(src)) + off * es;
                   char* box_p = (scatter ? bytes(src) : bytes(dst)) + row * inner * es;
                   if (scatter)
                     std::memcpy(big_p, box_p, inner * es);
                   else
                     std::memcpy(box_p, big_p, inner * es);
                 }
               });
}

}  // namespace

void reshape(KernelContext& k) { k.outputs[0] = make_view(k.inputs[0], k.specs[0].shape); }

void transpose(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Tensor& y = k.outputs[0];
  const auto& perm = k.attrs.ints("perm");
  const int r = x.rank();
  const std::size_t es = dtype_size(x.dtype());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  std::vector<std::int64_t> xs(r);
  std::int64_t s = 1;
  for (int d = r - 1; d >= 0; --d) {
    xs[d] = s;
    s *= x.shape()[d];
  }
  // Input stride of each output dim.
  std::vector<std::int64_t> st(r);
  for (int d = 0; d < r; ++d) st[d] = xs[perm[d]];
  const Shape& ys = y.shape();
  const std::int64_t inner = r ? ys[r - 1] : 1;
  const std::int64_t istride = r ? st[r - 1] : 1;
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    T* py = ptr<T>(y);
    parallel_for(n / inner, std::max<std::int64_t>(1, kParallelGrain / inner), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t row = b; row < e; ++row) {
        std::int64_t rem = row, off = 0;
        for (int d = r - 2; d >= 0; --d) {
          off += (rem % ys[d]) * st[d];
          rem /= ys[d];
        }
        T* out = py + row * inner;
        const T* in = px + off;
        for (std::int64_t i = 0; i < inner; ++i) out[i] = in[i * istride];
      }
    });
  });
  (void)es;
}

void concat(KernelContext& k) {
  Tensor& y = k.outputs[0];
  const int axis = static_cast<int>(k.attrs.i("axis"));
  const std::size_t es = dtype_size(y.dtype());
  const std::int64_t outer = prod_dims(y.shape(), 0, axis);
  const std::int64_t inner = prod_dims(y.shape(), axis + 1, y.rank());
  const std::int64_t yrow = y.shape()[axis] * inner;
  std::int64_t at = 0;
  for (const Tensor& x : k.inputs) {
    const std::int64_t xrow = x.shape()[axis] * inner;
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(bytes(y) + (o * yrow + at) * es, bytes(x) + o * xrow * es, xrow * es);
    at += xrow;
  }
}

void split(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const int axis = static_cast<int>(k.attrs.i("axis"));
  const std::size_t es = dtype_size(x.dtype());
  const std::int64_t outer = prod_dims(x.shape(), 0, axis);
  const std::int64_t inner = prod_dims(x.shape(), axis + 1, x.rank());
  const std::int64_t xrow = x.shape()[axis] * inner;
  std::int64_t at = 0;
  for (Tensor& y : k.outputs) {
    const std::int64_t yrow = y.shape()[axis] * inner;
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(bytes(y) + o * yrow * es, bytes(x) + (o * xrow + at) * es, yrow * es);
    at += yrow;
  }
}

void split_view(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  std::int64_t at = 0;
  for (std::size_t t = 0; t < k.outputs.size(); ++t) {
    const Shape& s = k.specs[t].shape;
    const std::int64_t n = s.num_elements();
    k.outputs[t] = make_flat_view(x, at, n);
    k.outputs[t].impl()->shape = s;  // one handle per part, not a flat view and a reshape of it
    at += n;
  }
}

void slice(KernelContext& k) { copy_box(k.inputs[0], k.outputs[0], k.attrs.ints("begin"), false); }

void pad_like(KernelContext& k) {
  Tensor& y = k.outputs[0];
  std::memset(raw(y), 0, static_cast<std::size_t>(y.num_elements()) * dtype_size(y.dtype()));
  copy_box(k.inputs[0], y, k.attrs.ints("begin"), true);
}

void pad(KernelContext& k) {
  Tensor& y = k.outputs[0];
  const double v = k.attrs.f("constant_value");
  if (v == 0) {
    std::memset(raw(y), 0, static_cast<std::size_t>(y.num_elements()) * dtype_size(y.dtype()));
  } else {
    visit_dtype(y.dtype(), [&](auto z) {
      using T = decltype(z);
      std::fill(ptr<T>(y), ptr<T>(y) + y.num_elements(), static_cast<T>(v));
    });
  }
  const auto& p = k.attrs.ints("paddings");
  std::vector<std::int64_t> begin;
  for (std::size_t d = 0; d < p.size(); d += 2) begin.push_back(p[d]);
  copy_box(k.inputs[0], y, begin, true);
}

void gather(KernelContext& k) {
  const Tensor& p = k.inputs[0];
  const Tensor& idx = k.inputs[1];
  Tensor& y = k.outputs[0];
  const int axis = static_cast<int>(k.attrs.i("axis"));
  const std::int64_t outer = prod_dims(p.shape(), 0, axis);
  const std::int64_t inner = prod_dims(p.shape(), axis + 1, p.rank());
  const std::int64_t n = p.shape()[axis];
  const std::int64_t ni = idx.num_elements();
  std::vector<std::int64_t> ix(static_cast<std::size_t>(ni));
  convert_elements(raw(idx), idx.dtype(), ix.data(), DType::Int64, ni);
  for (std::int64_t i = 0; i < ni; ++i) {
    if (ix[i] < 0 || ix[i] >= n) {
      throw ValueError("[gather] index " + std::to_string(ix[i]) + " is out of range [0, " + std::to_string(n) +
                       ") for axis " + std::to_string(axis) + " of params " + p.shape().str());
    }
  }
  const std::size_t es = dtype_size(p.dtype());
  parallel_for(outer * ni, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(inner, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t t = b; t < e; ++t) {
                   std::int64_t o = t / ni, j = t % ni;
                   std::memcpy(bytes(y) + t * inner * es, bytes(p) + (o * n + ix[j]) * inner * es, inner * es);
                 }
               });
}

void scatter_add_like(KernelContext& k) {
  const Tensor& u = k.inputs[0];
  const Tensor& idx = k.inputs[1];
  Tensor& y = k.outputs[0];
  const int axis = static_cast<int>(k.attrs.i("axis"));
  const Shape& ys = y.shape();
  const std::int64_t outer = prod_dims(ys, 0, axis);
  const std::int64_t inner = prod_dims(ys, axis + 1, ys.rank());
  const std::int64_t n = ys[axis];
  const std::int64_t ni = idx.num_elements();
  std::vector<std::int64_t> ix(static_cast<std::size_t>(ni));
  convert_elements(raw(idx), idx.dtype(), ix.data(), DType::Int64, ni);
  for (std::int64_t i = 0; i < ni; ++i) {
    if (ix[i] < 0 || ix[i] >= n) {
      throw ValueError("[scatter_add_like] index " + std::to_string(ix[i]) + " is out of range [0, " +
                       std::to_string(n) + ")");
    }
  }
  visit_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    T* py = ptr<T>(y);
    const T* pu = ptr<T>(u);
    std::memset(py, 0, static_cast<std::size_t>(y.num_elements()) * sizeof(T));
    // Threads own disjoint outer slices, so repeated indices never race.
    parallel_for(outer, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(ni * inner, 1)),
                 [&](std::int64_t b, std::int64_t e) {
                   for (std::int64_t o = b; o < e; ++o)
                     for (std::int64_t j = 0; j < ni; ++j) {
                       T* dst = py + (o * n + ix[j]) * inner;
                       const T* src = pu + (o * ni + j) * inner;
                       for (std::int64_t i = 0; i < inner; ++i) dst[i] += src[i];
                     }
                 });
  });
}

void one_hot(KernelContext& k) {
  const Tensor& idx = k.inputs[0];
  Tensor& y = k.outputs[0];
  const std::int64_t depth = k.attrs.i("depth");
  const std::int64_t ni = idx.num_elements();
  std::vector<std::int64_t> ix(static_cast<std::size_t>(ni));
  convert_elements(raw(idx), idx.dtype(), ix.data(), DType::Int64, ni);
  const double on = k.attrs.f("on_value"), off = k.attrs.f("off_value");
  visit_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    T* py = ptr<T>(y);
    const T von = static_cast<T>(on), voff = static_cast<T>(off);
    for (std::int64_t i = 0; i < ni; ++i)
      for (std::int64_t d = 0; d < depth; ++d) py[i * depth + d] = (ix[i] == d) ? von : voff;  // out of range: all off
  });
}

void broadcast(KernelContext& k) { broadcast_copy(k.inputs[0], k.outputs[0]); }

void broadcast_copy(const Tensor& x, Tensor& y) {
  const Shape* ins[1] = {&x.shape()};
  BroadcastPlan p = make_broadcast_plan(y.shape(), ins, 1);
  const std::int64_t sx = p.strides[0][p.rank - 1];
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    T* py = ptr<T>(y);
    for_each_row(p, [&](std::int64_t o, const std::int64_t* off, std::int64_t len) {
      if (sx)
        std::memcpy(py + o, px + off[0], len * sizeof(T));
      else
        for (std::int64_t i = 0; i < len; ++i) py[o + i] = px[off[0]];
    });
  });
}

}  // namespace duet::kernels
