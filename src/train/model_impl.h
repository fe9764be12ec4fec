#pragma once
// What a Model holds: its structure (functional program, Sequential layers, input spec) and its training
// state (compile settings, per-output losses and metrics, the lazily traced steps).
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "duet/model.h"
#include "layers/functional.h"

namespace duet {

struct Model::Structure {
  bool functional = false;
  functional::Program program;
  std::vector<Tensor> inputs, outputs;  // functional: the symbolic Input/output tensors
  std::vector<LayerRef> seq;            // Sequential

  // Sequential/subclass: the first input seen (batch dim None). Set once, read from any thread (a model first
  // called from several threads at once settles on one spec).
  std::optional<TensorSpec> input_spec() const {
    std::lock_guard<std::mutex> lock(spec_mu_);
    return spec_;
  }
  // Sets the spec unless one is set already; returns the spec in force.
  TensorSpec settle_input_spec(const TensorSpec& first) {
    std::lock_guard<std::mutex> lock(spec_mu_);
    if (!spec_) spec_ = first;
    return *spec_;
  }

 private:
  mutable std::mutex spec_mu_;
  std::optional<TensorSpec> spec_;
};

struct Model::Training {
  using StepFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&, const std::vector<Tensor>&)>;
  using PredictFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

  std::mutex mu;               // compile state and the lazily created steps
  std::mutex eval_mu;          // evaluate calls take turns (metric state is per model)
  std::atomic<int> active{0};  // fit/evaluate/predict calls running (compile refuses to change them meanwhile)
  std::atomic<bool> fitting{false};
  std::atomic<std::thread::id> fit_thread{};  // predict/evaluate from fit's own thread (validation, callbacks) is fine

  bool compiled = false;
  optimizers::OptimizerPtr optimizer;
  std::vector<losses::LossPtr> losses;                   // per output
  std::vector<Hyperparameter> loss_weights;              // per output
  std::vector<std::vector<metrics::MetricPtr>> metrics;  // per output
  std::vector<metrics::MetricPtr> output_losses;         // per output, when there are several
  metrics::MetricPtr loss_tracker;
  std::vector<std::string> output_names;
  bool run_eagerly = false;
  bool check_eager = false;
  std::optional<distributed::DataParallel> distribute;
  std::shared_ptr<StepFn> train_step, test_step;
  std::shared_ptr<PredictFn> predict_step;
};

// predict/evaluate/save/load may not run while another thread's fit changes the weights (the results would mix
// steps); fit's own thread (validation, callbacks) may.
void refuse_during_fit(const Model& m, const Model::Training& t, const char* what);

}  // namespace duet
