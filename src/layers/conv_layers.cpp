// Convolution and 2-D pooling layers over NHWC images (pooling_layers.cpp: the other poolings).
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

void require_rank(const Layer& l, const Shape& s, int rank, const char* what) {
  if (s.rank() != rank) {
    throw ShapeError("[" + l.name() + "] expects " + what + " inputs of rank " + std::to_string(rank) + ", got shape " +
                     s.str());
  }
}

}  // namespace

Conv2DLayer::Conv2DLayer(std::int64_t filters, std::vector<std::int64_t> k, const Conv2DOptions& o)
    : Layer("Conv2D", o.name), filters_(filters), kernel_size_(std::move(k)), o_(o), act_(activation(o_.activation)) {
  if (filters <= 0 || kernel_size_.size() != 2 || kernel_size_[0] <= 0 || kernel_size_[1] <= 0) {
    throw ValueError("[Conv2D] needs filters > 0 and a kernel_size of two positive numbers, got filters " +
                     std::to_string(filters));
  }
}

void Conv2DLayer::build(const std::vector<Shape>& s) {
  require_rank(*this, s[0], 4, "NHWC");
  if (s[0][3] < 0) throw ShapeError("[" + name() + "] needs a known channel dim, got " + s[0].str());
  kernel_ = add_weight("kernel", Shape{kernel_size_[0], kernel_size_[1], s[0][3], filters_},
                       {.initializer = o_.kernel_initializer});
  if (o_.use_bias) bias_ = add_weight("bias", Shape{filters_}, {.initializer = o_.bias_initializer});
}

Tensor Conv2DLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), 4, "NHWC");
  Tensor y = conv2d(x, kernel_, {.strides = o_.strides, .padding = o_.padding, .dilation_rate = o_.dilation_rate});
  if (o_.use_bias) y = bias_add(y, bias_);
  return act_(y);
}

Ref<Conv2DLayer> Conv2D(std::int64_t filters, std::vector<std::int64_t> k, const Conv2DOptions& o) {
  return make_layer<Conv2DLayer>(filters, std::move(k), o);
}

Pooling2DLayer::Pooling2DLayer(bool is_max, const Pooling2DOptions& o)
    : Layer(is_max ? "MaxPooling2D" : "AveragePooling2D", o.name), max_(is_max), o_(o) {}

Tensor Pooling2DLayer::call(const Tensor& x, bool) {
  Pool2DOptions p{.pool_size = o_.pool_size, .strides = o_.strides, .padding = o_.padding};
  return max_ ? max_pool2d(x, p) : avg_pool2d(x, p);
}

Ref<Pooling2DLayer> MaxPooling2D(const Pooling2DOptions& o) { return make_layer<Pooling2DLayer>(true, o); }
Ref<Pooling2DLayer> AveragePooling2D(const Pooling2DOptions& o) { return make_layer<Pooling2DLayer>(false, o); }

}  // namespace duet::layers
