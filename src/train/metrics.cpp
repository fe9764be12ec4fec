// Streaming metrics: their state lives in variables, so a traced step updates them.
#include "duet/losses.h"
#include "duet/ops.h"
#include "duet/variable.h"
#include "graph/tracer.h"

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
  void add(const Tensor& values) {
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
  void update_state(const Tensor& y, const Tensor& p) override {
    add(cast(equal(cast(p > t_, DType::Float32), cast(cast(y, p.dtype()) > 0.5, DType::Float32)), DType::Float32));
  }

 private:
  double t_;
};
class MAEMetric : public MeanState {
 public:
  MAEMetric() : MeanState("mean_absolute_error") {}
  void update_state(const Tensor& y, const Tensor& p) override { add(abs(p - cast(y, p.dtype()))); }
};
// Keras's "accuracy": sparse when labels have one dim less (or a trailing 1) and predictions have several
// classes, categorical for one-hot labels, binary otherwise.
class AutoAcc : public Metric {
 public:
  std::string name() const override { return "accuracy"; }
  void update_state(const Tensor& y, const Tensor& p) override {
    if (!impl_) {
      std::int64_t classes = p.rank() ? p.shape()[p.rank() - 1] : 1;
      bool sparse = y.rank() == p.rank() - 1 || (y.rank() == p.rank() && y.shape()[y.rank() - 1] == 1 && classes > 1);
      if (sparse)
        impl_ = std::make_shared<SparseCatAcc>("accuracy");
      else if (classes > 1)
        impl_ = std::make_shared<CatAcc>("accuracy");
      else
        impl_ = std::make_shared<BinAcc>(0.5, "accuracy");
    }
    impl_->update_state(y, p);
  }
  double result() const override { return impl_ ? impl_->result() : 0.0; }
  std::vector<Variable> variables() const override { return impl_ ? impl_->variables() : std::vector<Variable>{}; }
  void reset_state() override {
    if (impl_) impl_->reset_state();
  }

 private:
  std::shared_ptr<Metric> impl_;
};

}  // namespace

MetricPtr Accuracy() { return std::make_shared<AutoAcc>(); }
MetricPtr SparseCategoricalAccuracy() { return std::make_shared<SparseCatAcc>(); }
MetricPtr CategoricalAccuracy() { return std::make_shared<CatAcc>(); }
MetricPtr BinaryAccuracy(double t) { return std::make_shared<BinAcc>(t); }
MetricPtr MeanAbsoluteError() { return std::make_shared<MAEMetric>(); }
MetricPtr Mean(const std::string& name) { return std::make_shared<MeanMetric>(name); }

MetricPtr get(const std::string& n) {
  if (n == "accuracy" || n == "acc") return Accuracy();
  if (n == "sparse_categorical_accuracy") return SparseCategoricalAccuracy();
  if (n == "categorical_accuracy") return CategoricalAccuracy();
  if (n == "binary_accuracy") return BinaryAccuracy();
  if (n == "mae" || n == "mean_absolute_error") return MeanAbsoluteError();
  throw ValueError(
      "[compile] unknown metric '" + n +
      "'; use accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, mae or a metrics:: object");
}

}  // namespace metrics
}  // namespace duet
