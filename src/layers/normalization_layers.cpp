// LayerNormalization, GroupNormalization, UnitNormalization and Rescaling: classes, configs and their
// registration.
#include <algorithm>

#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

// `axis` as Keras gives it: one integer or a list of them; each in [-rank, rank) and not the batch axis.
std::vector<std::int64_t> resolve_axes(const std::string& layer, const std::vector<std::int64_t>& axis,
                                       const Shape& in) {
  const std::int64_t r = in.rank();
  if (axis.empty()) throw ValueError("[" + layer + "] axis is empty; give the axes to normalize over (-1: the last)");
  std::vector<std::int64_t> out;
  for (std::int64_t a : axis) {
    if (a < -r || a >= r || a == 0 || a == -r) {
      throw ShapeError("[" + layer + "] axis " + std::to_string(a) + " is out of range for inputs of shape " +
                       in.str() + "; use axes in 1.." + std::to_string(r - 1) + " (or -1.." + std::to_string(1 - r) +
                       "), the batch axis excluded");
    }
    out.push_back(a < 0 ? a + r : a);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw ValueError("[" + layer + "] axis names an axis twice: " + Shape(axis).str());
  }
  return out;
}

std::vector<std::int64_t> axes_in(const LayerConfig& c, std::vector<std::int64_t> fallback) {
  if (!c.has("axis")) return fallback;
  if (const auto* one = std::get_if<std::int64_t>(&c.get("axis"))) return {*one};
  return c.get_ints("axis");
}
LayerConfig& set_axes(LayerConfig& c, const std::vector<std::int64_t>& axis) {
  return axis.size() == 1 ? c.set("axis", axis[0]) : c.set("axis", axis);
}

}  // namespace

LayerNormalizationLayer::LayerNormalizationLayer(const LayerNormalizationOptions& o)
    : Layer("LayerNormalization", o.name), o_(o) {
  if (!(o_.epsilon > 0))
    throw ValueError("[LayerNormalization] epsilon must be > 0, got " + std::to_string(o_.epsilon));
}

void LayerNormalizationLayer::build(const std::vector<Shape>& s) {
  const Shape& in = s[0];
  axes_ = resolve_axes(name(), o_.axis, in);
  std::vector<std::int64_t> param;
  bshape_.assign(static_cast<std::size_t>(in.rank()), 1);
  for (std::int64_t a : axes_) {
    if (in[a] < 0) {
      throw ShapeError("[" + name() +
                       "] needs the normalized axes' sizes known to size gamma and beta, got input shape " + in.str());
    }
    param.push_back(in[a]);
    bshape_[static_cast<std::size_t>(a)] = in[a];
  }
  if (o_.scale || o_.rms_scaling) gamma_ = add_weight("gamma", Shape(param), {.initializer = o_.gamma_initializer});
  if (o_.center && !o_.rms_scaling) beta_ = add_weight("beta", Shape(param), {.initializer = o_.beta_initializer});
}

Tensor LayerNormalizationLayer::call(const Tensor& x_in, bool) {
  if (x_in.rank() != static_cast<std::int64_t>(bshape_.size())) {
    throw ShapeError("[" + name() + "] was built for inputs of rank " + std::to_string(bshape_.size()) +
                     ", got shape " + x_in.shape().str());
  }
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast(x_in, DType::Float32);
  Tensor y;
  if (o_.rms_scaling) {
    // Keras 3.15's computation, which users porting a model get there: x (not centered) over the standard
    // deviation, although its documentation speaks of the root mean square.
    y = x * rsqrt(mean(square(x - mean(x, axes_, true)), axes_, true) + o_.epsilon);
  } else {
    Tensor m = mean(x, axes_, true);
    Tensor centered = x - m;
    y = centered * rsqrt(mean(square(centered), axes_, true) + o_.epsilon);
  }
  if (gamma_.defined()) y = y * reshape(gamma_.value(), bshape_);
  if (beta_.defined()) y = y + reshape(beta_.value(), bshape_);
  return y;
}
Ref<LayerNormalizationLayer> LayerNormalization(const LayerNormalizationOptions& o) {
  return make_layer<LayerNormalizationLayer>(o);
}
std::optional<LayerConfig> LayerNormalizationLayer::get_config() const {
  LayerConfig c = base(*this);
  set_axes(c, o_.axis).set("epsilon", o_.epsilon).set("center", o_.center).set("scale", o_.scale);
  c.set("rms_scaling", o_.rms_scaling);
  set_initializer(c, "beta_initializer", o_.beta_initializer);
  set_initializer(c, "gamma_initializer", o_.gamma_initializer);
  return c;
}

GroupNormalizationLayer::GroupNormalizationLayer(const GroupNormalizationOptions& o)
    : Layer("GroupNormalization", o.name), o_(o) {
  if (o_.groups == 0 || o_.groups < -1) {
    throw ValueError("[GroupNormalization] groups must be positive (or -1: one per channel), got " +
                     std::to_string(o_.groups));
  }
  if (!(o_.epsilon > 0))
    throw ValueError("[GroupNormalization] epsilon must be > 0, got " + std::to_string(o_.epsilon));
}

void GroupNormalizationLayer::build(const std::vector<Shape>& s) {
  const Shape& in = s[0];
  const std::int64_t r = in.rank();
  if (r < 2) throw ShapeError("[" + name() + "] expects inputs of rank >= 2 (batch, ..., channels), got " + in.str());
  if (o_.axis != -1 && o_.axis != r - 1) {
    throw ValueError("[" + name() + "] normalizes groups of the last axis (channels_last) only, got axis " +
                     std::to_string(o_.axis) + " for inputs of shape " + in.str() + "; move the channels last");
  }
  for (std::int64_t d = 1; d < r; ++d) {
    if (in[d] < 0) {
      throw ShapeError("[" + name() + "] needs every per-example dim known (it regroups the channels), got input " +
                       "shape " + in.str());
    }
  }
  const std::int64_t channels = in[r - 1];
  groups_ = o_.groups == -1 ? channels : o_.groups;
  if (groups_ > channels || channels % groups_ != 0) {
    throw ValueError("[" + name() + "] " + std::to_string(channels) + " channels cannot be split into " +
                     std::to_string(groups_) + " equal groups (input shape " + in.str() +
                     "); use a number of groups that divides the channels");
  }
  if (o_.scale) gamma_ = add_weight("gamma", Shape{channels}, {.initializer = o_.gamma_initializer});
  if (o_.center) beta_ = add_weight("beta", Shape{channels}, {.initializer = o_.beta_initializer});
}

// Keras's computation: x regrouped to (batch, ..., groups, channels / groups), its moments over every axis but
// the batch and the group, (x - mean) / sqrt(variance + epsilon), back to x's shape, then gamma and beta.
Tensor GroupNormalizationLayer::call(const Tensor& x_in, bool) {
  const Shape& in = x_in.shape();
  const std::int64_t r = in.rank(), channels = in[r - 1];
  if (r < 2 || channels != (gamma_.defined() ? gamma_.shape()[0] : channels) || channels % groups_ != 0) {
    throw ShapeError("[" + name() + "] was built for " + std::to_string(groups_) + " groups of channels, got shape " +
                     in.str());
  }
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast(x_in, DType::Float32);
  std::vector<std::int64_t> grouped{-1}, back{-1}, axes;
  for (std::int64_t d = 1; d < r - 1; ++d) {
    grouped.push_back(in[d]);
    back.push_back(in[d]);
    axes.push_back(d);
  }
  grouped.push_back(groups_);
  grouped.push_back(channels / groups_);
  back.push_back(channels);
  axes.push_back(r);  // within a group
  Tensor g = reshape(x, grouped);
  Tensor centered = g - mean(g, axes, true);
  Tensor y = reshape(centered * rsqrt(mean(square(centered), axes, true) + o_.epsilon), back);
  if (gamma_.defined()) y = y * gamma_.value();
  if (beta_.defined()) y = y + beta_.value();
  return y;
}
Ref<GroupNormalizationLayer> GroupNormalization(const GroupNormalizationOptions& o) {
  return make_layer<GroupNormalizationLayer>(o);
}
std::optional<LayerConfig> GroupNormalizationLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("groups", o_.groups).set("axis", o_.axis).set("epsilon", o_.epsilon).set("center", o_.center);
  c.set("scale", o_.scale);
  set_initializer(c, "beta_initializer", o_.beta_initializer);
  set_initializer(c, "gamma_initializer", o_.gamma_initializer);
  return c;
}

UnitNormalizationLayer::UnitNormalizationLayer(const UnitNormalizationOptions& o)
    : Layer("UnitNormalization", o.name), o_(o) {}
Tensor UnitNormalizationLayer::call(const Tensor& x_in, bool) {
  const std::vector<std::int64_t> axes = resolve_axes(name(), o_.axis, x_in.shape());
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast(x_in, DType::Float32);
  Tensor ss = sum(square(x), axes, true);
  return x * rsqrt(maximum(ss, internal::lit(ss, 1e-12)));
}
Ref<UnitNormalizationLayer> UnitNormalization(const UnitNormalizationOptions& o) {
  return make_layer<UnitNormalizationLayer>(o);
}
std::optional<LayerConfig> UnitNormalizationLayer::get_config() const {
  LayerConfig c = base(*this);
  return set_axes(c, o_.axis);
}

RescalingLayer::RescalingLayer(double scale, const RescalingOptions& o)
    : Layer("Rescaling", o.name), scale_(scale), o_(o) {}
Tensor RescalingLayer::call(const Tensor& x_in, bool) {
  Tensor x = is_floating(x_in.dtype()) ? x_in : cast(x_in, DType::Float32);  // uint8 images become floats
  return x * scale_ + o_.offset;
}
Ref<RescalingLayer> Rescaling(double scale, const RescalingOptions& o) { return make_layer<RescalingLayer>(scale, o); }
std::optional<LayerConfig> RescalingLayer::get_config() const {
  return base(*this).set("scale", scale_).set("offset", o_.offset);
}

namespace {

const bool g_registered = [] {
  register_layer("LayerNormalization",
                 [](const LayerConfig& c) {
                   LayerNormalizationOptions o{.name = name_of(c)};
                   o.axis = axes_in(c, o.axis);
                   opt(c, "epsilon", o.epsilon);
                   opt(c, "center", o.center);
                   opt(c, "scale", o.scale);
                   opt(c, "rms_scaling", o.rms_scaling);
                   opt(c, "beta_initializer", o.beta_initializer);
                   opt(c, "gamma_initializer", o.gamma_initializer);
                   unsupported(c, {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"},
                               kNoRegularizers);
                   return LayerRef(LayerNormalization(o));
                 },
                 {"axis", "epsilon", "center", "scale"});
  register_layer("GroupNormalization",
                 [](const LayerConfig& c) {
                   GroupNormalizationOptions o{.name = name_of(c)};
                   opt(c, "groups", o.groups);
                   opt(c, "axis", o.axis);
                   opt(c, "epsilon", o.epsilon);
                   opt(c, "center", o.center);
                   opt(c, "scale", o.scale);
                   opt(c, "beta_initializer", o.beta_initializer);
                   opt(c, "gamma_initializer", o.gamma_initializer);
                   unsupported(c, {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"},
                               kNoRegularizers);
                   return LayerRef(GroupNormalization(o));
                 },
                 {"groups", "axis", "epsilon", "center", "scale"});
  register_layer("UnitNormalization",
                 [](const LayerConfig& c) {
                   UnitNormalizationOptions o{.name = name_of(c)};
                   o.axis = axes_in(c, o.axis);
                   return LayerRef(UnitNormalization(o));
                 },
                 {"axis"});
  register_layer("Rescaling",
                 [](const LayerConfig& c) {
                   RescalingOptions o{.name = name_of(c)};
                   opt(c, "offset", o.offset);
                   return LayerRef(Rescaling(c.get_double("scale"), o));
                 },
                 {"scale", "offset"});
  return true;
}();

}  // namespace
}  // namespace duet::layers
