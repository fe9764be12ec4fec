#pragma once
// Models: functional Model(inputs, outputs), Sequential, and subclasses overriding call(). Keras-style
// compile / fit / evaluate / predict, with one or several inputs and outputs; the train, test and predict
// steps are traced functions unless run_eagerly.
//
// Threads: a built, compiled model's predict, evaluate and operator() may be called from many threads at
// once (first calls, which trace, included; evaluate calls take turns, since metric state is per model).
// fit may not run twice at once on one model, nor compile while another call runs: that throws StateError.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "duet/callbacks.h"
#include "duet/distributed.h"
#include "duet/layers.h"
#include "duet/losses.h"
#include "duet/optimizers.h"

namespace duet {

// Arguments that accept a Keras name or an object.
struct OptimizerArg {
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design ("adam")
  OptimizerArg(const char* n) : ptr(optimizers::get(n)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  OptimizerArg(const std::string& n) : ptr(optimizers::get(n)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  OptimizerArg(optimizers::OptimizerPtr p) : ptr(std::move(p)) {}
  optimizers::OptimizerPtr ptr;
};
struct LossArg {
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design ("mse")
  LossArg(const char* n) : ptr(losses::get(n)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  LossArg(const std::string& n) : ptr(losses::get(n)) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  LossArg(losses::LossPtr p) : ptr(std::move(p)) {}
  losses::LossPtr ptr;
};
struct MetricArg {
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design ("accuracy")
  MetricArg(const char* n) : name(n) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  MetricArg(const std::string& n) : name(n) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  MetricArg(metrics::MetricPtr p) : ptr(std::move(p)) {}
  std::string name;
  metrics::MetricPtr ptr;
};

struct CompileOptions {
  OptimizerArg optimizer = "rmsprop";
  std::optional<LossArg> loss;       // the loss of every output
  std::vector<LossArg> losses;       // or one per output, in output order
  std::vector<double> loss_weights;  // per output (default 1); read at run time: model.loss_weights()[i] = 0.5
  std::vector<MetricArg> metrics;    // computed for every output
  // Run train/test/predict steps eagerly (debugging) instead of as traced functions.
  bool run_eagerly = false;
  // Run every compiled step eagerly too and throw on the first difference (FunctionOptions::check_eager).
  bool check_eager = false;
  // Data-parallel training over the ranks of an MPI job (duet/distributed.h); without a launcher (one rank)
  // fit trains as usual.
  std::optional<distributed::DataParallel> distribute;
};

// Validation data for fit: x and y as one tensor each, or one per model input / output.
struct ValidationData {
  ValidationData(Tensor x, Tensor y) : x{std::move(x)}, y{std::move(y)} {}
  // NOLINTNEXTLINE(google-explicit-constructor): implicit
  ValidationData(std::pair<Tensor, Tensor> xy) : x{std::move(xy.first)}, y{std::move(xy.second)} {}
  ValidationData(std::vector<Tensor> x, std::vector<Tensor> y) : x(std::move(x)), y(std::move(y)) {}
  std::vector<Tensor> x, y;
};

struct FitOptions {
  int epochs = 1;
  std::int64_t batch_size = 32;
  bool shuffle = true;
  std::optional<ValidationData> validation_data;
  double validation_split = 0.0;  // the last fraction of x/y, as Keras; in [0, 1)
  int verbose = 1;  // 0 silent, 1 progress bar (one line per epoch when not a terminal), 2 one line per epoch
  std::vector<callbacks::CallbackPtr> callbacks;
  std::optional<std::uint64_t> seed;  // shuffling seed
  std::ostream* out = &std::cout;
  // Stop at the first NaN or infinite loss (callbacks::TerminateOnNaN), with a warning.
  bool terminate_on_nan = true;
  int initial_epoch = 0;          // epoch to start at (resuming a run)
  std::int64_t initial_step = 0;  // batches of initial_epoch already done (resuming mid-epoch)
};

struct EvaluateOptions {
  std::int64_t batch_size = 32;
  int verbose = 0;  // 1: print the results
  std::ostream* out = &std::cout;
};

struct PredictOptions {
  std::int64_t batch_size = 32;
};

struct LoadWeightsOptions {
  // Match weights by name ("dense/kernel"), e.g. into a different model that shares some layers; by default
  // they match by order (the model's weights() order, which the file keeps), whatever the layers are named.
  bool by_name = false;
  // Skip (with a warning listing them) weights whose shape or dtype differ, or that the file lacks, instead
  // of throwing.
  bool skip_mismatch = false;
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
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const FitOptions& options = {});
  Logs evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& options = {});
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const EvaluateOptions& options = {});
  Tensor predict(const Tensor& x, const PredictOptions& options = {});
  std::vector<Tensor> predict(const std::vector<Tensor>& x, const PredictOptions& options = {});
  // The weights (trainable and not) as a safetensors file, tensors named by layer ("dense/kernel"), written
  // atomically. load_weights checks every name, shape and dtype first and assigns nothing when one differs
  // (the error lists them all). The model must be built.
  void save_weights(const std::string& path);
  void load_weights(const std::string& path, const LoadWeightsOptions& options = {});
  // The whole model, architecture and weights, in one file (safetensors, the architecture as JSON in its
  // metadata) that load_model rebuilds in a program that does not contain the model's code. Layers are saved
  // as their configs (get_config): built-in layers, registered custom layers, nested Sequential and functional
  // models, and ops applied directly to functional tensors. A layer without a config (a Lambda, an
  // unregistered custom layer) or a subclassed model makes save throw ValueError naming it. Atomic.
  void save(const std::string& path);
  void summary(std::ostream& os = std::cout);
  std::string summary_string();
  // Layers in call order (functional and Sequential models; tracked sublayers for subclasses).
  std::vector<LayerRef> layers() const;
  bool stop_training = false;  // set by callbacks (EarlyStopping)
  // Where training is: the epoch, and the batch within it, that runs next. fit sets it from initial_epoch /
  // initial_step before on_train_begin, where a callback may move it (BackupAndRestore does), and advances it
  // after every batch; checkpoints save it and Checkpoint::restore sets it.
  struct FitPosition {
    int epoch = 0;
    std::int64_t step = 0;
  };
  FitPosition fit_position;
  bool compiled() const;
  // The compiled optimizer (nullptr before compile): callbacks adjust its hyperparameters, checkpoints save it.
  optimizers::OptimizerPtr optimizer() const;
  // The compiled per-output loss weights, read at run time.
  std::vector<Hyperparameter>& loss_weights();
  // Number of inputs and outputs (known once built; subclassed models: 1 and 1).
  std::size_t num_inputs() const;
  std::size_t num_outputs() const;

  struct Structure;
  struct Training;

 protected:
  // Subclassed models: Model(name) and override call().
  explicit Model(const std::string& name, const std::string& type);
  std::unique_ptr<Structure> structure_;
  std::unique_ptr<Training> training_;
  friend class Sequential;
  friend class Checkpoint;
  friend struct ModelFiles;
};

// Rebuilds a model saved by Model::save: its layers from their configs (custom classes must be registered
// with register_layer first), then its weights. Nothing in the file is run as code. The model is not compiled
// (compile it to train or evaluate). Bad files throw IOError or ValueError naming the file and what is wrong.
std::shared_ptr<Model> load_model(const std::string& path);
// The architecture JSON of a saved model file (what `duet info` shows), checked like load_model checks it.
std::string saved_model_config(const std::string& path);

// Construct a subclassed model's base with this (e.g. MyModel() : duet::SubclassedModel("my_model") {}).
class SubclassedModel : public Model {
 public:
  explicit SubclassedModel(const std::string& name = "") : Model(name, "Model") {}
};

class Sequential : public Model {
 public:
  // Layers may start with an Input() tensor (the model is then built immediately), else it is built on
  // first use.
  explicit Sequential(const std::vector<LayerRef>& layers = {}, const std::string& name = "");
  Sequential(const Tensor& input, const std::vector<LayerRef>& layers, const std::string& name = "");
  void add(const LayerRef& layer);
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;
  Tensor call(const Tensor& x, bool training) override;
};

}  // namespace duet
