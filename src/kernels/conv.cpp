// conv2d forward, backward-data and backward-weights. float32 runs on oneDNN (NHWC activations, HWIO
// filters, primitives cached by geometry); float64 uses direct loops (oneDNN has no f64 convolution).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/conv_direct.h"
#include "kernels/conv_geom.h"
#include "kernels/dnnl_util.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace duet::kernels {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

enum class Pass { Forward, BackwardData, BackwardWeights };
constexpr std::int64_t kPlainBelowChannels = 8;

Conv2DGeom geom(const Shape& x, const Shape& w, const Attrs& a) { return conv_geom(x, w[0], w[1], w[3], a); }

// Each pass runs oneDNN's JIT kernels on duet's plain NHWC activations where it has them, else on the
// layouts oneDNN picks (blocked, e.g. nChw8c), reordered at the boundary from and to duet's plain
// NHWC/HWIO tensors (im2col + GEMM, oneDNN's fallback for layouts it has no JIT kernel for, is much slower
// than a JIT kernel plus the reorders). Reorders are cached with the primitive.
struct ConvPrims {
  dnnl::primitive prim;
  dnnl::memory::desc x_md, w_md, y_md;        // layouts the primitive wants
  dnnl::memory::desc x_user, w_user, y_user;  // duet's plain layouts
  dnnl::memory::desc scratch_md;
  std::string impl;  // oneDNN's implementation name ("brgconv:avx512_core", "gemm:jit", ...)
};

// The forward pass can add a bias and apply relu in the same primitive (FusedConv2D).
struct Epilogue {
  bool bias = false, relu = false;
};

// Which layouts a primitive is asked for: all plain (NHWC, HWIO); plain activations with the filter's
// layout left to oneDNN; or every layout left to oneDNN (its blocked formats, reordered at the boundary).
enum class Layouts { Plain, NhwcActivations, Any };

ConvPrims make_conv_prims(const Conv2DGeom& g, Pass pass, Epilogue ep, Layouts layouts) {
  auto& eng = dnnl_util::engine();
  dnnl::memory::desc x_user({g.n, g.c, g.h, g.w}, dt::f32, tag::nhwc);
  dnnl::memory::desc w_user({g.o, g.c, g.kh, g.kw}, dt::f32, tag::hwio);
  dnnl::memory::desc y_user({g.n, g.o, g.y.out, g.x.out}, dt::f32, tag::nhwc);
  const bool plain = layouts == Layouts::Plain, nhwc = plain || layouts == Layouts::NhwcActivations;
  dnnl::memory::desc x_any = nhwc ? x_user : dnnl::memory::desc({g.n, g.c, g.h, g.w}, dt::f32, tag::any);
  dnnl::memory::desc w_any = plain ? w_user : dnnl::memory::desc({g.o, g.c, g.kh, g.kw}, dt::f32, tag::any);
  dnnl::memory::desc y_any = nhwc ? y_user : dnnl::memory::desc({g.n, g.o, g.y.out, g.x.out}, dt::f32, tag::any);
  dnnl::memory::dims strides{g.sh, g.sw}, dil{g.dh - 1, g.dw - 1};
  dnnl::memory::dims pl{g.y.pad_before, g.x.pad_before}, pr{g.y.pad_after, g.x.pad_after};
  const dnnl::primitive_attr attr = dnnl_util::attr();
  dnnl::primitive_attr fwd_attr = attr;
  if (ep.relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    fwd_attr.set_post_ops(ops);
  }
  // A zero memory descriptor as the bias means "no bias" to oneDNN.
  const dnnl::memory::desc b_md = ep.bias ? dnnl::memory::desc({g.o}, dt::f32, tag::x) : dnnl::memory::desc();
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x_any,
                                     w_any, b_md, y_any, strides, dil, pl, pr);
  dnnl::convolution_forward::primitive_desc fpd(fd, pass == Pass::Forward ? fwd_attr : attr, eng);
  ConvPrims p;
  p.x_user = x_user;
  p.w_user = w_user;
  p.y_user = y_user;
  if (pass == Pass::Forward) {
    p.prim = dnnl::convolution_forward(fpd);
    p.x_md = fpd.src_desc();
    p.w_md = fpd.weights_desc();
    p.y_md = fpd.dst_desc();
    p.scratch_md = fpd.scratchpad_desc();
    p.impl = fpd.impl_info_str();
  } else if (pass == Pass::BackwardData) {
    dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, x_any, w_any, y_any, strides, dil, pl,
                                             pr);
    dnnl::convolution_backward_data::primitive_desc bpd(bd, attr, eng, fpd);
    p.prim = dnnl::convolution_backward_data(bpd);
    p.x_md = bpd.diff_src_desc();
    p.w_md = bpd.weights_desc();
    p.y_md = bpd.diff_dst_desc();
    p.scratch_md = bpd.scratchpad_desc();
    p.impl = bpd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, x_any, w_any, y_any, strides, dil,
                                                pl, pr);
    dnnl::convolution_backward_weights::primitive_desc wpd(wd, attr, eng, fpd);
    p.prim = dnnl::convolution_backward_weights(wpd);
    p.x_md = wpd.src_desc();
    p.w_md = wpd.diff_weights_desc();
    p.y_md = wpd.diff_dst_desc();
    p.scratch_md = wpd.scratchpad_desc();
    p.impl = wpd.impl_info_str();
  }
  return p;
}

ConvPrims& conv_prims(const Conv2DGeom& g, Pass pass, Epilogue ep = {}) {
  static dnnl_util::Cache<ConvPrims> cache;
  dnnl_util::Key key{static_cast<std::int64_t>(pass), g.n, g.h, g.w, g.c, g.kh, g.kw, g.o, g.sh, g.sw, g.dh, g.dw,
                     g.y.pad_before, g.y.pad_after, g.x.pad_before, g.x.pad_after, ep.bias, ep.relu,
                     // oneDNN fixes a primitive's thread count when it is created: one per count in use
                     omp_threads_for_library()};
  return cache.get(key, [&] {
    // Fewer input channels than one SIMD block (first layers on images): blocked layouts would pad the
    // channels with zeros, and oneDNN's plain-NHWC path measured ~1.7x faster (bench_kernels, conv1).
    if (g.c < kPlainBelowChannels) return make_conv_prims(g, pass, ep, Layouts::Plain);
    // Otherwise plain NHWC activations when oneDNN has a JIT kernel for them (no reorder of the activations:
    // ~2 ms per tf-cnn step on AVX-512, where oneDNN 2.6 has them for all three passes), else its own
    // blocked layouts.
    ConvPrims p = make_conv_prims(g, pass, ep, Layouts::NhwcActivations);
    const std::string impl = p.impl;
    if (impl.find("jit") != std::string::npos || impl.find("brg") != std::string::npos) return p;
    return make_conv_prims(g, pass, ep, Layouts::Any);
  });
}

struct Reorder {
  dnnl::primitive prim;
  dnnl::memory::desc scratch_md;
};

Reorder& reorder_prim(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  static dnnl_util::Cache<Reorder> cache;
  dnnl_util::Key key{omp_threads_for_library()};
  for (const auto* md : {&from, &to}) {
    const auto& d = md->data;
    key.push_back(d.ndims);
    key.push_back(static_cast<std::int64_t>(d.format_kind));
    for (int i = 0; i < d.ndims; ++i) key.push_back(d.dims[i]);
    for (int i = 0; i < d.ndims; ++i) key.push_back(d.padded_dims[i]);
    for (int i = 0; i < d.ndims; ++i) key.push_back(d.format_desc.blocking.strides[i]);
    key.push_back(d.format_desc.blocking.inner_nblks);
    for (int i = 0; i < d.format_desc.blocking.inner_nblks; ++i) {
      key.push_back(d.format_desc.blocking.inner_blks[i]);
      key.push_back(d.format_desc.blocking.inner_idxs[i]);
    }
  }
  return cache.get(key, [&] {
    auto& eng = dnnl_util::engine();
    dnnl::reorder::primitive_desc pd(eng, from, eng, to, dnnl_util::attr());
    return Reorder{dnnl::reorder(pd), pd.scratchpad_desc()};
  });
}

void reorder(const dnnl::memory& from, const dnnl::memory& to) {
  Reorder& r = reorder_prim(from.get_desc(), to.get_desc());
  std::vector<Tensor> keep;
  r.prim.execute(
      dnnl_util::stream(),
      {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, dnnl_util::scratchpad(r.scratch_md, keep)}});
}

// A memory in the primitive's layout `want` for user data at ptr: the user buffer itself when the layouts
// agree; otherwise a scratch buffer, filled from the user data when `load` (inputs).
dnnl::memory bind_arg(const dnnl::memory::desc& want, const dnnl::memory::desc& user, float* ptr, bool load,
                      std::vector<Tensor>& keep) {
  auto& eng = dnnl_util::engine();
  if (want == user) return dnnl::memory(user, eng, ptr);
  keep.push_back(dnnl_util::buffer_for(want));
  dnnl::memory m(want, eng, keep.back().mutable_data<float>());
  if (load) reorder(dnnl::memory(user, eng, ptr), m);
  return m;
}

void store(const dnnl::memory& m, const dnnl::memory::desc& user, float* ptr) {
  if (m.get_desc() == user) return;
  reorder(m, dnnl::memory(user, dnnl_util::engine(), ptr));
}

void run_dnnl(const Conv2DGeom& g, Pass pass, float* x, float* w, float* y, const float* bias = nullptr,
              bool relu = false) {
  ConvPrims& p = conv_prims(g, pass, {bias != nullptr, relu});
  std::vector<Tensor> keep;
  keep.reserve(4);
  auto& s = dnnl_util::stream();
  dnnl::memory xm = bind_arg(p.x_md, p.x_user, x, pass != Pass::BackwardData, keep);
  dnnl::memory wm = bind_arg(p.w_md, p.w_user, w, pass != Pass::BackwardWeights, keep);
  dnnl::memory ym = bind_arg(p.y_md, p.y_user, y, pass != Pass::Forward, keep);
  dnnl::memory sm = dnnl_util::scratchpad(p.scratch_md, keep);
  switch (pass) {
    case Pass::Forward:
      if (bias) {
        dnnl::memory bm({{g.o}, dt::f32, tag::x}, dnnl_util::engine(), const_cast<float*>(bias));
        p.prim.execute(s, {{DNNL_ARG_SRC, xm},
                           {DNNL_ARG_WEIGHTS, wm},
                           {DNNL_ARG_BIAS, bm},
                           {DNNL_ARG_DST, ym},
                           {DNNL_ARG_SCRATCHPAD, sm}});
      } else {
        p.prim.execute(s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
      }
      store(ym, p.y_user, y);
      break;
    case Pass::BackwardData:
      p.prim.execute(
          s, {{DNNL_ARG_DIFF_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
      store(xm, p.x_user, x);
      break;
    case Pass::BackwardWeights:
      p.prim.execute(
          s, {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_WEIGHTS, wm}, {DNNL_ARG_DIFF_DST, ym}, {DNNL_ARG_SCRATCHPAD, sm}});
      store(wm, p.w_user, w);
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
                if (pass == Pass::Forward)
                  yp[o] += xp[c] * wp[c * g.o + o];
                else if (pass == Pass::BackwardData)
                  xp[c] += yp[o] * wp[c * g.o + o];
                else
                  wp[c * g.o + o] += xp[c] * yp[o];
              }
          }
        }
      }
}

// The input gradient of a stride-1, undilated convolution is a forward convolution of dy with the filters
// rotated by 180 degrees and their channel dims swapped, padded by (kernel - 1 - padding) on each side.
// oneDNN's forward kernels (brgconv on AVX-512) beat its backward-data kernels where the channels are many:
// 2 threads, eager, medians of 5: tf-cnn's conv2 (5x5, 32 -> 64 channels, 14x14, batch 128) 7.2 -> 6.1 ms;
// 3x3 64 -> 64 at 28x28 5.3 -> 4.9; 3x3 256 -> 64 at 32x32 8.2 -> 6.9; but 3x3 16 -> 32 0.36 -> 0.46 and
// 5x5 8 -> 8 0.16 -> 0.20, and 1x1 no change: hence 32 channels or more each side, kernels past 1x1.
constexpr std::int64_t kInputGradByForwardChannels = 32;

}  // namespace

bool conv_input_grad_as_forward(const Conv2DGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.c >= kInputGradByForwardChannels &&
         g.o >= kInputGradByForwardChannels && g.kh * g.kw > 1 && g.y.pad_before <= g.kh - 1 &&
         g.y.pad_after <= g.kh - 1 && g.x.pad_before <= g.kw - 1 && g.x.pad_after <= g.kw - 1;
}

namespace {

void input_grad_by_forward(const Conv2DGeom& g, const float* w, const float* dy, float* dx) {
  Conv2DGeom f = g;
  f.h = g.y.out;
  f.w = g.x.out;
  f.c = g.o;
  f.o = g.c;
  f.y = {g.h, g.kh - 1 - g.y.pad_before, g.kh - 1 - g.y.pad_after};
  f.x = {g.w, g.kw - 1 - g.x.pad_before, g.kw - 1 - g.x.pad_after};
  Tensor flipped = empty(Shape{g.kh, g.kw, g.o, g.c}, DType::Float32);
  float* wf = flipped.mutable_data<float>();
  const std::int64_t taps = g.kh * g.kw;
  parallel_for(taps, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const float* src = w + (taps - 1 - t) * g.c * g.o;  // tap (kh-1-ky, kw-1-kx), (c, o)
      float* dst = wf + t * g.o * g.c;                    // tap (ky, kx), (o, c)
      for (std::int64_t c = 0; c < g.c; ++c)
        for (std::int64_t o = 0; o < g.o; ++o) dst[o * g.c + c] = src[c * g.o + o];
    }
  });
  run_dnnl(f, Pass::Forward, const_cast<float*>(dy), wf, dx);
}

void run(const Conv2DGeom& g, Pass pass, const Tensor& x, const Tensor& w, const Tensor& y) {
  if (x.num_elements() == 0 || y.num_elements() == 0) {
    if (pass == Pass::BackwardData)
      std::memset(raw(x), 0, static_cast<std::size_t>(x.num_elements()) * dtype_size(x.dtype()));
    if (pass == Pass::BackwardWeights)
      std::memset(raw(w), 0, static_cast<std::size_t>(w.num_elements()) * dtype_size(w.dtype()));
    if (pass == Pass::Forward)
      std::memset(raw(y), 0, static_cast<std::size_t>(y.num_elements()) * dtype_size(y.dtype()));
    return;
  }
  if (x.dtype() == DType::Float32 && pass == Pass::Forward && direct_conv_applies(g))
    direct_conv_forward(g, ptr<float>(x), ptr<float>(w), nullptr, false, ptr<float>(y));
  else if (x.dtype() == DType::Float32 && pass == Pass::BackwardData && direct_conv_backward_data_applies(g))
    direct_conv_backward_data(g, ptr<float>(y), ptr<float>(w), ptr<float>(x));
  else if (x.dtype() == DType::Float32 && pass == Pass::BackwardData && conv_input_grad_as_forward(g))
    input_grad_by_forward(g, ptr<float>(w), ptr<float>(y), ptr<float>(x));
  else if (x.dtype() == DType::Float32 && pass == Pass::BackwardWeights && direct_conv_applies(g))
    direct_conv_backward_weights(g, ptr<float>(x), ptr<float>(y), ptr<float>(w));
  else if (x.dtype() == DType::Float32)
    run_dnnl(g, pass, ptr<float>(x), ptr<float>(w), ptr<float>(y));
  else
    run_direct<double>(g, pass, ptr<double>(x), ptr<double>(w), ptr<double>(y));
}

}  // namespace

void conv2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& w = k.inputs[1];
  run(geom(x.shape(), w.shape(), k.attrs), Pass::Forward, x, w, k.outputs[0]);
}

// y (+ b per output channel) (then relu, NaN kept as relu() keeps it), in place, rows split over threads.
template <class T>
void bias_relu_in_place(T* py, const T* pb, bool relu, std::int64_t numel, std::int64_t o) {
  const std::int64_t rows = numel / std::max<std::int64_t>(o, 1);
  parallel_for(rows, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(o, 1)),
               [&](std::int64_t r0, std::int64_t r1) {
                 for (std::int64_t r = r0; r < r1; ++r) {
                   T* __restrict row = py + r * o;
                   for (std::int64_t c = 0; c < o; ++c) {
                     const T v = pb ? static_cast<T>(row[c] + pb[c]) : row[c];
                     row[c] = relu && !(v > 0 || v != v) ? T(0) : v;
                   }
                 }
               });
}

// FusedConv2D (x, w, b): relu(conv2d(x, w) + b). float32: the direct kernel with its own epilogue (few input
// channels), else oneDNN adds the bias in the primitive and the relu runs as a pass of our own (oneDNN's
// relu post-op turns NaN into 0 where relu() keeps it: the compiled step must not hide a NaN the eager one
// shows); float64 runs the direct loop, then the bias and the activation.
void fused_conv2d(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& w = k.inputs[1];
  const Tensor& b = k.inputs[2];
  Tensor& y = k.outputs[0];
  const bool relu = k.attrs.s("activation") == "relu";
  Conv2DGeom g = geom(x.shape(), w.shape(), k.attrs);
  const bool f32 = x.dtype() == DType::Float32 && x.num_elements() > 0 && y.num_elements() > 0;
  if (f32 && g.c >= kPlainBelowChannels) {
    run_dnnl(g, Pass::Forward, ptr<float>(x), ptr<float>(w), ptr<float>(y), ptr<float>(b), false);
    if (relu) bias_relu_in_place<float>(ptr<float>(y), nullptr, true, y.num_elements(), g.o);
    return;
  }
  if (f32 && direct_conv_applies(g)) {
    direct_conv_forward(g, ptr<float>(x), ptr<float>(w), ptr<float>(b), relu, ptr<float>(y));
    return;
  }
  // With few input channels oneDNN runs its im2col+gemm convolution, whose bias and post-op epilogue
  // measured slower (6.2 vs 3.3 ms for the tf-cnn's first layer) than a separate pass of our own.
  run(g, Pass::Forward, x, w, y);
  visit_dtype(y.dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) bias_relu_in_place<T>(ptr<T>(y), ptr<T>(b), relu, y.num_elements(), g.o);
  });
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

// Conv2DTranspose (input, filters) -> y: the input gradient of conv2d(y, filters) with the input as its grad.
void conv2d_transpose(KernelContext& k) {
  Tensor& y = k.outputs[0];
  run(geom(y.shape(), k.inputs[1].shape(), k.attrs), Pass::BackwardData, y, k.inputs[1], k.inputs[0]);
}

// Conv2DBackpropFilterBias (input, grad, filters_like) -> (dw, db): the filter gradient, and the grad summed
// over all but its channel axis (the bias gradient). The direct kernel sums each image's grad while it is in
// cache (tf-cnn conv1: 1.05 + 0.63 -> 1.25 ms). Elsewhere the two run one after the other, the sum as
// sum_to runs it: oneDNN's backward-weights primitive can produce the bias gradient too, but measured slower
// than a separate pass (tf-cnn conv2: 6.19 -> 6.81 ms, where the separate sum takes 0.26).
void conv2d_backprop_filter_bias(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& dy = k.inputs[1];
  Tensor& dw = k.outputs[0];
  const Conv2DGeom g = geom(x.shape(), k.inputs[2].shape(), k.attrs);
  if (x.dtype() == DType::Float32 && x.num_elements() > 0 && dy.num_elements() > 0 && direct_conv_applies(g)) {
    direct_conv_backward_weights(g, ptr<float>(x), ptr<float>(dy), ptr<float>(dw), ptr<float>(k.outputs[1]));
    return;
  }
  run(g, Pass::BackwardWeights, x, dw, dy);
  Tensor& db = k.outputs[1];
  const Tensor sum_in[2] = {dy, db};  // sum_to reads only the second one's shape
  Tensor sums;                        // sum_to makes its output itself
  KernelContext sc{k.op, std::span<const Tensor>(sum_in, 2), k.attrs, k.specs, std::span<Tensor>(&sums, 1)};
  sum_to(sc);
  std::memcpy(raw(db), raw(sums), static_cast<std::size_t>(db.num_elements()) * dtype_size(db.dtype()));
}

Attrs pool_attrs_of(const Attrs& a) {
  return {{"pool_size", a.ints("pool_size")},
          {"strides", a.ints("pool_strides")},
          {"padding", a.s("pool_padding")},
          {"dilation_rate", std::vector<std::int64_t>{1, 1}}};
}

// Conv2DBackpropFilterBiasPool (conv input, pool input, pool output, pool grad, filters_like) -> (dw, db):
// conv2d_backprop_filter_bias(x, max_pool2d_grad_relu(px, py, pg), w), the backward of a first block
// conv -> bias -> relu -> max pool whose input needs no gradient. With the direct kernel and tiling windows,
// each image's output gradient is made in cache just before its filter gradient, so the gradient (12.8 MB
// for the tf-cnn's conv1 at batch 128) is never written to memory and read back; otherwise the two run as
// they would apart.
void conv2d_backprop_filter_bias_pool(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  const Tensor& px = k.inputs[1];
  const Attrs pa = pool_attrs_of(k.attrs);
  const Conv2DGeom g = geom(x.shape(), k.inputs[4].shape(), k.attrs);
  const Conv2DGeom pg = pool_geom(px.shape(), pa);
  if (x.dtype() == DType::Float32 && x.num_elements() > 0 && px.num_elements() > 0 && direct_conv_applies(g) &&
      pool_windows_tile(pg)) {
    struct Ctx {
      Conv2DGeom one;  // the pool of one image
      const float *px, *py, *pg;
      std::int64_t in_size, out_size;
    } ctx{pg,
          ptr<float>(px),
          ptr<float>(k.inputs[2]),
          ptr<float>(k.inputs[3]),
          pg.h * pg.w * pg.c,
          pg.y.out * pg.x.out * pg.c};
    ctx.one.n = 1;
    const DyImages images{[](const void* c, std::int64_t n, float* buf) {
                            const auto& t = *static_cast<const Ctx*>(c);
                            max_pool2d_grad_relu_tiled(t.one, t.px + n * t.in_size, t.py + n * t.out_size,
                                                       t.pg + n * t.out_size, buf);
                          },
                          &ctx};
    direct_conv_backward_weights(g, ptr<float>(x), nullptr, ptr<float>(k.outputs[0]), ptr<float>(k.outputs[1]),
                                 &images);
    return;
  }
  Tensor dy = make_concrete(px.dtype(), px.shape());
  const Tensor pool_in[3] = {px, k.inputs[2], k.inputs[3]};
  KernelContext pool{k.op, std::span<const Tensor>(pool_in, 3), pa, k.specs, std::span<Tensor>(&dy, 1)};
  max_pool2d_grad_relu(pool);
  const Tensor conv_in[3] = {x, dy, k.inputs[4]};
  KernelContext conv{k.op, std::span<const Tensor>(conv_in, 3), k.attrs, k.specs, k.outputs};
  conv2d_backprop_filter_bias(conv);
}

// FusedConv2DPool (x, w, b) -> (y = FusedConv2D(x, w, b), max_pool2d(y)): with the direct kernel, image by
// image, each image's pool reading its output while it is in cache instead of from memory afterwards (tf-cnn
// conv1: 12.8 MB at batch 128); with oneDNN's, the relu pass and the pool visit each image once together;
// otherwise (float64) the two kernels one after the other. The same results in every case.
void fused_conv2d_pool(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Tensor& y = k.outputs[0];
  Tensor& p = k.outputs[1];
  const Attrs pa = pool_attrs_of(k.attrs);
  const Conv2DGeom g = geom(x.shape(), k.inputs[1].shape(), k.attrs);
  const bool f32 = x.dtype() == DType::Float32 && x.num_elements() > 0 && y.num_elements() > 0 && p.num_elements() > 0;
  const bool direct = f32 && direct_conv_applies(g), onednn = f32 && !direct && g.c >= kPlainBelowChannels;
  if (direct || onednn) {
    const bool relu = k.attrs.s("activation") == "relu";
    const float *px = ptr<float>(x), *pw = ptr<float>(k.inputs[1]), *pb = ptr<float>(k.inputs[2]);
    float *py = ptr<float>(y), *pp = ptr<float>(p);
    // oneDNN convolves the whole batch and adds the bias; the relu (our own pass, see fused_conv2d) then
    // runs image by image with the pool.
    if (onednn) run_dnnl(g, Pass::Forward, const_cast<float*>(px), const_cast<float*>(pw), py, pb, false);
    Conv2DGeom one = g, pool_one = pool_geom(y.shape(), pa);
    one.n = pool_one.n = 1;
    const std::int64_t xs = g.h * g.w * g.c, ys = g.y.out * g.x.out * g.o;
    const std::int64_t ps = pool_one.y.out * pool_one.x.out * pool_one.c;
    parallel_for(g.n, 1, [&](std::int64_t n0, std::int64_t n1) {
      for (std::int64_t n = n0; n < n1; ++n) {
        if (direct)
          direct_conv_forward(one, px + n * xs, pw, pb, relu, py + n * ys);
        else if (relu)
          bias_relu_in_place<float>(py + n * ys, nullptr, true, ys, g.o);
        max_pool2d_f32(pool_one, py + n * ys, pp + n * ps);
      }
    });
    return;
  }
  KernelContext conv{k.op, k.inputs, k.attrs, k.specs, k.outputs.subspan(0, 1)};
  fused_conv2d(conv);
  const Tensor pool_in[1] = {y};
  KernelContext pool{k.op, std::span<const Tensor>(pool_in, 1), pa, k.specs, k.outputs.subspan(1, 1)};
  max_pool2d(pool);
}

}  // namespace duet::kernels
