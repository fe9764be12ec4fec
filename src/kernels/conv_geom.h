#pragma once
// Window geometry shared by convolution and pooling (TensorFlow's "same"/"valid" rules).
#include <cstdint>
#include <string>

namespace duet {

struct Window1D {
  std::int64_t out, pad_before, pad_after;
};

// Output size and padding of one spatial dim. "valid": floor((in - span) / stride) + 1;
// "same": ceil(in / stride), padding split with the extra element after (as TensorFlow).
// An unknown input or kernel size (-1, while tracing) gives an unknown output, except that "same" output
// sizes do not depend on the kernel.
inline Window1D window_1d(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t dilation, bool same) {
  if (in < 0) return {-1, 0, 0};
  if (same && k < 0) return {(in + stride - 1) / stride, 0, 0};
  if (k < 0) return {-1, 0, 0};
  const std::int64_t span = (k - 1) * dilation + 1;
  if (same) {
    std::int64_t out = (in + stride - 1) / stride;
    std::int64_t total = std::max<std::int64_t>((out - 1) * stride + span - in, 0);
    return {out, total / 2, total - total / 2};
  }
  return {in >= span ? (in - span) / stride + 1 : 0, 0, 0};
}

struct Conv2DGeom {
  std::int64_t n, h, w, c;      // input
  std::int64_t kh, kw, o;       // filter (o = out channels; for pooling o == c)
  std::int64_t sh, sw, dh, dw;  // strides, dilations
  Window1D y, x;                // output rows/cols with padding
};

}  // namespace duet

#include "duet/attrs.h"
#include "duet/shape.h"

namespace duet {

// Geometry of a convolution/pool of an NHWC input with a (kh, kw) window producing o channels.
inline Conv2DGeom conv_geom(const Shape& in, std::int64_t kh, std::int64_t kw, std::int64_t o, const Attrs& a) {
  const auto& s = a.ints("strides");
  const auto& d = a.ints("dilation_rate");
  const bool same = a.s("padding") == "same";
  Conv2DGeom g{in[0], in[1], in[2], in[3], kh, kw, o, s[0], s[1], d[0], d[1], {}, {}};
  g.y = window_1d(g.h, kh, g.sh, g.dh, same);
  g.x = window_1d(g.w, kw, g.sw, g.dw, same);
  return g;
}

namespace kernels {
// (conv.cpp) The pool's attrs of a node that also holds a conv's (stored there as pool_size, pool_strides,
// pool_padding: Conv2DBackpropFilterBiasPool, FusedConv2DPool).
Attrs pool_attrs_of(const Attrs& a);
// (pool.cpp) The window geometry of a pool (attrs pool_size, strides, padding) over an NHWC input.
Conv2DGeom pool_geom(const Shape& x, const Attrs& a);
// max_pool2d over float32 NHWC x into y (the op's kernel on raw pointers).
void max_pool2d_f32(const Conv2DGeom& g, const float* x, float* y);
// Windows that tile the input exactly (pool == stride, no padding, no remainder).
bool pool_windows_tile(const Conv2DGeom& g);
// relu_grad(x, max_pool2d_grad(x, y, grad)) for tiling windows, float32, into dx (shaped like x).
void max_pool2d_grad_relu_tiled(const Conv2DGeom& g, const float* x, const float* y, const float* grad, float* dx);
}  // namespace kernels

}  // namespace duet
