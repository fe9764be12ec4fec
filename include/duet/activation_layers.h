#pragma once
// The activation layers with arguments (Keras's ReLU, LeakyReLU, PReLU, ELU, Softmax). Part of <duet/layers.h>, which
// includes this header.
#include "duet/layers.h"

namespace duet::layers {

struct ReLUOptions {
  std::optional<double> max_value;  // the largest output (>= 0); none: unbounded
  double negative_slope = 0.0;      // >= 0
  double threshold = 0.0;           // >= 0
  std::string name;
};
// Keras's relu with its arguments: min(x, max_value) for x > threshold, negative_slope * (x - threshold)
// otherwise.
class ReLULayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit ReLULayer(const ReLUOptions& options = {});
  const ReLUOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  ReLUOptions o_;
};
Ref<ReLULayer> ReLU(const ReLUOptions& options = {});

struct LeakyReLUOptions {
  double negative_slope = 0.3;  // Keras's LeakyReLU layer default (the leaky_relu activation's is 0.2)
  std::string name;
};
// x for x > 0, negative_slope * x otherwise.
class LeakyReLULayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit LeakyReLULayer(const LeakyReLUOptions& options = {});
  const LeakyReLUOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  LeakyReLUOptions o_;
};
Ref<LeakyReLULayer> LeakyReLU(const LeakyReLUOptions& options = {});

struct PReLUOptions {
  Initializer alpha_initializer = "zeros";
  // Axes (1 = the first after the batch) along which one alpha is shared: {1, 2} for (batch, h, w, c)
  // images learns one slope per channel.
  std::vector<std::int64_t> shared_axes;
  std::string name;
};
// relu(x) - alpha * relu(-x), with alpha a trainable weight of the per-example shape (1 on shared axes).
class PReLULayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit PReLULayer(const PReLUOptions& options = {});
  const PReLUOptions& options() const { return o_; }
  const Variable& alpha() const { return alpha_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  PReLUOptions o_;
  Variable alpha_;
};
Ref<PReLULayer> PReLU(const PReLUOptions& options = {});

struct ELUOptions {
  double alpha = 1.0;
  std::string name;
};
// x for x > 0, alpha * (exp(x) - 1) otherwise.
class ELULayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit ELULayer(const ELUOptions& options = {});
  const ELUOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  ELUOptions o_;
};
Ref<ELULayer> ELU(const ELUOptions& options = {});

struct SoftmaxOptions {
  std::int64_t axis = -1;
  std::string name;
};
// softmax along axis. (Keras's `mask` argument comes with masks, issue 29.)
class SoftmaxLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit SoftmaxLayer(const SoftmaxOptions& options = {});
  const SoftmaxOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  SoftmaxOptions o_;
};
Ref<SoftmaxLayer> Softmax(const SoftmaxOptions& options = {});

}  // namespace duet::layers
