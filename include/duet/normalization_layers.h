#pragma once
// Normalization and rescaling layers (LayerNormalization, GroupNormalization, UnitNormalization, Rescaling). Part of
// <duet/layers.h>, which includes this header.
#include "duet/layers.h"

namespace duet::layers {

struct LayerNormalizationOptions {
  std::vector<std::int64_t> axis = {-1};  // the axes normalized over (and that gamma and beta span)
  double epsilon = 1e-3;
  bool center = true;        // beta
  bool scale = true;         // gamma
  bool rms_scaling = false;  // x / sqrt(variance + epsilon) * gamma, x not centered, no beta (Keras 3.15's)
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  std::string name;
};
// (x - mean) / sqrt(variance + epsilon) * gamma + beta, the moments over `axis` per example (Keras's).
class LayerNormalizationLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit LayerNormalizationLayer(const LayerNormalizationOptions& options = {});
  const LayerNormalizationOptions& options() const { return o_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  LayerNormalizationOptions o_;
  std::vector<std::int64_t> axes_;    // sorted, non-negative (after build)
  std::vector<std::int64_t> bshape_;  // gamma's and beta's shape broadcast against the input
  Variable gamma_, beta_;
};
Ref<LayerNormalizationLayer> LayerNormalization(const LayerNormalizationOptions& options = {});

struct GroupNormalizationOptions {
  std::int64_t groups = 32;  // channels per group = channels / groups; -1: one group per channel
  std::int64_t axis = -1;    // the channel axis (duet: the last only)
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Initializer beta_initializer = "zeros";
  Initializer gamma_initializer = "ones";
  std::string name;
};
// The channels split into `groups`, each group normalized over its channels and every non-batch axis, then
// gamma and beta per channel (Keras's GroupNormalization; groups = channels is instance normalization).
class GroupNormalizationLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit GroupNormalizationLayer(const GroupNormalizationOptions& options = {});
  const GroupNormalizationOptions& options() const { return o_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  GroupNormalizationOptions o_;
  std::int64_t groups_ = 0;
  Variable gamma_, beta_;
};
Ref<GroupNormalizationLayer> GroupNormalization(const GroupNormalizationOptions& options = {});

struct UnitNormalizationOptions {
  std::vector<std::int64_t> axis = {-1};
  std::string name;
};
// x / max(||x||_2, 1e-6) over `axis` (Keras's: x * rsqrt(max(sum(x^2), 1e-12))).
class UnitNormalizationLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit UnitNormalizationLayer(const UnitNormalizationOptions& options = {});
  const UnitNormalizationOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  UnitNormalizationOptions o_;
};
Ref<UnitNormalizationLayer> UnitNormalization(const UnitNormalizationOptions& options = {});

struct RescalingOptions {
  double offset = 0.0;
  std::string name;
};
// x * scale + offset in the layer's float dtype (Keras's Rescaling: images in [0, 255] to [0, 1] with 1/255).
class RescalingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit RescalingLayer(double scale, const RescalingOptions& options = {});
  Tensor call(const Tensor& x, bool training) override;

 private:
  double scale_;
  RescalingOptions o_;
};
Ref<RescalingLayer> Rescaling(double scale, const RescalingOptions& options = {});

}  // namespace duet::layers
