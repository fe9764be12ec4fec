#pragma once
// Losses (the mean over the batch of a per-example loss) and streaming metrics (state in variables, so a
// traced step updates them).
#include <memory>
#include <string>

#include <vector>

#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet {

namespace losses {
class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  virtual Tensor operator()(const Tensor& y_true, const Tensor& y_pred) const = 0;
};
using LossPtr = std::shared_ptr<Loss>;
LossPtr MeanSquaredError();
LossPtr MeanAbsoluteError();
LossPtr BinaryCrossentropy(bool from_logits = false);
LossPtr CategoricalCrossentropy(bool from_logits = false);
LossPtr SparseCategoricalCrossentropy(bool from_logits = false);
// "mse", "mae", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy" (and
// the Keras long names).
LossPtr get(const std::string& name);
}  // namespace losses

namespace metrics {
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void update_state(const Tensor& y_true, const Tensor& y_pred) = 0;
  virtual double result() const = 0;
  virtual void reset_state() = 0;
  // The state variables (Keras's Metric.variables). Data-parallel fit sums them across ranks to report the
  // metric of the whole global batch, so a metric whose state cannot be summed returns none; it is then
  // reported from each rank's own examples.
  virtual std::vector<Variable> variables() const { return {}; }
};
using MetricPtr = std::shared_ptr<Metric>;
MetricPtr Accuracy();  // "accuracy": picks the Keras variant from the label and prediction shapes
MetricPtr SparseCategoricalAccuracy();
MetricPtr CategoricalAccuracy();
MetricPtr BinaryAccuracy(double threshold = 0.5);
MetricPtr MeanAbsoluteError();
// The running mean of the values passed as y_pred (how fit tracks the loss); named `name`.
MetricPtr Mean(const std::string& name);
MetricPtr get(const std::string& name);
}  // namespace metrics

}  // namespace duet
