// Conv1D: conv2d over a height of 1; "causal" padding puts (kernel - 1) * dilation zeros before the steps, then
// runs "valid", so output t sees inputs up to t only. Class, config and registration.
#include "config_helpers.h"
#include "conv_args.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

void require_steps(const Layer& l, const Shape& s) {
  if (s.rank() != 3) {
    throw ShapeError("[" + l.name() + "] expects (batch, steps, channels) inputs of rank 3, got shape " + s.str() +
                     "; add a channels dim of 1 (Reshape) to a (batch, steps) input");
  }
}

// x with `pad` zeros before its first element along axis 2 (zeros_like of one step, so a NaN in x stays out of
// them; the step count may be unknown).
Tensor zeros_before(const Tensor& x, std::int64_t pad) {
  if (pad == 0) return x;
  Tensor zero = zeros_like(slice(x, {0, 0, 0, 0}, {-1, -1, 1, -1}));
  std::vector<Tensor> parts(static_cast<std::size_t>(pad), zero);
  parts.push_back(x);
  return concat(parts, 2);
}

}  // namespace

Conv1DLayer::Conv1DLayer(std::int64_t filters, std::vector<std::int64_t> k, const Conv1DOptions& o)
    : Layer("Conv1D", o.name), filters_(filters), kernel_size_(std::move(k)), o_(o), act_(activation(o_.activation)) {
  conv_args::filters_positive("Conv1D", filters);
  conv_args::positive("Conv1D", "kernel_size", kernel_size_, 1);
  conv_args::positive("Conv1D", "strides", o_.strides, 1);
  conv_args::positive("Conv1D", "dilation_rate", o_.dilation_rate, 1);
  conv_args::padding_one_of("Conv1D", o_.padding, true);
}

void Conv1DLayer::build(const std::vector<Shape>& s) {
  require_steps(*this, s[0]);
  if (s[0][2] < 0) throw ShapeError("[" + name() + "] needs a known channel dim, got " + s[0].str());
  kernel_ = add_weight("kernel", Shape{kernel_size_[0], s[0][2], filters_}, {.initializer = o_.kernel_initializer});
  if (o_.use_bias) bias_ = add_weight("bias", Shape{filters_}, {.initializer = o_.bias_initializer});
}

Tensor Conv1DLayer::call(const Tensor& x, bool) {
  require_steps(*this, x.shape());
  const bool causal = o_.padding == "causal";
  Tensor x4 = expand_dims(x, 1);  // (batch, 1, steps, channels)
  if (causal) x4 = zeros_before(x4, (kernel_size_[0] - 1) * o_.dilation_rate[0]);
  Tensor y = conv2d(x4, expand_dims(kernel_, 0),
                    {.strides = {1, o_.strides[0]},
                     .padding = causal ? "valid" : o_.padding,
                     .dilation_rate = {1, o_.dilation_rate[0]}});
  y = squeeze(y, {1});
  if (o_.use_bias) y = bias_add(y, bias_);
  return act_(y);
}

Ref<Conv1DLayer> Conv1D(std::int64_t filters, std::vector<std::int64_t> k, const Conv1DOptions& o) {
  return make_layer<Conv1DLayer>(filters, std::move(k), o);
}

std::optional<LayerConfig> Conv1DLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("filters", filters_).set("kernel_size", kernel_size_).set("strides", o_.strides).set("padding", o_.padding);
  c.set("dilation_rate", o_.dilation_rate).set("activation", o_.activation).set("use_bias", o_.use_bias);
  set_initializer(c, "kernel_initializer", o_.kernel_initializer);
  set_initializer(c, "bias_initializer", o_.bias_initializer);
  return c;
}

namespace {
const bool g_registered = [] {
  register_layer("Conv1D",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   only(c, "data_format", std::string("channels_last"), "duet's sequences are channels last");
                   only(c, "groups", std::int64_t{1}, "grouped convolutions are planned (issue 29)");
                   Conv1DOptions o{.name = name_of(c)};
                   opt(c, "strides", o.strides, 1);
                   opt(c, "padding", o.padding);
                   opt(c, "dilation_rate", o.dilation_rate, 1);
                   opt(c, "activation", o.activation);
                   opt(c, "use_bias", o.use_bias);
                   opt(c, "kernel_initializer", o.kernel_initializer);
                   opt(c, "bias_initializer", o.bias_initializer);
                   return LayerRef(Conv1D(c.get_int("filters"), c.get_ints("kernel_size", 1), o));
                 },
                 {"filters", "kernel_size", "strides", "padding"});
  return true;
}();
}  // namespace

}  // namespace duet::layers
