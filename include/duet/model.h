#pragma once
// Models: functional Model(inputs, outputs), Sequential, and subclasses overriding call(). Keras-style
// compile / fit / evaluate / predict; the training step is one traced function unless run_eagerly.
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "duet/layers.h"

namespace duet {

namespace optimizers {
// Updates variables from gradients. Update rules are duet ops, so a traced train step contains them.
class Optimizer {
 public:
  explicit Optimizer(double learning_rate) : learning_rate(learning_rate) {}
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  void apply_gradients(const std::vector<Variable>& vars, const std::vector<Tensor>& grads);
  double learning_rate;
  // Number of updates applied (a variable, so it advances inside traced steps).
  Variable iterations() const;

 protected:
  // One variable's update; `slots` holds its optimizer state (created on first use).
  virtual void update(const Variable& var, const Tensor& grad, std::vector<Variable>& slots, const Tensor& step) = 0;
  Variable slot(std::vector<Variable>& slots, std::size_t i, const Variable& like);

 private:
  std::map<const void*, std::vector<Variable>> slots_;
  mutable Variable iterations_;
};
using OptimizerPtr = std::shared_ptr<Optimizer>;
OptimizerPtr SGD(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
OptimizerPtr Adam(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7);
OptimizerPtr AdamW(double learning_rate = 0.001, double weight_decay = 0.004, double beta_1 = 0.9, double beta_2 = 0.999,
                   double epsilon = 1e-7);
OptimizerPtr RMSprop(double learning_rate = 0.001, double rho = 0.9, double momentum = 0.0, double epsilon = 1e-7);
// "sgd", "adam", "adamw", "rmsprop" with default settings.
OptimizerPtr get(const std::string& name);
}  // namespace optimizers

namespace losses {
// Mean over the batch of a per-example loss.
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
// A streaming metric whose state lives in variables (updated inside traced steps).
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void update_state(const Tensor& y_true, const Tensor& y_pred) = 0;
  virtual double result() const = 0;
  virtual void reset_state() = 0;
};
using MetricPtr = std::shared_ptr<Metric>;
MetricPtr Accuracy();  // "accuracy": picks the Keras variant from the label and prediction shapes
MetricPtr SparseCategoricalAccuracy();
MetricPtr CategoricalAccuracy();
MetricPtr BinaryAccuracy(double threshold = 0.5);
MetricPtr MeanAbsoluteError();
MetricPtr get(const std::string& name);
}  // namespace metrics

// Arguments that accept a Keras name or an object.
struct OptimizerArg {
  OptimizerArg(const char* n) : ptr(optimizers::get(n)) {}          // NOLINT
  OptimizerArg(const std::string& n) : ptr(optimizers::get(n)) {}   // NOLINT
  OptimizerArg(optimizers::OptimizerPtr p) : ptr(std::move(p)) {}  // NOLINT
  optimizers::OptimizerPtr ptr;
};
struct LossArg {
  LossArg(const char* n) : ptr(losses::get(n)) {}          // NOLINT
  LossArg(const std::string& n) : ptr(losses::get(n)) {}   // NOLINT
  LossArg(losses::LossPtr p) : ptr(std::move(p)) {}       // NOLINT
  losses::LossPtr ptr;
};
struct MetricArg {
  MetricArg(const char* n) : name(n) {}           // NOLINT
  MetricArg(const std::string& n) : name(n) {}    // NOLINT
  MetricArg(metrics::MetricPtr p) : ptr(std::move(p)) {}  // NOLINT
  std::string name;
  metrics::MetricPtr ptr;
};

struct CompileOptions {
  OptimizerArg optimizer = "rmsprop";
  std::optional<LossArg> loss;
  std::vector<MetricArg> metrics;
  // Run train/test/predict steps eagerly (debugging) instead of as traced functions.
  bool run_eagerly = false;
};

using Logs = std::map<std::string, double>;

class Model;
namespace callbacks {
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_train_end(Model&) {}
  virtual void on_epoch_begin(Model&, int) {}
  virtual void on_epoch_end(Model&, int, const Logs&) {}
  virtual void on_batch_end(Model&, int, const Logs&) {}
};
using CallbackPtr = std::shared_ptr<Callback>;
// Stops when `monitor` has not improved by min_delta for `patience` epochs; can restore the best weights.
CallbackPtr EarlyStopping(const std::string& monitor = "val_loss", int patience = 0, double min_delta = 0.0,
                          bool restore_best_weights = false);
struct LambdaCallbackFns {
  std::function<void(Model&, int)> on_epoch_begin;
  std::function<void(Model&, int, const Logs&)> on_epoch_end;
  std::function<void(Model&, int, const Logs&)> on_batch_end;
};
CallbackPtr LambdaCallback(LambdaCallbackFns fns);
}  // namespace callbacks

struct FitOptions {
  int epochs = 1;
  std::int64_t batch_size = 32;
  bool shuffle = true;
  std::optional<std::pair<Tensor, Tensor>> validation_data;
  double validation_split = 0.0;  // the last fraction of x/y, as Keras
  int verbose = 1;                // 0 silent, 1 progress bar (one line per epoch when not a terminal), 2 one line per epoch
  std::vector<callbacks::CallbackPtr> callbacks;
  std::optional<std::uint64_t> seed;  // shuffling seed
  std::ostream* out = &std::cout;
};

struct History {
  std::map<std::string, std::vector<double>> history;  // "loss", "accuracy", "val_loss", ...
  int epochs_run = 0;
};

class Model : public Layer {
 public:
  // Functional model from Input tensors to outputs computed by layers.
  Model(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& name = "");
  Model(const Tensor& input, const Tensor& output, const std::string& name = "");
  ~Model() override;

  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;
  Tensor call(const Tensor& x, bool training) override;

  void compile(CompileOptions options);
  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  Logs evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size = 32, int verbose = 0);
  Tensor predict(const Tensor& x, std::int64_t batch_size = 32);
  void summary(std::ostream& os = std::cout);
  std::string summary_string();
  // Layers in call order (functional and Sequential models; tracked sublayers for subclasses).
  std::vector<LayerRef> layers() const;
  bool stop_training = false;  // set by callbacks (EarlyStopping)
  bool compiled() const;

 protected:
  // Subclassed models: Model(name) and override call().
  explicit Model(const std::string& name, const std::string& type);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend class Sequential;
};

// Construct a subclassed model's base with this (e.g. SubclassModel() : duet::SubclassedModel("my_model") {}).
class SubclassedModel : public Model {
 public:
  explicit SubclassedModel(const std::string& name = "") : Model(name, "Model") {}
};

class Sequential : public Model {
 public:
  // Layers may start with an Input() tensor (the model is then built immediately), else it is built on
  // first use.
  explicit Sequential(std::vector<LayerRef> layers = {}, const std::string& name = "");
  Sequential(const Tensor& input, std::vector<LayerRef> layers, const std::string& name = "");
  void add(LayerRef layer);
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;
  Tensor call(const Tensor& x, bool training) override;
};

}  // namespace duet
