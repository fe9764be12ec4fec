// Streaming metrics: their state lives in variables, so a traced step updates them.
#include "duet/losses.h"
#include "duet/ops.h"
#include "duet/variable.h"
#include "graph/tracer.h"
#include "train/label_shapes.h"

namespace duet {
namespace metrics {
namespace {

// total / count, both variables.
class MeanState : public Metric {
 public:
  explicit MeanState(std::string name) : name_(std::move(name)) {
    graph::EagerScope eager;
    total_ = Variable(scalar(0.0), {.name = name_ + "/total", .trainable = false});
    count_ = Variable(scalar(0.0), {.name = name_ + "/count", .trainable = false});
  }
  std::string name() const override { return name_; }
  double result() const override {
    double c = count_.value().item<double>();
    return c > 0 ? total_.value().item<double>() / c : 0.0;
  }
  std::vector<Variable> variables() const override { return {total_, count_}; }
  void reset_state() override {
    total_.assign(scalar(0.0));
    count_.assign(scalar(0.0));
  }
  // Each example counts once, as in Keras: values of rank > 1 are first averaged over all but the first axis.
  void add(const Tensor& per_example) {
    Tensor values = per_example;
    if (values.rank() > 1) {
      std::vector<std::int64_t> rest;
      for (int a = 1; a < values.rank(); ++a) rest.push_back(a);
      values = mean(cast(values, DType::Float64), rest);
    }
    total_.assign_add(sum(cast(values, DType::Float64)));
    count_.assign_add(cast(size(values, {}, DType::Float64), DType::Float64));
  }

 protected:
  std::string name_;
  Variable total_, count_;
};

class MeanMetric : public MeanState {
 public:
  using MeanState::MeanState;
  void update_state(const Tensor&, const Tensor& values) override { add(values); }
};

class SparseCatAcc : public MeanState {
 public:
  explicit SparseCatAcc(std::string n = "sparse_categorical_accuracy") : MeanState(std::move(n)) {}
  void update_state(const Tensor& y_in, const Tensor& p) override {
    Tensor y = y_in;
    if (y.rank() == p.rank() && y.shape()[y.rank() - 1] == 1) y = squeeze(y, {-1});
    add(cast(equal(argmax(p, -1), cast(y, DType::Int64)), DType::Float32));
  }
};
class CatAcc : public MeanState {
 public:
  explicit CatAcc(std::string n = "categorical_accuracy") : MeanState(std::move(n)) {}
  void update_state(const Tensor& y, const Tensor& p) override {
    add(cast(equal(argmax(p, -1), argmax(y, -1)), DType::Float32));
  }
};
class BinAcc : public MeanState {
 public:
  explicit BinAcc(double t, std::string n = "binary_accuracy") : MeanState(std::move(n)), t_(t) {}
  // As Keras: labels and predictions squeezed to the same rank ((N,) against (N, 1)), then the thresholded
  // prediction compared with the label itself.
  void update_state(const Tensor& y_in, const Tensor& p_in) override {
    Tensor y = y_in, p = p_in;
    if (p.rank() == y.rank() + 1 && p.shape()[p.rank() - 1] == 1) p = squeeze(p, {-1});
    if (y.rank() == p.rank() + 1 && y.shape()[y.rank() - 1] == 1) y = squeeze(y, {-1});
    add(cast(equal(cast(y, p.dtype()), cast(p > t_, p.dtype())), DType::Float32));
  }

 private:
  double t_;
};
class MAEMetric : public MeanState {
 public:
  explicit MAEMetric(std::string n = "mean_absolute_error") : MeanState(std::move(n)) {}
  void update_state(const Tensor& y_in, const Tensor& p_in) override {
    auto [y, p] = losses::internal::same_shape(name_.c_str(), y_in, p_in);
    add(abs(p - cast(y, p.dtype())));
  }
};
// Keras's "accuracy" (compile_utils.get_metric): binary when predictions have one value per example, sparse
// when labels have one dim less (or a trailing 1), categorical for one-hot labels. Named as asked ("acc").
class AutoAcc : public Metric {
 public:
  explicit AutoAcc(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void update_state(const Tensor& y, const Tensor& p) override {
    if (!impl_) {
      const std::int64_t classes = p.rank() ? p.shape()[p.rank() - 1] : 1;
      const bool sparse = y.rank() == p.rank() - 1 || (y.rank() == p.rank() && y.shape()[y.rank() - 1] == 1);
      if (classes == 1)
        impl_ = std::make_shared<BinAcc>(0.5, name_);
      else if (sparse)
        impl_ = std::make_shared<SparseCatAcc>(name_);
      else
        impl_ = std::make_shared<CatAcc>(name_);
    }
    impl_->update_state(y, p);
  }
  double result() const override { return impl_ ? impl_->result() : 0.0; }
  std::vector<Variable> variables() const override { return impl_ ? impl_->variables() : std::vector<Variable>{}; }
  void reset_state() override {
    if (impl_) impl_->reset_state();
  }

 private:
  std::string name_;
  std::shared_ptr<Metric> impl_;
};

}  // namespace

MetricPtr Accuracy() { return std::make_shared<AutoAcc>("accuracy"); }
MetricPtr SparseCategoricalAccuracy() { return std::make_shared<SparseCatAcc>(); }
MetricPtr CategoricalAccuracy() { return std::make_shared<CatAcc>(); }
MetricPtr BinaryAccuracy(double t) { return std::make_shared<BinAcc>(t); }
MetricPtr MeanAbsoluteError() { return std::make_shared<MAEMetric>(); }
MetricPtr Mean(const std::string& name) { return std::make_shared<MeanMetric>(name); }

MetricPtr get(const std::string& n) {
  // Named as asked, as Keras names them: "acc" logs as acc, "mae" as mae.
  if (n == "accuracy" || n == "acc") return std::make_shared<AutoAcc>(n);
  if (n == "sparse_categorical_accuracy") return SparseCategoricalAccuracy();
  if (n == "categorical_accuracy") return CategoricalAccuracy();
  if (n == "binary_accuracy") return BinaryAccuracy();
  if (n == "mae" || n == "mean_absolute_error") return std::make_shared<MAEMetric>(n);
  throw ValueError(
      "[compile] unknown metric '" + n +
      "'; use accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, mae or a metrics:: object");
}

}  // namespace metrics
}  // namespace duet
