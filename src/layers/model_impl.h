#pragma once
#include <functional>

#include "duet/model.h"
#include "layers/functional.h"

namespace duet {

struct Model::Impl {
  bool functional = false;
  functional::Program program;
  std::vector<Tensor> inputs, outputs;   // functional: the symbolic Input/output tensors
  std::vector<LayerRef> seq;             // Sequential
  std::optional<TensorSpec> input_spec;  // Sequential/subclass: first input seen (batch dim None)

  bool compiled = false;
  optimizers::OptimizerPtr optimizer;
  losses::LossPtr loss;
  std::vector<metrics::MetricPtr> metrics;
  metrics::MetricPtr loss_tracker;
  bool run_eagerly = false;
  std::function<Tensor(const Tensor&, const Tensor&)> train_step, test_step;
  std::function<Tensor(const Tensor&)> predict_step;
};

}  // namespace duet
