// The core layers: Dense, Activation, Flatten, Reshape, Dropout, Lambda (initializers: initializers.cpp).
#include <cmath>

#include "duet/layers.h"
#include "duet/linalg.h"
#include "duet/ops.h"
#include "duet/random.h"

namespace duet {
namespace {

std::string layer_name(const std::string& given) { return given; }

}  // namespace

namespace layers {

DenseLayer::DenseLayer(std::int64_t units, const DenseOptions& o)
    : Layer("Dense", layer_name(o.name)), units_(units), o_(o), act_(activation(o_.activation)) {
  if (units <= 0) throw ValueError("[Dense] units must be positive, got " + std::to_string(units));
}

void DenseLayer::build(const std::vector<Shape>& s) {
  std::int64_t in = s[0].rank() ? s[0][s[0].rank() - 1] : -1;
  if (s[0].rank() < 2) {
    throw ShapeError("[" + name() + "] expects inputs of rank >= 2 (batch, ..., features), got shape " + s[0].str() +
                     "; reshape a vector of features to (1, n) or (n, 1)");
  }
  if (in < 0) throw ShapeError("[" + name() + "] needs a known last input dim, got input shape " + s[0].str());
  kernel_ = add_weight("kernel", Shape{in, units_}, {.initializer = o_.kernel_initializer});
  if (o_.use_bias) bias_ = add_weight("bias", Shape{units_}, {.initializer = o_.bias_initializer});
}

Tensor DenseLayer::call(const Tensor& x, bool) {
  std::int64_t in = kernel_.shape()[0];
  if (x.rank() < 2 || (x.shape()[x.rank() - 1] >= 0 && x.shape()[x.rank() - 1] != in)) {
    throw ShapeError("[" + name() + "] expects inputs of rank >= 2 with last dim " + std::to_string(in) +
                     ", got shape " + x.shape().str());
  }
  Tensor y = matmul(x.rank() == 2 ? x : reshape(x, {-1, in}), kernel_);
  if (o_.use_bias) y = bias_add(y, bias_);
  if (x.rank() != 2) {
    std::vector<std::int64_t> s;
    for (int d = 0; d + 1 < x.rank(); ++d) s.push_back(x.shape()[d]);
    s.push_back(units_);
    if (std::count(s.begin(), s.end(), Shape::kUnknown) > 1) {
      throw ShapeError("[" + name() + "] an input of rank > 2 may have one unknown dim, got " + x.shape().str());
    }
    y = reshape(y, s);
  }
  return act_(y);
}

Ref<DenseLayer> Dense(std::int64_t units, const DenseOptions& options) {
  return make_layer<DenseLayer>(units, options);
}
Ref<DenseLayer> Dense(std::int64_t units, const char* act) {
  return make_layer<DenseLayer>(units, DenseOptions{.activation = act});
}

ActivationLayer::ActivationLayer(std::string act, const LayerOptions& o)
    : Layer("Activation", o.name), activation_(std::move(act)), fn_(duet::activation(activation_)) {}
Tensor ActivationLayer::call(const Tensor& x, bool) { return fn_(x); }
Ref<ActivationLayer> Activation(const std::string& act, const LayerOptions& o) {
  return make_layer<ActivationLayer>(act, o);
}

FlattenLayer::FlattenLayer(const LayerOptions& o) : Layer("Flatten", o.name) {}
Tensor FlattenLayer::call(const Tensor& x, bool) {
  if (x.rank() < 1) throw ShapeError("[" + name() + "] needs a batch dim, got a scalar");
  std::int64_t rest = 1;
  for (int d = 1; d < x.rank(); ++d) {
    if (x.shape()[d] < 0) throw ShapeError("[" + name() + "] needs known non-batch dims, got " + x.shape().str());
    if (__builtin_mul_overflow(rest, x.shape()[d], &rest))
      throw ShapeError("[" + name() + "] the non-batch dims of " + x.shape().str() + " hold too many elements");
  }
  return reshape(x, {-1, rest});
}
Ref<FlattenLayer> Flatten(const LayerOptions& o) { return make_layer<FlattenLayer>(o); }

ReshapeLayer::ReshapeLayer(std::vector<std::int64_t> target, const LayerOptions& o)
    : Layer("Reshape", o.name), target_(std::move(target)) {
  if (std::count(target_.begin(), target_.end(), -1) > 1)
    throw ValueError("[Reshape] target_shape may have one -1, got several");
  for (auto d : target_)
    if (d < -1 || d == 0)
      throw ValueError("[Reshape] target_shape dims must be positive (or one -1), got " + std::to_string(d));
}
Tensor ReshapeLayer::call(const Tensor& x, bool) {
  if (x.rank() < 1) throw ShapeError("[" + name() + "] needs a batch dim, got a scalar");
  std::vector<std::int64_t> s{x.shape()[0] < 0 ? -1 : x.shape()[0]};
  if (s[0] != -1 && std::count(target_.begin(), target_.end(), -1) > 0) s[0] = x.shape()[0];
  s.insert(s.end(), target_.begin(), target_.end());
  if (std::count(s.begin(), s.end(), -1) > 1) {
    throw ShapeError("[" + name() + "] target shape may use -1 only when the batch dim is known, got input " +
                     x.shape().str());
  }
  return reshape(x, s);
}
Ref<ReshapeLayer> Reshape(std::vector<std::int64_t> target, const LayerOptions& o) {
  return make_layer<ReshapeLayer>(std::move(target), o);
}

DropoutLayer::DropoutLayer(double r, const DropoutOptions& o)
    : Layer("Dropout", o.name),
      rate(r, name() + "/rate",
           [n = name()](double v) {
             if (!(v >= 0 && v < 1)) throw ValueError("[" + n + "] rate must be in [0, 1), got " + std::to_string(v));
           }),
      o_(o) {}
Tensor DropoutLayer::call(const Tensor& x, bool training) {
  return dropout(x, rate.value(DType::Float64), training, o_.seed);
}
Ref<DropoutLayer> Dropout(double rate, const DropoutOptions& o) { return make_layer<DropoutLayer>(rate, o); }

LambdaLayer::LambdaLayer(OneFn one, ManyFn many, const LambdaOptions& o)
    : Layer("Lambda", o.name), one_(std::move(one)), many_(std::move(many)), o_(o) {
  if (!one_ && !many_) throw ValueError("[Lambda] needs a function");
}

std::vector<Tensor> LambdaLayer::call(const std::vector<Tensor>& xs, bool) {
  Tensor y;
  if (one_) {
    if (xs.size() != 1)
      throw ValueError("[" + name() + "] wraps a one-input function but got " + std::to_string(xs.size()) + " inputs");
    y = one_(xs[0]);
  } else {
    y = many_(xs);
  }
  if (!y.defined()) throw ValueError("[" + name() + "] the wrapped function returned an undefined Tensor handle");
  if (o_.output_shape) {
    Shape want{Shape::kUnknown};
    for (auto d : *o_.output_shape) want.push_back(d);
    if (!want.compatible_with(y.shape())) {
      throw ShapeError("[" + name() + "] returned shape " + y.shape().str() + " but its output_shape says " +
                       want.str());
    }
  }
  return {y};
}

}  // namespace layers
}  // namespace duet
