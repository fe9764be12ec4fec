// conv2d forward, backward-data and backward-weights. float32 runs on oneDNN (NHWC activations, HWIO
// filters, primitives cached by geometry); float64 uses direct loops (oneDNN has no f64 convolution).
#include <cstring>

#include "core/tensor_impl.h"
#include "kernels/dnnl_util.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "ops/conv_geom.h"

namespace duet::kernels {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

enum class Pass { Forward, BackwardData, BackwardWeights };

Conv2DGeom geom(const Shape& x, const Shape& w, const Attrs& a) { return conv_geom(x, w[0], w[1], w[3], a); }

struct ConvPrims {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::primitive prim;
};

ConvPrims& conv_prims(const Conv2DGeom& g, Pass pass) {
  static dnnl_util::Cache<ConvPrims> cache;
  dnnl_util::Key key{static_cast<std::int64_t>(pass), g.n, g.h, g.w, g.c, g.kh, g.kw, g.o, g.sh, g.sw, g.dh, g.dw,
                     g.y.pad_before, g.y.pad_after, g.x.pad_before, g.x.pad_after};
  return cache.get(key, [&] {
    auto& eng = dnnl_util::engine();
    dnnl::memory::desc src({g.n, g.c, g.h, g.w}, dt::f32, tag::nhwc);
    dnnl::memory::desc wei({g.o, g.c, g.kh, g.kw}, dt::f32, tag::hwio);
    dnnl::memory::desc dst({g.n, g.o, g.y.out, g.x.out}, dt::f32, tag::nhwc);
    dnnl::memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1};
    dnnl::memory::dims pl{g.y.pad_before, g.x.pad_before}, pr{g.y.pad_after, g.x.pad_after};
    dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src, wei,
                                       dst, strides, dil, pl, pr);
    dnnl::convolution_forward::primitive_desc fpd(fd, eng);
    if (pass == Pass::Forward) return ConvPrims{fpd, dnnl::convolution_forward(fpd)};
    if (pass == Pass::BackwardData) {
      dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, src, wei, dst, strides, dil, pl, pr);
      return ConvPrims{fpd, dnnl::convolution_backward_data(dnnl::convolution_backward_data::primitive_desc(bd, eng, fpd))};
    }
    dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, src, wei, dst, strides, dil, pl, pr);
    return ConvPrims{fpd, dnnl::convolution_backward_weights(dnnl::convolution_backward_weights::primitive_desc(wd, eng, fpd))};
  });
}

void run_dnnl(const Conv2DGeom& g, Pass pass, float* x, float* w, float* y) {
  auto& eng = dnnl_util::engine();
  dnnl::memory xm({{g.n, g.c, g.h, g.w}, dt::f32, tag::nhwc}, eng, x);
  dnnl::memory wm({{g.o, g.c, g.kh, g.kw}, dt::f32, tag::hwio}, eng, w);
  dnnl::memory ym({{g.n, g.o, g.y.out, g.x.out}, dt::f32, tag::nhwc}, eng, y);
  ConvPrims& p = conv_prims(g, pass);
  switch (pass) {
    case Pass::Forward:
      p.prim.execute(dnnl_util::stream(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}});
      break;
    case Pass::BackwardData:
      p.prim.execute(dnnl_util::stream(), {{DNNL_ARG_DIFF_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_DST, ym}});
      break;
    case Pass::BackwardWeights:
      p.prim.execute(dnnl_util::stream(), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_WEIGHTS, wm}, {DNNL_ARG_DIFF_DST, ym}});
      break;
  }
}

// Direct loops: y[n,oy,ox,o] = sum x[n, oy*sh - pt + ky*dh, ox*sw - pl + kx*dw, c] * w[ky,kx,c,o]; the two
// backward passes accumulate along the same index relation (so all three agree by construction).
template <class T>
void run_direct(const Conv2DGeom& g, Pass pass, T* x, T* w, T* y) {
  const std::int64_t oh = g.y.out, ow = g.x.out;
  if (pass == Pass::BackwardData) std::memset(x, 0, sizeof(T) * g.n * g.h * g.w * g.c);
  if (pass == Pass::BackwardWeights) std::memset(w, 0, sizeof(T) * g.kh * g.kw * g.c * g.o);
  for (std::int64_t n = 0; n < g.n; ++n)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        T* yp = y + ((n * oh + oy) * ow + ox) * g.o;
        if (pass == Pass::Forward)
          for (std::int64_t o = 0; o < g.o; ++o) yp[o] = T(0);
        for (std::int64_t ky = 0; ky < g.kh; ++ky) {
          std::int64_t iy = oy * g.sh - g.y.pad_before + ky * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          for (std::int64_t kx = 0; kx < g.kw; ++kx) {
            std::int64_t ix = ox * g.sw - g.x.pad_before + kx * g.dw;
            if (ix < 0 || ix >= g.w) continue;
            T* xp = x + ((n * g.h + iy) * g.w + ix) * g.c;
            T* wp = w + (ky * g.kw + kx) * g.c * g.o;
            for (std::int64_t c = 0; c < g.c; ++c)
              for (std::int64_t o = 0; o < g.o; ++o) {
                if (pass == Pass::Forward) yp[o] += xp[c] * wp[c * g.o + o];
                else if (pass == Pass::BackwardData) xp[c] += yp[o] * wp[c * g.o + o];
                else wp[c * g.o + o] += xp[c] * yp[o];
              }
          }
        }
      }
}

void run(const Conv2DGeom& g, Pass pass, const Tensor& x, const Tensor& w, const Tensor& y) {
  if (x.num_elements() == 0 || y.num_elements() == 0) {
    if (pass == Pass::BackwardData) std::memset(raw(x), 0, static_cast<std::size_t>(x.num_elements()) * dtype_size(x.dtype()));
    if (pass == Pass::BackwardWeights) std::memset(raw(w), 0, static_cast<std::size_t>(w.num_elements()) * dtype_size(w.dtype()));
    if (pass == Pass::Forward) std::memset(raw(y), 0, static_cast<std::size_t>(y.num_elements()) * dtype_size(y.dtype()));
    return;
  }
  if (x.dtype() == DType::Float32) run_dnnl(g, pass, ptr<float>(x), ptr<float>(w), ptr<float>(y));
  else run_direct<double>(g, pass, ptr<double>(x), ptr<double>(w), ptr<double>(y));
}

}  // namespace

void conv2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& w = k.inputs[1];
  run(geom(x.shape(), w.shape(), k.attrs), Pass::Forward, x, w, k.outputs[0]);
}

void conv2d_backprop_input(KernelContext& k) {  // (grad, filters, input_like) -> dx
  const Tensor& g = k.inputs[0];
  const Tensor& w = k.inputs[1];
  run(geom(k.inputs[2].shape(), w.shape(), k.attrs), Pass::BackwardData, k.outputs[0], w, g);
}

void conv2d_backprop_filter(KernelContext& k) {  // (input, grad, filters_like) -> dw
  const Tensor& x = k.inputs[0];
  const Tensor& g = k.inputs[1];
  run(geom(x.shape(), k.inputs[2].shape(), k.attrs), Pass::BackwardWeights, x, k.outputs[0], g);
}

}  // namespace duet::kernels
