// Max and average pooling over NHWC, vectorized along channels, and their gradients. Padded positions
// never win a max and are not counted in an average (TensorFlow's "same" semantics).
#include <cstring>
#include <limits>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/conv_geom.h"

namespace duet::kernels {
namespace {

Conv2DGeom pool_geom(const Shape& x, const Attrs& a) {
  const auto& k = a.ints("pool_size");
  return conv_geom(x, k[0], k[1], x[3], a);
}

// Calls f(n, oy, ox, y0, y1, x0, x1) for every output pixel with its clipped input window, split over threads.
template <class F>
void for_each_window(const Conv2DGeom& g, F f) {
  const std::int64_t oh = g.y.out, ow = g.x.out;
  parallel_for(g.n * oh, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(ow * g.c, 1)), [&](std::int64_t b, std::int64_t e) {
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
  });
}

template <class T>
T lowest() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}

}  // namespace

void max_pool2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    T* py = ptr<T>(k.outputs[0]);
    const std::int64_t C = g.c;
    for_each_window(g, [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
      T* out = py + ((n * g.y.out + oy) * g.x.out + ox) * C;
      for (std::int64_t c = 0; c < C; ++c) out[c] = lowest<T>();
      for (std::int64_t iy = y0; iy < y1; ++iy)
        for (std::int64_t ix = x0; ix < x1; ++ix) {
          const T* in = px + ((n * g.h + iy) * g.w + ix) * C;
          for (std::int64_t c = 0; c < C; ++c) out[c] = (in[c] > out[c] || in[c] != in[c]) ? in[c] : out[c];
        }
    });
  });
}

void avg_pool2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    T* py = ptr<T>(k.outputs[0]);
    const std::int64_t C = g.c;
    for_each_window(g, [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
      T* out = py + ((n * g.y.out + oy) * g.x.out + ox) * C;
      for (std::int64_t c = 0; c < C; ++c) out[c] = T(0);
      for (std::int64_t iy = y0; iy < y1; ++iy)
        for (std::int64_t ix = x0; ix < x1; ++ix) {
          const T* in = px + ((n * g.h + iy) * g.w + ix) * C;
          for (std::int64_t c = 0; c < C; ++c) out[c] += in[c];
        }
      const T count = static_cast<T>((y1 - y0) * (x1 - x0));
      for (std::int64_t c = 0; c < C; ++c) out[c] = count > 0 ? static_cast<T>(out[c] / count) : T(0);
    });
  });
}

// The gradient goes to the first element of each window equal to the window's max. Windows overlap when
// strides are smaller than the pool, so each image is handled by one thread (no races).
void max_pool2d_grad(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    const T* py = ptr<T>(k.inputs[1]);
    const T* pg = ptr<T>(k.inputs[2]);
    T* pd = ptr<T>(k.outputs[0]);
    std::memset(pd, 0, sizeof(T) * static_cast<std::size_t>(x.num_elements()));
    const std::int64_t C = g.c;
    parallel_for(g.n, 1, [&](std::int64_t nb, std::int64_t ne) {
      std::vector<char> done(static_cast<std::size_t>(C));
      for (std::int64_t n = nb; n < ne; ++n)
        for (std::int64_t oy = 0; oy < g.y.out; ++oy)
          for (std::int64_t ox = 0; ox < g.x.out; ++ox) {
            std::int64_t y0 = std::max<std::int64_t>(oy * g.sh - g.y.pad_before, 0), y1 = std::min(oy * g.sh - g.y.pad_before + g.kh, g.h);
            std::int64_t x0 = std::max<std::int64_t>(ox * g.sw - g.x.pad_before, 0), x1 = std::min(ox * g.sw - g.x.pad_before + g.kw, g.w);
            std::int64_t o = ((n * g.y.out + oy) * g.x.out + ox) * C;
            std::fill(done.begin(), done.end(), 0);
            for (std::int64_t iy = y0; iy < y1; ++iy)
              for (std::int64_t ix = x0; ix < x1; ++ix) {
                std::int64_t i = ((n * g.h + iy) * g.w + ix) * C;
                for (std::int64_t c = 0; c < C; ++c)
                  if (!done[c] && (px[i + c] == py[o + c] || (py[o + c] != py[o + c] && px[i + c] != px[i + c]))) {
                    pd[i + c] += pg[o + c];
                    done[c] = 1;
                  }
              }
          }
    });
  });
}

// Picks dd at the position max_pool2d_grad routes each output's gradient to.
void max_pool2d_grad_grad(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Conv2DGeom g = pool_geom(x.shape(), k.attrs);
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    const T* py = ptr<T>(k.inputs[1]);
    const T* pdd = ptr<T>(k.inputs[2]);
    T* out = ptr<T>(k.outputs[0]);
    const std::int64_t C = g.c;
    for_each_window(g, [&](std::int64_t n, std::int64_t oy, std::int64_t ox, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
      std::int64_t o = ((n * g.y.out + oy) * g.x.out + ox) * C;
      for (std::int64_t c = 0; c < C; ++c) {
        T v = T(0);
        bool found = false;
        for (std::int64_t iy = y0; iy < y1 && !found; ++iy)
          for (std::int64_t ix = x0; ix < x1 && !found; ++ix) {
            std::int64_t i = ((n * g.h + iy) * g.w + ix) * C + c;
            if (px[i] == py[o + c] || (py[o + c] != py[o + c] && px[i] != px[i])) {
              v = pdd[i];
              found = true;
            }
          }
        out[o + c] = v;
      }
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
    const std::int64_t C = g.c;
    parallel_for(g.n, 1, [&](std::int64_t nb, std::int64_t ne) {
      for (std::int64_t n = nb; n < ne; ++n)
        for (std::int64_t oy = 0; oy < g.y.out; ++oy)
          for (std::int64_t ox = 0; ox < g.x.out; ++ox) {
            std::int64_t y0 = std::max<std::int64_t>(oy * g.sh - g.y.pad_before, 0), y1 = std::min(oy * g.sh - g.y.pad_before + g.kh, g.h);
            std::int64_t x0 = std::max<std::int64_t>(ox * g.sw - g.x.pad_before, 0), x1 = std::min(ox * g.sw - g.x.pad_before + g.kw, g.w);
            const T count = static_cast<T>((y1 - y0) * (x1 - x0));
            if (count <= 0) continue;
            const T* gp = pg + ((n * g.y.out + oy) * g.x.out + ox) * C;
            for (std::int64_t iy = y0; iy < y1; ++iy)
              for (std::int64_t ix = x0; ix < x1; ++ix) {
                T* dp = pd + ((n * g.h + iy) * g.w + ix) * C;
                for (std::int64_t c = 0; c < C; ++c) dp[c] += static_cast<T>(gp[c] / count);
              }
          }
    });
  });
}

}  // namespace duet::kernels
