// Max and average pooling over NHWC, vectorized along channels, and their gradients. Padded positions
// never win a max and are not counted in an average (TensorFlow's "same" semantics).
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/conv_geom.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace duet::kernels {

Conv2DGeom pool_geom(const Shape& x, const Attrs& a) {
  const auto& k = a.ints("pool_size");
  return conv_geom(x, k[0], k[1], x[3], a);
}

namespace {

// Calls f(n, oy, ox, y0, y1, x0, x1) for every output pixel with its clipped input window, split over
// threads by output rows, or by whole images when per_image (windows overlap when strides are smaller than
// the pool, so kernels that scatter into the input need each image on one thread).
template <class F>
void for_each_window(const Conv2DGeom& g, F f, bool per_image = false) {
  const std::int64_t oh = g.y.out, ow = g.x.out;
  auto rows = [&](std::int64_t b, std::int64_t e) {  // row r = n * oh + oy
    for (std::int64_t r = b; r < e; ++r) {
      std::int64_t n = r / oh, oy = r % oh;
      std::int64_t y0 = std::max<std::int64_t>(oy * g.sh - g.y.pad_before, 0);
      std::int64_t y1 = std::min<std::int64_t>(oy * g.sh - g.y.pad_before + g.kh, g.h);
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        std::int64_t x0 = std::max<std::int64_t>(ox * g.sw - g.x.pad_before, 0);
        std::int64_t x1 = std::min<std::int64_t>(ox * g.sw - g.x.pad_before + g.kw, g.w);
        f(n, oy, ox, y0, y1, x0, x1);
      }
    }
  };
  if (per_image) {
    parallel_for(g.n, 1, [&](std::int64_t nb, std::int64_t ne) { rows(nb * oh, ne * oh); });
  } else {
    parallel_for(g.n * oh, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(ow * g.c, 1)), rows);
  }
}

template <class T>
T lowest() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}

// Forward pooling: each output channel starts at `init`, combines every in-window input with `combine`,
// then `finish` sees the number of in-window elements.
template <class T, class Init, class Combine, class Finish>
void pool_forward(const Conv2DGeom& g, const T* px, T* py, Init init, Combine combine, Finish finish) {
  const std::int64_t C = g.c;
  for_each_window(g, [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1,
                         std::int64_t x0, std::int64_t x1) {
    T* out = py + ((n * g.y.out + oy) * g.x.out + ox) * C;
    for (std::int64_t c = 0; c < C; ++c) out[c] = init(T{});
    for (std::int64_t iy = y0; iy < y1; ++iy)
      for (std::int64_t ix = x0; ix < x1; ++ix) {
        const T* in = px + ((n * g.h + iy) * g.w + ix) * C;
        for (std::int64_t c = 0; c < C; ++c) out[c] = combine(out[c], in[c]);
      }
    const std::int64_t count = (y1 - y0) * (x1 - x0);
    for (std::int64_t c = 0; c < C; ++c) out[c] = finish(out[c], count);
  });
}
template <class Init, class Combine, class Finish>
void pool_forward(KernelContext& k, Init init, Combine combine, Finish finish) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    pool_forward<T>(g, ptr<T>(x), ptr<T>(k.outputs[0]), init, combine, finish);
  });
}

// NaN propagates through the max.
constexpr auto kMaxInit = [](auto z) { return lowest<decltype(z)>(); };
// Non-short-circuit | so the select vectorizes.
constexpr auto kMaxCombine = [](auto acc, auto v) { return ((v > acc) | (v != v)) ? v : acc; };
constexpr auto kMaxFinish = [](auto acc, std::int64_t) { return acc; };

// Lane masks of T's size, for branch-free selection (GCC vectorizes mask arithmetic where ?: on floats is not).
template <class T>
using MaskOf =
    std::conditional_t<sizeof(T) == 1, std::uint8_t, std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;

template <class T>
T select_bits(T v, MaskOf<T> mask) {
  return std::bit_cast<T>(static_cast<MaskOf<T>>(std::bit_cast<MaskOf<T>>(v) & mask));
}

// Both max-pool gradients route through one rule: a window's output takes the first input (in row-major
// window order) equal to the max, NaN matching NaN. Each window walks its positions in order with a per-channel
// `open` mask; f(o, i, take) sees the output offset o, the input offset i and the channels this position takes.
template <class T, class F>
void for_each_first_max(const Conv2DGeom& g, const T* px, const T* py, F f) {
  using U = MaskOf<T>;
  const std::int64_t C = g.c;
  for_each_window(
      g,
      [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1, std::int64_t x0,
          std::int64_t x1) {
        thread_local std::vector<U> open_v, take_v;
        open_v.assign(static_cast<std::size_t>(C), static_cast<U>(~U(0)));
        take_v.resize(static_cast<std::size_t>(C));
        U* __restrict open = open_v.data();
        U* __restrict take = take_v.data();
        const std::int64_t o = ((n * g.y.out + oy) * g.x.out + ox) * C;
        const T* __restrict ymax = py + o;
        for (std::int64_t iy = y0; iy < y1; ++iy)
          for (std::int64_t ix = x0; ix < x1; ++ix) {
            const std::int64_t i = ((n * g.h + iy) * g.w + ix) * C;
            const T* __restrict x = px + i;
            for (std::int64_t c = 0; c < C; ++c) {
              const T v = x[c], m = ymax[c];
              const U hit = static_cast<U>(U(0) - static_cast<U>((v == m) | ((m != m) & (v != v))));
              take[c] = static_cast<U>(hit & open[c]);
              open[c] = static_cast<U>(open[c] & ~hit);
            }
            f(o, i, static_cast<const U*>(take));
          }
      },
      /*per_image=*/true);
}

// Windows that tile the input exactly (pool == stride, no padding, no remainder: the common 2x2/2 pool
// on even sizes): every input lies in exactly one window, so each input's gradient is written once (the
// gradient or zero), with no zero fill and no read-modify-write; rows of windows split over threads.
template <class T>
void max_pool2d_grad_tiled(const Conv2DGeom& g, const T* px, const T* py, const T* pg, T* pd, bool relu) {
  using U = MaskOf<T>;
  const std::int64_t C = g.c, oh = g.y.out, ow = g.x.out;
  parallel_for(g.n * oh, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(ow * C * g.kh * g.kw, 1)),
               [&](std::int64_t r0, std::int64_t r1) {
                 std::vector<U> open_v(static_cast<std::size_t>(C));
                 U* __restrict open = open_v.data();
                 for (std::int64_t r = r0; r < r1; ++r) {
                   const std::int64_t n = r / oh, oy = r % oh;
                   for (std::int64_t ox = 0; ox < ow; ++ox) {
                     const std::int64_t o = (r * ow + ox) * C;
                     const T* __restrict ymax = py + o;
                     const T* __restrict grad = pg + o;
                     for (std::int64_t c = 0; c < C; ++c) open[c] = static_cast<U>(~U(0));
                     for (std::int64_t iy = oy * g.kh; iy < (oy + 1) * g.kh; ++iy)
                       for (std::int64_t ix = ox * g.kw; ix < (ox + 1) * g.kw; ++ix) {
                         const std::int64_t i = ((n * g.h + iy) * g.w + ix) * C;
                         const T* __restrict x = px + i;
                         T* __restrict d = pd + i;
                         for (std::int64_t c = 0; c < C; ++c) {
                           const T v = x[c], m = ymax[c];
                           const U hit = static_cast<U>(U(0) - static_cast<U>((v == m) | ((m != m) & (v != v))));
                           U take = static_cast<U>(hit & open[c]);
                           if (relu) take = static_cast<U>(take & (U(0) - static_cast<U>((v > 0) | (v != v))));
                           d[c] = select_bits(grad[c], take);
                           open[c] = static_cast<U>(open[c] & ~hit);
                         }
                       }
                   }
                 }
               });
}

}  // namespace

// Windows that tile the input (the common 2x2 pool with stride 2): a row of outputs at a time from the
// window's input rows, the channels innermost through restrict pointers, so the max vectorizes (the generic
// loop, a call per window with possibly aliasing pointers, ran at ~half the speed). Starting from the
// window's first element gives the same result as starting from -inf, NaN included.
template <class T>
void max_pool2d_tiled(const Conv2DGeom& g, const T* px, T* py) {
  const std::int64_t C = g.c, oh = g.y.out, ow = g.x.out;
  parallel_for(g.n * oh, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(ow * C * g.kh * g.kw, 1)),
               [&](std::int64_t r0, std::int64_t r1) {
                 for (std::int64_t r = r0; r < r1; ++r) {
                   const std::int64_t n = r / oh, oy = r % oh;
                   if (g.kh == 2 && g.kw == 2) {  // the common case: the four inputs in one pass
                     const T* __restrict top = px + (n * g.h + oy * 2) * g.w * C;
                     const T* __restrict bottom = top + g.w * C;
                     T* __restrict out = py + r * ow * C;
                     for (std::int64_t ox = 0; ox < ow; ++ox)
                       for (std::int64_t c = 0; c < C; ++c) {
                         const std::int64_t i = 2 * ox * C + c;
                         const T m = kMaxCombine(kMaxCombine(top[i], top[i + C]), bottom[i]);
                         out[ox * C + c] = kMaxCombine(m, bottom[i + C]);
                       }
                     continue;
                   }
                   for (std::int64_t ox = 0; ox < ow; ++ox) {
                     T* __restrict out = py + (r * ow + ox) * C;
                     for (std::int64_t ky = 0; ky < g.kh; ++ky)
                       for (std::int64_t kx = 0; kx < g.kw; ++kx) {
                         const T* __restrict in = px + ((n * g.h + oy * g.kh + ky) * g.w + ox * g.kw + kx) * C;
                         if (ky == 0 && kx == 0) {
                           for (std::int64_t c = 0; c < C; ++c) out[c] = in[c];
                         } else {
                           for (std::int64_t c = 0; c < C; ++c) out[c] = kMaxCombine(out[c], in[c]);
                         }
                       }
                   }
                 }
               });
}

void max_pool2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  if (pool_windows_tile(g) && x.num_elements() > 0) {
    visit_dtype(x.dtype(), [&](auto z) {
      using T = decltype(z);
      max_pool2d_tiled<T>(g, ptr<T>(x), ptr<T>(k.outputs[0]));
    });
    return;
  }
  pool_forward(k, kMaxInit, kMaxCombine, kMaxFinish);
}

void max_pool2d_f32(const Conv2DGeom& g, const float* x, float* y) {
  if (pool_windows_tile(g)) return max_pool2d_tiled<float>(g, x, y);
  pool_forward<float>(g, x, y, kMaxInit, kMaxCombine, kMaxFinish);
}

void avg_pool2d(KernelContext& k) {
  pool_forward(
      k, [](auto z) { return decltype(z)(0); }, [](auto acc, auto v) { return static_cast<decltype(acc)>(acc + v); },
      [](auto acc, std::int64_t count) {
        using T = decltype(acc);
        return count > 0 ? static_cast<T>(acc / static_cast<T>(count)) : T(0);
      });
}

bool pool_windows_tile(const Conv2DGeom& g) {
  return g.sh == g.kh && g.sw == g.kw && g.y.pad_before == 0 && g.x.pad_before == 0 && g.y.out * g.kh == g.h &&
         g.x.out * g.kw == g.w;
}

void max_pool2d_grad_relu_tiled(const Conv2DGeom& g, const float* x, const float* y, const float* grad, float* dx) {
  max_pool2d_grad_tiled<float>(g, x, y, grad, dx, true);
}

// Each output's gradient goes to the input its window's max came from; with relu, then relu_grad(x, .):
// kept where x > 0 or x is NaN (the pooled tensor is a relu's output: one pass instead of two).
namespace {

void max_pool2d_grad_impl(KernelContext& k, bool relu) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  const bool tiled = pool_windows_tile(g);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = ptr<T>(k.inputs[2]);
    T* pd = ptr<T>(k.outputs[0]);
    if (tiled) {
      max_pool2d_grad_tiled<T>(g, ptr<T>(x), ptr<T>(k.inputs[1]), pg, pd, relu);
      return;
    }
    std::memset(pd, 0, sizeof(T) * static_cast<std::size_t>(x.num_elements()));
    for_each_first_max(g, ptr<T>(x), ptr<T>(k.inputs[1]), [&](std::int64_t o, std::int64_t i, const MaskOf<T>* take) {
      for (std::int64_t c = 0; c < g.c; ++c) pd[i + c] += select_bits(pg[o + c], take[c]);
    });
    if (relu) {
      const T* px = ptr<T>(x);
      for (std::int64_t i = 0; i < x.num_elements(); ++i) pd[i] = (px[i] > 0 || px[i] != px[i]) ? pd[i] : T(0);
    }
  });
}

}  // namespace

void max_pool2d_grad(KernelContext& k) { max_pool2d_grad_impl(k, false); }
void max_pool2d_grad_relu(KernelContext& k) { max_pool2d_grad_impl(k, true); }

// Picks dd at the position max_pool2d_grad routes each output's gradient to.
void max_pool2d_grad_grad(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pdd = ptr<T>(k.inputs[2]);
    T* out = ptr<T>(k.outputs[0]);
    std::memset(out, 0, sizeof(T) * static_cast<std::size_t>(k.outputs[0].num_elements()));
    for_each_first_max(g, ptr<T>(x), ptr<T>(k.inputs[1]), [&](std::int64_t o, std::int64_t i, const MaskOf<T>* take) {
      for (std::int64_t c = 0; c < g.c; ++c) out[o + c] += select_bits(pdd[i + c], take[c]);
    });
  });
}

void avg_pool2d_grad(KernelContext& k) {
  const Tensor& gt = k.inputs[0];
  Conv2DGeom g = pool_geom(k.inputs[1].shape(), k.attrs);
  visit_dtype(gt.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pg = ptr<T>(gt);
    T* pd = ptr<T>(k.outputs[0]);
    std::memset(pd, 0, sizeof(T) * static_cast<std::size_t>(k.outputs[0].num_elements()));
    for_each_window(
        g,
        [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1, std::int64_t x0,
            std::int64_t x1) {
          const T count = static_cast<T>((y1 - y0) * (x1 - x0));
          if (count <= 0) return;
          const T* gp = pg + ((n * g.y.out + oy) * g.x.out + ox) * g.c;
          for (std::int64_t iy = y0; iy < y1; ++iy)
            for (std::int64_t ix = x0; ix < x1; ++ix) {
              T* dp = pd + ((n * g.h + iy) * g.w + ix) * g.c;
              for (std::int64_t c = 0; c < g.c; ++c) dp[c] += static_cast<T>(gp[c] / count);
            }
        },
        /*per_image=*/true);
  });
}

}  // namespace duet::kernels
