// conv2d, its two backprops and conv2d_transpose, max/avg pooling and their gradients. The backprops are ops with
// gradients of their own (they are linear maps), so second-order gradients work.
#include <cctype>

#include "duet/gradient_ops.h"
#include "duet/nn.h"
#include "duet/ops.h"
#include "kernels/conv_geom.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

// Strides, dilations and the dilated window of a (kh, kw) kernel (-1: not known yet), checked before any
// kernel sees them: every size, and the padding "same" derives from them, must stay far from overflow
// (oneDNN takes them as 32-bit ints in places, and a 2^62 dilation wraps (k - 1) * d + 1).
constexpr std::int64_t kMaxWindow = (std::int64_t{1} << 31) - 1;

void check_window_attrs(const InferContext& c, bool has_dilations, std::int64_t kh, std::int64_t kw) {
  const auto& s = c.attrs.ints("strides");
  if (s.size() != 2 || s[0] <= 0 || s[1] <= 0)
    c.value_error("strides must be two positive numbers, got " + attr_value_str(s));
  std::vector<std::int64_t> d{1, 1};
  if (has_dilations) {
    d = c.attrs.ints("dilation_rate");
    if (d.size() != 2 || d[0] <= 0 || d[1] <= 0)
      c.value_error("dilation_rate must be two positive numbers, got " + attr_value_str(d));
  }
  const std::int64_t k[2] = {kh, kw};
  for (int i = 0; i < 2; ++i) {
    std::int64_t span = 0;
    if (k[i] > kMaxWindow || d[static_cast<std::size_t>(i)] > kMaxWindow ||
        (k[i] > 0 && (__builtin_mul_overflow(k[i] - 1, d[static_cast<std::size_t>(i)], &span) || span >= kMaxWindow))) {
      c.value_error(std::string(has_dilations ? "the dilated kernel" : "the window") + " " + std::to_string(kh) + "x" +
                    std::to_string(kw) + (has_dilations ? " with dilation_rate " + attr_value_str(d) : "") +
                    " spans more than 2^31 - 1 elements along dim " + std::to_string(i) + "; use a smaller " +
                    (has_dilations ? "dilation_rate or kernel" : "pool_size"));
    }
  }
  if (s[0] > kMaxWindow || s[1] > kMaxWindow)
    c.value_error("strides " + attr_value_str(s) + " exceed 2^31 - 1; use strides that fit the input");
  const std::string& p = c.attrs.s("padding");
  if (p != "same" && p != "valid") c.value_error("padding must be \"same\" or \"valid\", got \"" + p + "\"");
}

void require_nhwc(const InferContext& c, std::size_t i, const char* what) {
  if (c.shape(i).rank() != 4) {
    c.shape_error(std::string(what) + " must have rank 4 (NHWC: batch, height, width, channels), got " +
                  c.shape(i).str());
  }
}

// Output shape of conv2d for input x (NHWC) and filter w (HWIO); validates everything.
Shape conv_output(const InferContext& c, const Shape& x, const Shape& w) {
  if (w.rank() != 4)
    c.shape_error("filters must have rank 4 (HWIO: height, width, in_channels, out_channels), got " + w.str());
  check_window_attrs(c, true, w[0], w[1]);
  if (x[3] >= 0 && w[2] >= 0 && x[3] != w[2]) {
    c.shape_error("input has " + std::to_string(x[3]) + " channels but the filters expect " + std::to_string(w[2]) +
                  ": input " + x.str() + " (NHWC), filters " + w.str() + " (HWIO)");
  }
  for (int i = 0; i < 4; ++i)
    if (w[i] == 0) c.shape_error("filters " + w.str() + " have a zero-sized dim");
  Conv2DGeom g = conv_geom(x, w[0], w[1], w[3], c.attrs);
  if (c.attrs.s("padding") == "valid") {
    std::int64_t span_h = (w[0] - 1) * g.dh + 1, span_w = (w[1] - 1) * g.dw + 1;
    if ((x[1] >= 0 && w[0] >= 0 && span_h > x[1]) || (x[2] >= 0 && w[1] >= 0 && span_w > x[2])) {
      c.shape_error("the (dilated) kernel " + std::to_string(span_h) + "x" + std::to_string(span_w) +
                    " is larger than the input " + std::to_string(x[1]) + "x" + std::to_string(x[2]) +
                    " with \"valid\" padding (input " + x.str() + "); use padding=\"same\" or a smaller kernel");
    }
  }
  return Shape{x[0], g.y.out, g.x.out, w[3]};
}

void infer_conv2d(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  require_nhwc(c, 0, "input");
  c.set_output(c.dtype(0), conv_output(c, c.shape(0), c.shape(1)));
}

// FusedConv2D (x, w, b) with attr activation "" or "relu": made by the conv_bias_activation pass.
void infer_fused_conv2d(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  require_nhwc(c, 0, "input");
  Shape y = conv_output(c, c.shape(0), c.shape(1));
  if (c.shape(2).rank() != 1 || (c.shape(2)[0] >= 0 && y[3] >= 0 && c.shape(2)[0] != y[3])) {
    c.shape_error("bias must have shape (" + std::to_string(y[3]) + ",) for " + std::to_string(y[3]) +
                  " output channels, got " + c.shape(2).str());
  }
  const std::string& a = c.attrs.s("activation");
  if (!a.empty() && a != "relu") c.value_error("activation must be \"\" or \"relu\", got \"" + a + "\"");
  c.set_output(c.dtype(0), y);
}

void infer_conv2d_backprop_input(InferContext& c) {  // (grad, filters, input_like)
  require_floating(c, 0);
  if (c.dtype(1) != c.dtype(0)) c.dtype_error("grad and filters have different dtypes");
  require_nhwc(c, 2, "input_like");
  Shape expect = conv_output(c, c.shape(2), c.shape(1));
  if (!c.shape(0).compatible_with(expect)) {
    c.shape_error("grad has shape " + c.shape(0).str() + " but conv2d of " + c.shape(2).str() + " gives " +
                  expect.str());
  }
  c.set_output(c.dtype(0), c.shape(2));
}

void infer_conv2d_backprop_filter(InferContext& c) {  // (input, grad, filters_like)
  require_floating(c, 0);
  if (c.dtype(1) != c.dtype(0)) c.dtype_error("input and grad have different dtypes");
  require_nhwc(c, 0, "input");
  Shape expect = conv_output(c, c.shape(0), c.shape(2));
  if (!c.shape(1).compatible_with(expect)) {
    c.shape_error("grad has shape " + c.shape(1).str() + " but conv2d of " + c.shape(0).str() + " gives " +
                  expect.str());
  }
  c.set_output(c.dtype(0), c.shape(2));
}

// (input (N, H, W, C), filters (kh, kw, O, C)) with attr output_size (oh, ow) -> (N, oh, ow, O): the input
// gradient of conv2d(output, filters), so conv2d of the output's shape must give the input's.
void infer_conv2d_transpose(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  require_nhwc(c, 0, "input");
  const Shape& x = c.shape(0);
  const Shape& w = c.shape(1);
  if (w.rank() != 4) {
    c.shape_error("filters must have rank 4 (height, width, out_channels, in_channels), got " + w.str() +
                  " for input " + x.str());
  }
  const auto& os = c.attrs.ints("output_size");
  if (os.size() != 2 || os[0] <= 0 || os[1] <= 0 || os[0] > kMaxWindow || os[1] > kMaxWindow)
    c.value_error("output_size must be two positive numbers (height, width), got " + attr_value_str(os));
  if (x[3] >= 0 && w[3] >= 0 && x[3] != w[3]) {
    c.shape_error("input has " + std::to_string(x[3]) + " channels but the filters expect " + std::to_string(w[3]) +
                  ": input " + x.str() + " (NHWC), filters " + w.str() + " (height, width, out_channels, in_channels)");
  }
  const Shape y{x[0], os[0], os[1], w[2]};
  const Shape back = conv_output(c, y, w);  // validates strides, padding, dilations and the filters
  if ((x[1] >= 0 && back[1] >= 0 && back[1] != x[1]) || (x[2] >= 0 && back[2] >= 0 && back[2] != x[2])) {
    c.shape_error("output_size " + attr_value_str(os) + " does not fit the input " + x.str() + ": conv2d of an " +
                  y.str() + " output with strides " + attr_value_str(c.attrs.ints("strides")) + " and padding \"" +
                  c.attrs.s("padding") + "\" gives " + std::to_string(back[1]) + "x" + std::to_string(back[2]) +
                  " positions, not the input's " + std::to_string(x[1]) + "x" + std::to_string(x[2]) +
                  "; use conv_transpose_output_length for Keras's size");
  }
  c.set_output(c.dtype(0), y);
}

// (input, grad, filters_like) -> (filter gradient, bias gradient: grad summed to its channels)
void infer_conv2d_backprop_filter_bias(InferContext& c) {
  infer_conv2d_backprop_filter(c);
  c.set_output(c.dtype(0), Shape{c.shape(2)[3]});
}

Shape pool_output(const InferContext& c, const Shape& x) {
  const auto& k = c.attrs.ints("pool_size");
  if (k.size() != 2 || k[0] <= 0 || k[1] <= 0)
    c.value_error("pool_size must be two positive numbers, got " + attr_value_str(k));
  check_window_attrs(c, false, k[0], k[1]);
  if (c.attrs.s("padding") == "valid" && ((x[1] >= 0 && k[0] > x[1]) || (x[2] >= 0 && k[1] > x[2]))) {
    c.shape_error("pool window " + std::to_string(k[0]) + "x" + std::to_string(k[1]) + " is larger than the input " +
                  x.str() + " with \"valid\" padding; use padding=\"same\" or a smaller pool_size");
  }
  Conv2DGeom g = conv_geom(x, k[0], k[1], x[3], c.attrs);
  return Shape{x[0], g.y.out, g.x.out, x[3]};
}

void infer_pool(InferContext& c) {
  require_numeric(c, 0);
  require_nhwc(c, 0, "input");
  c.set_output(c.dtype(0), pool_output(c, c.shape(0)));
}

void infer_max_pool_grad(InferContext& c) {  // (input, output, grad) -> input-shaped
  require_same_dtypes(c);
  require_nhwc(c, 0, "input");
  Shape y = pool_output(c, c.shape(0));
  if (!c.shape(1).compatible_with(y) || !c.shape(2).compatible_with(y)) {
    c.shape_error("output " + c.shape(1).str() + " and grad " + c.shape(2).str() + " must match the pool output " +
                  y.str());
  }
  c.set_output(c.dtype(0), c.shape(0));
}

// (conv input, pool input, pool output, pool grad, filters_like) -> (dw, db): the pool gradient (relu
// masked) checked as max_pool2d_grad_relu checks it, then the conv's filter and bias gradients from it.
void infer_conv2d_backprop_filter_bias_pool(InferContext& c) {
  require_same_dtypes(c);
  const Attrs pool_attrs = kernels::pool_attrs_of(c.attrs);
  InferContext pool{c.op, c.inputs.subspan(1, 3), pool_attrs, {}};
  infer_max_pool_grad(pool);
  const Tensor conv_in[3] = {c.inputs[0], c.inputs[1], c.inputs[4]};  // the pool gradient is shaped like its input
  InferContext conv{c.op, std::span<const Tensor>(conv_in, 3), c.attrs, {}};
  infer_conv2d_backprop_filter_bias(conv);
  c.outputs = conv.outputs;
}

// (x, w, b) -> (relu(conv2d(x, w) + b), max_pool2d of that)
void infer_fused_conv2d_pool(InferContext& c) {
  infer_fused_conv2d(c);
  const Attrs pool_attrs = kernels::pool_attrs_of(c.attrs);
  const InferContext pool{c.op, {}, pool_attrs, {}};
  c.set_output(c.dtype(0), pool_output(pool, c.outputs[0].shape));
}

void infer_max_pool_grad_grad(InferContext& c) {  // (input, output, dd) -> output-shaped
  require_same_dtypes(c);
  require_nhwc(c, 0, "input");
  if (!c.shape(2).compatible_with(c.shape(0)))
    c.shape_error("dd " + c.shape(2).str() + " must be shaped like the input " + c.shape(0).str());
  c.set_output(c.dtype(0), pool_output(c, c.shape(0)));
}

void infer_avg_pool_grad(InferContext& c) {  // (grad, input_like) -> input-shaped
  require_nhwc(c, 1, "input_like");
  Shape y = pool_output(c, c.shape(1));
  if (!c.shape(0).compatible_with(y))
    c.shape_error("grad " + c.shape(0).str() + " must match the pool output " + y.str());
  c.set_output(c.dtype(0), c.shape(1));
}

Conv2DOptions conv_options(const Attrs& a) { return {a.ints("strides"), a.s("padding"), a.ints("dilation_rate")}; }
Pool2DOptions pool_options(const Attrs& a) { return {a.ints("pool_size"), a.ints("strides"), a.s("padding")}; }

// y = conv(x, w): dx = backprop_input(g, w), dw = backprop_filter(x, g)
std::vector<Tensor> grad_conv2d(const GradContext& c) {
  auto o = conv_options(c.attrs);
  return {c.needs(0) ? conv2d_backprop_input(c.grads[0], c.inputs[1], c.inputs[0], o) : Tensor(),
          c.needs(1) ? conv2d_backprop_filter(c.inputs[0], c.grads[0], c.inputs[1], o) : Tensor()};
}
// dx = B(g, w) is bilinear: its adjoints are conv2d(dd, w) for g and backprop_filter(dd, g) for w.
std::vector<Tensor> grad_conv2d_backprop_input(const GradContext& c) {
  auto o = conv_options(c.attrs);
  return {c.needs(0) ? conv2d(c.grads[0], c.inputs[1], o) : Tensor(),
          c.needs(1) ? conv2d_backprop_filter(c.grads[0], c.inputs[0], c.inputs[1], o) : Tensor(), Tensor()};
}
// dw = F(x, g) is bilinear: its adjoints are backprop_input(g, dd) for x and conv2d(x, dd) for g.
std::vector<Tensor> grad_conv2d_backprop_filter(const GradContext& c) {
  auto o = conv_options(c.attrs);
  return {c.needs(0) ? conv2d_backprop_input(c.inputs[1], c.grads[0], c.inputs[0], o) : Tensor(),
          c.needs(1) ? conv2d(c.inputs[0], c.grads[0], o) : Tensor(), Tensor()};
}
// y = conv2d_transpose(x, w) is backprop_input(x, w) shaped like y, bilinear: its adjoints are conv2d(dd, w) for x
// and backprop_filter(dd, x) for w.
std::vector<Tensor> grad_conv2d_transpose(const GradContext& c) {
  auto o = conv_options(c.attrs);
  return {c.needs(0) ? conv2d(c.grads[0], c.inputs[1], o) : Tensor(),
          c.needs(1) ? conv2d_backprop_filter(c.grads[0], c.inputs[0], c.inputs[1], o) : Tensor()};
}
// d max_pool = route g to each window's (first) max
std::vector<Tensor> grad_max_pool(const GradContext& c) {
  return {max_pool2d_grad(c.inputs[0], c.outputs[0], c.grads[0], pool_options(c.attrs))};
}
// max_pool2d_grad is linear in g (and piecewise constant in x, y): its adjoint picks dd at the maxima.
std::vector<Tensor> grad_max_pool_grad(const GradContext& c) {
  return {Tensor(), Tensor(), max_pool2d_grad_grad(c.inputs[0], c.inputs[1], c.grads[0], pool_options(c.attrs))};
}
std::vector<Tensor> grad_max_pool_grad_grad(const GradContext& c) {
  return {Tensor(), Tensor(), max_pool2d_grad(c.inputs[0], c.inputs[1], c.grads[0], pool_options(c.attrs))};
}
// d avg_pool = spread g evenly over each window
std::vector<Tensor> grad_avg_pool(const GradContext& c) {
  return {avg_pool2d_grad(c.grads[0], c.inputs[0], pool_options(c.attrs))};
}
std::vector<Tensor> grad_avg_pool_grad(const GradContext& c) {
  return {avg_pool2d(c.grads[0], pool_options(c.attrs)), Tensor()};
}

const OpDef kConv2D{.name = "Conv2D",
                    .public_name = "conv2d",
                    .num_inputs = 2,
                    .infer = infer_conv2d,
                    .kernel = kernels::conv2d,
                    .grad = grad_conv2d,
                    .traits = 0};
// Graph-only (built after gradients, like FusedElementwise): no gradient of its own.
const OpDef kFusedConv2D{.name = "FusedConv2D",
                         .public_name = "fused_conv2d",
                         .num_inputs = 3,
                         .infer = infer_fused_conv2d,
                         .kernel = kernels::fused_conv2d,
                         .grad = nullptr,
                         .traits = 0};
// Graph-only (built by the conv_pool pass): a FusedConv2D and the max_pool2d of its output, image by image
// where the direct kernel runs (the pool reads each image's output while it is in cache); attrs: FusedConv2D's
// and the pool's as pool_size, pool_strides, pool_padding.
const OpDef kFusedConv2DPool{.name = "FusedConv2DPool",
                             .public_name = "fused_conv2d_pool",
                             .num_inputs = 3,
                             .infer = infer_fused_conv2d_pool,
                             .kernel = kernels::fused_conv2d_pool,
                             .grad = nullptr,
                             .traits = 0};
const OpDef kConv2DBackpropInput{.name = "Conv2DBackpropInput",
                                 .public_name = "conv2d_backprop_input",
                                 .num_inputs = 3,
                                 .infer = infer_conv2d_backprop_input,
                                 .kernel = kernels::conv2d_backprop_input,
                                 .grad = grad_conv2d_backprop_input,
                                 .traits = 0};
const OpDef kConv2DBackpropFilter{.name = "Conv2DBackpropFilter",
                                  .public_name = "conv2d_backprop_filter",
                                  .num_inputs = 3,
                                  .infer = infer_conv2d_backprop_filter,
                                  .kernel = kernels::conv2d_backprop_filter,
                                  .grad = grad_conv2d_backprop_filter,
                                  .traits = 0};
const OpDef kConv2DTranspose{.name = "Conv2DTranspose",
                             .public_name = "conv2d_transpose",
                             .num_inputs = 2,
                             .infer = infer_conv2d_transpose,
                             .kernel = kernels::conv2d_transpose,
                             .grad = grad_conv2d_transpose,
                             .traits = 0};
const OpDef kMaxPool2D{.name = "MaxPool2D",
                       .public_name = "max_pool2d",
                       .num_inputs = 1,
                       .infer = infer_pool,
                       .kernel = kernels::max_pool2d,
                       .grad = grad_max_pool,
                       .traits = 0};
const OpDef kAvgPool2D{.name = "AvgPool2D",
                       .public_name = "avg_pool2d",
                       .num_inputs = 1,
                       .infer = infer_pool,
                       .kernel = kernels::avg_pool2d,
                       .grad = grad_avg_pool,
                       .traits = 0};
const OpDef kMaxPool2DGrad{.name = "MaxPool2DGrad",
                           .public_name = "max_pool2d_grad",
                           .num_inputs = 3,
                           .infer = infer_max_pool_grad,
                           .kernel = kernels::max_pool2d_grad,
                           .grad = grad_max_pool_grad,
                           .traits = 0};
// Graph-only (built by the conv_bias_grad pass after gradients): conv2d_backprop_filter(x, g, w) and
// sum_to(g, b), the filter and bias gradients of one convolution, from one read of g; no gradient of its own.
const OpDef kConv2DBackpropFilterBias{.name = "Conv2DBackpropFilterBias",
                                      .public_name = "conv2d_backprop_filter_bias",
                                      .num_inputs = 3,
                                      .infer = infer_conv2d_backprop_filter_bias,
                                      .kernel = kernels::conv2d_backprop_filter_bias,
                                      .grad = nullptr,
                                      .traits = 0};
// Graph-only (built by the conv_bias_grad pass): conv2d_backprop_filter_bias(x, max_pool2d_grad_relu(px, py,
// pg), w) where the pool gradient has no other reader (a first block's input needs no gradient); attrs: the
// conv's, and the pool's as pool_size, pool_strides, pool_padding.
const OpDef kConv2DBackpropFilterBiasPool{.name = "Conv2DBackpropFilterBiasPool",
                                          .public_name = "conv2d_backprop_filter_bias_pool",
                                          .num_inputs = 5,
                                          .infer = infer_conv2d_backprop_filter_bias_pool,
                                          .kernel = kernels::conv2d_backprop_filter_bias_pool,
                                          .grad = nullptr,
                                          .traits = 0};
// Graph-only (built by the pool_grad_relu pass after gradients): relu_grad(x, max_pool2d_grad(x, y, g)),
// the backward of relu then max_pool2d, in one pass; no gradient of its own.
const OpDef kMaxPool2DGradRelu{.name = "MaxPool2DGradRelu",
                               .public_name = "max_pool2d_grad_relu",
                               .num_inputs = 3,
                               .infer = infer_max_pool_grad,
                               .kernel = kernels::max_pool2d_grad_relu,
                               .grad = nullptr,
                               .traits = 0};
const OpDef kMaxPool2DGradGrad{.name = "MaxPool2DGradGrad",
                               .public_name = "max_pool2d_grad_grad",
                               .num_inputs = 3,
                               .infer = infer_max_pool_grad_grad,
                               .kernel = kernels::max_pool2d_grad_grad,
                               .grad = grad_max_pool_grad_grad,
                               .traits = 0};
const OpDef kAvgPool2DGrad{.name = "AvgPool2DGrad",
                           .public_name = "avg_pool2d_grad",
                           .num_inputs = 2,
                           .infer = infer_avg_pool_grad,
                           .kernel = kernels::avg_pool2d_grad,
                           .grad = grad_avg_pool_grad,
                           .traits = 0};

Attrs conv_attrs(const Conv2DOptions& o) {
  return {{"strides", o.strides}, {"padding", o.padding}, {"dilation_rate", o.dilation_rate}};
}
Attrs pool_attrs(const Pool2DOptions& o) {
  return {{"pool_size", o.pool_size},
          {"strides", o.strides.empty() ? o.pool_size : o.strides},
          {"padding", o.padding},
          {"dilation_rate", std::vector<std::int64_t>{1, 1}}};
}

}  // namespace

static void register_conv_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kConv2D, &kFusedConv2D, &kFusedConv2DPool, &kConv2DBackpropInput, &kConv2DBackpropFilter,
                         &kConv2DTranspose, &kConv2DBackpropFilterBias, &kConv2DBackpropFilterBiasPool, &kMaxPool2D,
                         &kAvgPool2D, &kMaxPool2DGrad, &kMaxPool2DGradRelu, &kMaxPool2DGradGrad, &kAvgPool2DGrad})
    r.push_back(d);
}
const OpRegistration kRegisterConvOps{register_conv_ops};

Tensor conv2d(const Tensor& x, const Tensor& w, const Conv2DOptions& o) { return call(kConv2D, {x, w}, conv_attrs(o)); }
const OpDef& fused_conv2d_op() { return kFusedConv2D; }
const OpDef& fused_conv2d_pool_op() { return kFusedConv2DPool; }
const OpDef& max_pool2d_op() { return kMaxPool2D; }
const OpDef& conv2d_backprop_filter_op() { return kConv2DBackpropFilter; }
const OpDef& conv2d_backprop_filter_bias_op() { return kConv2DBackpropFilterBias; }
const OpDef& conv2d_backprop_filter_bias_pool_op() { return kConv2DBackpropFilterBiasPool; }
const OpDef& conv2d_op() { return kConv2D; }
const OpDef& max_pool2d_grad_op() { return kMaxPool2DGrad; }
const OpDef& max_pool2d_grad_relu_op() { return kMaxPool2DGradRelu; }

Tensor conv2d_backprop_input(const Tensor& g, const Tensor& w, const Tensor& like, const Conv2DOptions& o) {
  return call(kConv2DBackpropInput, {g, w, like}, conv_attrs(o));
}
Tensor conv2d_backprop_filter(const Tensor& x, const Tensor& g, const Tensor& like, const Conv2DOptions& o) {
  return call(kConv2DBackpropFilter, {x, g, like}, conv_attrs(o));
}
Tensor conv2d_transpose(const Tensor& x, const Tensor& w, std::vector<std::int64_t> output_size,
                        const Conv2DOptions& o) {
  Attrs a = conv_attrs(o);
  a.set("output_size", std::move(output_size));
  return call(kConv2DTranspose, {x, w}, a);
}
std::int64_t conv_transpose_output_length(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                          const std::string& padding, std::int64_t output_padding,
                                          std::int64_t dilation) {
  if (in < 0) return -1;
  const std::int64_t span = (kernel - 1) * dilation + 1;
  if (padding == "valid")
    return (in - 1) * stride + span + (output_padding < 0 ? std::max<std::int64_t>(stride - span, 0) : output_padding);
  if (padding == "same") return output_padding < 0 ? in * stride : (in - 1) * stride + span % 2 + output_padding;
  throw ValueError("[conv_transpose_output_length] padding must be \"same\" or \"valid\", got \"" + padding + "\"");
}
Tensor max_pool2d(const Tensor& x, const Pool2DOptions& o) { return call(kMaxPool2D, {x}, pool_attrs(o)); }
Tensor avg_pool2d(const Tensor& x, const Pool2DOptions& o) { return call(kAvgPool2D, {x}, pool_attrs(o)); }
Tensor max_pool2d_grad(const Tensor& x, const Tensor& y, const Tensor& g, const Pool2DOptions& o) {
  return call(kMaxPool2DGrad, {x, y, g}, pool_attrs(o));
}
Tensor max_pool2d_grad_grad(const Tensor& x, const Tensor& y, const Tensor& dd, const Pool2DOptions& o) {
  return call(kMaxPool2DGradGrad, {x, y, dd}, pool_attrs(o));
}
Tensor avg_pool2d_grad(const Tensor& g, const Tensor& like, const Pool2DOptions& o) {
  return call(kAvgPool2DGrad, {g, like}, pool_attrs(o));
}

// As TensorFlow names them (src/ops/api.h): NHWC data, HWIO filters; strides, ksize and dilations as one
// int, two, or four with 1 for the batch and channel dims; padding "SAME"/"VALID" in either case.
namespace {
std::vector<std::int64_t> spatial(const std::vector<std::int64_t>& v, const char* op, const char* what) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return v;
  if (v.size() == 4 && v[0] == 1 && v[3] == 1) return {v[1], v[2]};
  throw ValueError(std::string("[") + op + "] " + what +
                   " must be one int, two, or four with 1 for the batch and channel dims (NHWC)");
}
std::string padding_of(std::string p, const char* op) {
  for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (p != "same" && p != "valid")
    throw ValueError(std::string("[") + op + "] padding must be 'SAME' or 'VALID', got '" + p + "'");
  return p;
}
void nhwc_only(const std::string& format, const char* op) {
  if (format != "NHWC")
    throw ValueError(std::string("[") + op + "] data_format '" + format + "' is not supported: duet is NHWC only");
}
Tensor conv2d_api(const Tensor& input, const Tensor& filters, const std::vector<std::int64_t>& strides,
                  const std::string& padding, const std::string& data_format,
                  const std::vector<std::int64_t>& dilations) {
  nhwc_only(data_format, "conv2d");
  return conv2d(input, filters,
                {.strides = spatial(strides, "conv2d", "strides"),
                 .padding = padding_of(padding, "conv2d"),
                 .dilation_rate =
                     dilations.empty() ? std::vector<std::int64_t>{1, 1} : spatial(dilations, "conv2d", "dilations")});
}
// TensorFlow's output_shape is (N, H, W, C), checked against the input's batch and the filters' channels; (H, W)
// alone is taken too.
Tensor conv2d_transpose_api(const Tensor& input, const Tensor& filters, const std::vector<std::int64_t>& output_shape,
                            const std::vector<std::int64_t>& strides, const std::string& padding,
                            const std::string& data_format, const std::vector<std::int64_t>& dilations) {
  const char* op = "conv2d_transpose";
  nhwc_only(data_format, op);
  std::vector<std::int64_t> size = output_shape;
  if (output_shape.size() == 4) {
    const Shape& x = input.shape();
    const Shape& w = filters.shape();
    if ((x.rank() == 4 && x[0] >= 0 && output_shape[0] != x[0]) || (w.rank() == 4 && output_shape[3] != w[2])) {
      throw ValueError(std::string("[") + op + "] output_shape " + attr_value_str(output_shape) +
                       " must have the input's batch and the filters' out_channels (dim 2): input " + x.str() +
                       ", filters " + w.str());
    }
    size = {output_shape[1], output_shape[2]};
  } else if (output_shape.size() != 2) {
    throw ValueError(std::string("[") + op + "] output_shape must be (batch, height, width, channels) or (height, " +
                     "width), got " + attr_value_str(output_shape));
  }
  return conv2d_transpose(
      input, filters, size,
      {.strides = spatial(strides, op, "strides"),
       .padding = padding_of(padding, op),
       .dilation_rate = dilations.empty() ? std::vector<std::int64_t>{1, 1} : spatial(dilations, op, "dilations")});
}
template <bool Max>
Tensor pool_api(const Tensor& input, const std::vector<std::int64_t>& ksize, const std::vector<std::int64_t>& strides,
                const std::string& padding, const std::string& data_format) {
  const char* op = Max ? "max_pool2d" : "avg_pool2d";
  nhwc_only(data_format, op);
  const Pool2DOptions o{.pool_size = spatial(ksize, op, "ksize"),
                        .strides = spatial(strides, op, "strides"),
                        .padding = padding_of(padding, op)};
  return Max ? max_pool2d(input, o) : avg_pool2d(input, o);
}
const api::ApiRegistration kConvApi{{
    api::fn("conv2d", "nn", &conv2d_api, "input, filters, strides, padding, data_format='NHWC', dilations=None"),
    api::fn("conv2d_transpose", "nn", &conv2d_transpose_api,
            "input, filters, output_shape, strides, padding='SAME', data_format='NHWC', dilations=None"),
    api::fn("max_pool2d", "nn", &pool_api<true>, "input, ksize, strides, padding, data_format='NHWC'"),
    api::fn("avg_pool2d", "nn", &pool_api<false>, "input, ksize, strides, padding, data_format='NHWC'"),
}};
}  // namespace

}  // namespace duet
