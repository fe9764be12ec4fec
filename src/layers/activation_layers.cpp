// The activation layers with arguments (Keras's ReLU, LeakyReLU, PReLU, ELU, Softmax): classes, configs and
// their registration.
#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

void require_non_negative(const char* layer, const char* what, double v) {
  if (!(v >= 0)) {
    throw ValueError(std::string("[") + layer + "] " + what + " must be >= 0 (as in Keras), got " + std::to_string(v));
  }
}

}  // namespace

ReLULayer::ReLULayer(const ReLUOptions& o) : Layer("ReLU", o.name), o_(o) {
  if (o_.max_value) require_non_negative("ReLU", "max_value", *o_.max_value);
  require_non_negative("ReLU", "negative_slope", o_.negative_slope);
  require_non_negative("ReLU", "threshold", o_.threshold);
}

// Keras's relu(x, negative_slope, max_value, threshold), step for step (so its gradients at the kinks are
// Keras's too): the positive part (x above threshold, clipped to [0, max_value]) minus negative_slope times
// relu(threshold - x).
Tensor ReLULayer::call(const Tensor& x, bool) {
  const double slope = o_.negative_slope, t = o_.threshold;
  if (slope != 0 && !o_.max_value && t == 0) return leaky_relu(x, slope);
  Tensor y;
  bool clip_max = o_.max_value.has_value();
  if (t != 0) {
    y = where(x > t, x, internal::lit(x, 0));
  } else if (o_.max_value && *o_.max_value == 6) {
    y = relu6(x);
    clip_max = false;
  } else {
    y = relu(x);
  }
  if (clip_max) y = clip(y, 0, *o_.max_value);
  if (slope != 0) y = y - relu(t != 0 ? t - x : neg(x)) * slope;
  return y;
}
Ref<ReLULayer> ReLU(const ReLUOptions& o) { return make_layer<ReLULayer>(o); }
std::optional<LayerConfig> ReLULayer::get_config() const {
  LayerConfig c = base(*this);
  if (o_.max_value) c.set("max_value", *o_.max_value);
  return c.set("negative_slope", o_.negative_slope).set("threshold", o_.threshold);
}

LeakyReLULayer::LeakyReLULayer(const LeakyReLUOptions& o) : Layer("LeakyReLU", o.name), o_(o) {
  require_non_negative("LeakyReLU", "negative_slope", o_.negative_slope);
}
Tensor LeakyReLULayer::call(const Tensor& x, bool) { return leaky_relu(x, o_.negative_slope); }
Ref<LeakyReLULayer> LeakyReLU(const LeakyReLUOptions& o) { return make_layer<LeakyReLULayer>(o); }
std::optional<LayerConfig> LeakyReLULayer::get_config() const {
  return base(*this).set("negative_slope", o_.negative_slope);
}

PReLULayer::PReLULayer(const PReLUOptions& o) : Layer("PReLU", o.name), o_(o) {
  for (auto a : o_.shared_axes) {
    if (a < 1) {
      throw ValueError("[PReLU] shared_axes counts from 1, the first axis after the batch; got " + std::to_string(a));
    }
  }
}
void PReLULayer::build(const std::vector<Shape>& s) {
  const Shape& in = s[0];
  if (in.rank() < 2) {
    throw ShapeError("[" + name() + "] expects inputs of rank >= 2 (batch, ...), got shape " + in.str() +
                     "; reshape a vector of features to (1, n)");
  }
  std::vector<std::int64_t> alpha_shape;
  for (int d = 1; d < in.rank(); ++d) alpha_shape.push_back(in[d]);
  for (auto a : o_.shared_axes) {
    if (a >= in.rank()) {
      throw ShapeError("[" + name() + "] shared_axes has axis " + std::to_string(a) + " but the input " + in.str() +
                       " has axes 1.." + std::to_string(in.rank() - 1) + " after the batch");
    }
    alpha_shape[static_cast<std::size_t>(a - 1)] = 1;
  }
  for (auto d : alpha_shape) {
    if (d < 0) {
      throw ShapeError("[" + name() + "] needs every per-example dim known to size alpha, got input shape " + in.str() +
                       "; share the unknown axes (shared_axes)");
    }
  }
  alpha_ = add_weight("alpha", Shape(alpha_shape), {.initializer = o_.alpha_initializer});
}
// prelu(x) = relu(x) - alpha relu(-x), as Keras writes it.
Tensor PReLULayer::call(const Tensor& x, bool) {
  if (x.rank() != alpha_.shape().rank() + 1) {
    throw ShapeError("[" + name() + "] was built for inputs of rank " + std::to_string(alpha_.shape().rank() + 1) +
                     ", got shape " + x.shape().str());
  }
  return relu(x) - alpha_ * relu(neg(x));
}
Ref<PReLULayer> PReLU(const PReLUOptions& o) { return make_layer<PReLULayer>(o); }
std::optional<LayerConfig> PReLULayer::get_config() const {
  LayerConfig c = base(*this);
  set_initializer(c, "alpha_initializer", o_.alpha_initializer);
  if (!o_.shared_axes.empty()) c.set("shared_axes", o_.shared_axes);
  return c;
}

ELULayer::ELULayer(const ELUOptions& o) : Layer("ELU", o.name), o_(o) {}
Tensor ELULayer::call(const Tensor& x, bool) { return elu(x, o_.alpha); }
Ref<ELULayer> ELU(const ELUOptions& o) { return make_layer<ELULayer>(o); }
std::optional<LayerConfig> ELULayer::get_config() const { return base(*this).set("alpha", o_.alpha); }

SoftmaxLayer::SoftmaxLayer(const SoftmaxOptions& o) : Layer("Softmax", o.name), o_(o) {}
Tensor SoftmaxLayer::call(const Tensor& x, bool) {
  const std::int64_t r = x.rank();
  if (o_.axis < -r || o_.axis >= r) {
    throw ShapeError("[" + name() + "] axis " + std::to_string(o_.axis) + " is out of range for inputs of shape " +
                     x.shape().str() + "; use an axis in [" + std::to_string(-r) + ", " + std::to_string(r - 1) + "]");
  }
  return softmax(x, o_.axis);
}
Ref<SoftmaxLayer> Softmax(const SoftmaxOptions& o) { return make_layer<SoftmaxLayer>(o); }
std::optional<LayerConfig> SoftmaxLayer::get_config() const { return base(*this).set("axis", o_.axis); }

namespace {

// With Keras's arguments, positional ones in Keras's order.
const bool g_registered = [] {
  register_layer("ReLU",
                 [](const LayerConfig& c) {
                   ReLUOptions o{.name = name_of(c)};
                   if (c.has("max_value")) o.max_value = c.get_double("max_value");
                   opt(c, "negative_slope", o.negative_slope);
                   opt(c, "threshold", o.threshold);
                   return LayerRef(ReLU(o));
                 },
                 {"max_value", "negative_slope", "threshold"});
  register_layer("LeakyReLU",
                 [](const LayerConfig& c) {
                   LeakyReLUOptions o{.name = name_of(c)};
                   opt(c, "alpha", o.negative_slope);  // Keras's deprecated name for it
                   opt(c, "negative_slope", o.negative_slope);
                   return LayerRef(LeakyReLU(o));
                 },
                 {"negative_slope"});
  register_layer("PReLU",
                 [](const LayerConfig& c) {
                   unsupported(c, {"alpha_regularizer", "alpha_constraint"}, kNoRegularizers);
                   PReLUOptions o{.name = name_of(c)};
                   opt(c, "alpha_initializer", o.alpha_initializer);
                   if (c.has("shared_axes")) {
                     const ConfigValue& v = c.get("shared_axes");
                     o.shared_axes = std::holds_alternative<std::int64_t>(v)
                                         ? std::vector<std::int64_t>{std::get<std::int64_t>(v)}
                                         : c.get_ints("shared_axes");
                   }
                   return LayerRef(PReLU(o));
                 },
                 {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"});
  register_layer("ELU",
                 [](const LayerConfig& c) {
                   ELUOptions o{.name = name_of(c)};
                   opt(c, "alpha", o.alpha);
                   return LayerRef(ELU(o));
                 },
                 {"alpha"});
  register_layer("Softmax",
                 [](const LayerConfig& c) {
                   SoftmaxOptions o{.name = name_of(c)};
                   opt(c, "axis", o.axis);
                   return LayerRef(Softmax(o));
                 },
                 {"axis"});
  return true;
}();

}  // namespace
}  // namespace duet::layers
