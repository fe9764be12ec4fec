// Conv2DTranspose and Conv1DTranspose (the latter over a height of 1): conv2d_transpose with Keras's output sizes,
// kernels laid out as Keras's (spatial..., filters, in_channels). Classes, configs and registration.
#include "config_helpers.h"
#include "conv_args.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

void require_rank(const Layer& l, const Shape& s, int rank, const char* what) {
  if (s.rank() != rank) {
    throw ShapeError("[" + l.name() + "] expects " + what + " inputs of rank " + std::to_string(rank) + ", got shape " +
                     s.str());
  }
}

// Keras's output length along spatial dim i of a transposed convolution.
std::int64_t out_len(std::int64_t in, std::size_t i, const std::vector<std::int64_t>& k,
                     const std::vector<std::int64_t>& s, const std::vector<std::int64_t>& d, const std::string& padding,
                     const std::vector<std::int64_t>& op) {
  return conv_transpose_output_length(in, k[i], s[i], padding, op.empty() ? -1 : op[i], d[i]);
}

template <class Options>
void check_options(const char* cls, std::int64_t filters, const std::vector<std::int64_t>& k, const Options& o,
                   std::size_t rank) {
  conv_args::filters_positive(cls, filters);
  conv_args::positive(cls, "kernel_size", k, rank);
  conv_args::positive(cls, "strides", o.strides, rank);
  conv_args::positive(cls, "dilation_rate", o.dilation_rate, rank);
  conv_args::padding_one_of(cls, o.padding, false);
  conv_args::output_padding(cls, o.output_padding, o.strides);
}

template <class Options>
void write_config(LayerConfig& c, std::int64_t filters, const std::vector<std::int64_t>& k, const Options& o) {
  c.set("filters", filters).set("kernel_size", k).set("strides", o.strides).set("padding", o.padding);
  if (!o.output_padding.empty()) c.set("output_padding", o.output_padding);  // none: Keras's default sizes
  c.set("dilation_rate", o.dilation_rate).set("activation", o.activation).set("use_bias", o.use_bias);
  set_initializer(c, "kernel_initializer", o.kernel_initializer);
  set_initializer(c, "bias_initializer", o.bias_initializer);
}

template <class Options>
Options read_config(const LayerConfig& c, std::size_t rank) {
  no_regularizers(c);
  only(c, "data_format", std::string("channels_last"), kNhwc);
  Options o{.name = name_of(c)};
  opt(c, "strides", o.strides, rank);
  opt(c, "padding", o.padding);
  // Keras writes output_padding=None for its default sizes.
  if (c.has("output_padding")) {
    const auto* none = std::get_if<std::vector<std::int64_t>>(&c.get("output_padding"));
    if (!none || !none->empty()) o.output_padding = c.get_ints("output_padding", rank);
  }
  opt(c, "dilation_rate", o.dilation_rate, rank);
  opt(c, "activation", o.activation);
  opt(c, "use_bias", o.use_bias);
  opt(c, "kernel_initializer", o.kernel_initializer);
  opt(c, "bias_initializer", o.bias_initializer);
  return o;
}

}  // namespace

Conv2DTransposeLayer::Conv2DTransposeLayer(std::int64_t filters, std::vector<std::int64_t> k,
                                           const Conv2DTransposeOptions& o)
    : Layer("Conv2DTranspose", o.name),
      filters_(filters),
      kernel_size_(std::move(k)),
      o_(o),
      act_(activation(o_.activation)) {
  check_options("Conv2DTranspose", filters, kernel_size_, o_, 2);
}

void Conv2DTransposeLayer::build(const std::vector<Shape>& s) {
  require_rank(*this, s[0], 4, "NHWC");
  if (s[0][3] < 0) throw ShapeError("[" + name() + "] needs a known channel dim, got " + s[0].str());
  kernel_ = add_weight("kernel", Shape{kernel_size_[0], kernel_size_[1], filters_, s[0][3]},
                       {.initializer = o_.kernel_initializer});
  if (o_.use_bias) bias_ = add_weight("bias", Shape{filters_}, {.initializer = o_.bias_initializer});
}

std::optional<std::vector<Shape>> Conv2DTransposeLayer::compute_output_shape(const std::vector<Shape>& s) {
  require_rank(*this, s[0], 4, "NHWC");
  const auto& k = kernel_size_;
  return std::vector<Shape>{
      Shape{s[0][0], out_len(s[0][1], 0, k, o_.strides, o_.dilation_rate, o_.padding, o_.output_padding),
            out_len(s[0][2], 1, k, o_.strides, o_.dilation_rate, o_.padding, o_.output_padding), filters_}};
}

Tensor Conv2DTransposeLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), 4, "NHWC");
  const Shape out = (*compute_output_shape({x.shape()}))[0];
  if (out[1] < 0 || out[2] < 0) {
    throw ShapeError("[" + name() + "] needs known height and width to size its output, got " + x.shape().str());
  }
  Tensor y = conv2d_transpose(x, kernel_, {out[1], out[2]},
                              {.strides = o_.strides, .padding = o_.padding, .dilation_rate = o_.dilation_rate});
  if (o_.use_bias) y = bias_add(y, bias_);
  return act_(y);
}

Ref<Conv2DTransposeLayer> Conv2DTranspose(std::int64_t filters, std::vector<std::int64_t> k,
                                          const Conv2DTransposeOptions& o) {
  return make_layer<Conv2DTransposeLayer>(filters, std::move(k), o);
}

std::optional<LayerConfig> Conv2DTransposeLayer::get_config() const {
  LayerConfig c = base(*this);
  write_config(c, filters_, kernel_size_, o_);
  return c;
}

Conv1DTransposeLayer::Conv1DTransposeLayer(std::int64_t filters, std::vector<std::int64_t> k,
                                           const Conv1DTransposeOptions& o)
    : Layer("Conv1DTranspose", o.name),
      filters_(filters),
      kernel_size_(std::move(k)),
      o_(o),
      act_(activation(o_.activation)) {
  check_options("Conv1DTranspose", filters, kernel_size_, o_, 1);
}

void Conv1DTransposeLayer::build(const std::vector<Shape>& s) {
  require_rank(*this, s[0], 3, "(batch, steps, channels)");
  if (s[0][2] < 0) throw ShapeError("[" + name() + "] needs a known channel dim, got " + s[0].str());
  kernel_ = add_weight("kernel", Shape{kernel_size_[0], filters_, s[0][2]}, {.initializer = o_.kernel_initializer});
  if (o_.use_bias) bias_ = add_weight("bias", Shape{filters_}, {.initializer = o_.bias_initializer});
}

std::optional<std::vector<Shape>> Conv1DTransposeLayer::compute_output_shape(const std::vector<Shape>& s) {
  require_rank(*this, s[0], 3, "(batch, steps, channels)");
  return std::vector<Shape>{
      Shape{s[0][0], out_len(s[0][1], 0, kernel_size_, o_.strides, o_.dilation_rate, o_.padding, o_.output_padding),
            filters_}};
}

// Over a height of 1: (batch, 1, steps, channels) with a (1, k, filters, channels) kernel.
Tensor Conv1DTransposeLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), 3, "(batch, steps, channels)");
  const Shape out = (*compute_output_shape({x.shape()}))[0];
  if (out[1] < 0)
    throw ShapeError("[" + name() + "] needs a known step count to size its output, got " + x.shape().str());
  Tensor y = conv2d_transpose(
      expand_dims(x, 1), expand_dims(kernel_, 0), {1, out[1]},
      {.strides = {1, o_.strides[0]}, .padding = o_.padding, .dilation_rate = {1, o_.dilation_rate[0]}});
  y = squeeze(y, {1});
  if (o_.use_bias) y = bias_add(y, bias_);
  return act_(y);
}

Ref<Conv1DTransposeLayer> Conv1DTranspose(std::int64_t filters, std::vector<std::int64_t> k,
                                          const Conv1DTransposeOptions& o) {
  return make_layer<Conv1DTransposeLayer>(filters, std::move(k), o);
}

std::optional<LayerConfig> Conv1DTransposeLayer::get_config() const {
  LayerConfig c = base(*this);
  write_config(c, filters_, kernel_size_, o_);
  return c;
}

namespace {
const bool g_registered = [] {
  register_layer("Conv2DTranspose",
                 [](const LayerConfig& c) {
                   auto o = read_config<Conv2DTransposeOptions>(c, 2);
                   return LayerRef(Conv2DTranspose(c.get_int("filters"), c.get_ints("kernel_size", 2), o));
                 },
                 {"filters", "kernel_size", "strides", "padding"});
  register_layer("Conv1DTranspose",
                 [](const LayerConfig& c) {
                   auto o = read_config<Conv1DTransposeOptions>(c, 1);
                   return LayerRef(Conv1DTranspose(c.get_int("filters"), c.get_ints("kernel_size", 1), o));
                 },
                 {"filters", "kernel_size", "strides", "padding"});
  return true;
}();
}  // namespace

}  // namespace duet::layers
