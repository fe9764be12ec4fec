// Losses (mean over the batch) and metrics (state in variables, so traced steps update them).
#include "duet/model.h"
#include "duet/ops.h"
#include "graph/tracer.h"

namespace duet {
namespace losses {
namespace {

void same_shape(const char* who, const Tensor& y, const Tensor& p) {
  if (!y.shape().compatible_with(p.shape())) {
    throw ShapeError(std::string("[") + who + "] labels of shape " + y.shape().str() + " do not match predictions of shape " +
                     p.shape().str());
  }
}

class MSE : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor operator()(const Tensor& y, const Tensor& p) const override {
    same_shape("mean_squared_error", y, p);
    return mean(square(p - cast(y, p.dtype())));
  }
};
class MAE : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  Tensor operator()(const Tensor& y, const Tensor& p) const override {
    same_shape("mean_absolute_error", y, p);
    return mean(abs(p - cast(y, p.dtype())));
  }
};
// -(y log p + (1-y) log(1-p)); from logits: max(z,0) - z y + log(1 + exp(-|z|)) (stable)
class BCE : public Loss {
 public:
  explicit BCE(bool logits) : logits_(logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor operator()(const Tensor& y_in, const Tensor& p) const override {
    same_shape("binary_crossentropy", y_in, p);
    Tensor y = cast(y_in, p.dtype());
    if (logits_) return mean(maximum(p, 0) - p * y + log1p(exp(neg(abs(p)))));
    Tensor q = clip(p, 1e-7, 1 - 1e-7);
    return mean(neg(y * log(q) + (1 - y) * log(1 - q)));
  }

 private:
  bool logits_;
};
class CCE : public Loss {
 public:
  explicit CCE(bool logits) : logits_(logits) {}
  std::string name() const override { return "categorical_crossentropy"; }
  Tensor operator()(const Tensor& y, const Tensor& p) const override {
    same_shape("categorical_crossentropy", y, p);
    if (logits_) return mean(softmax_cross_entropy_with_logits(y, p));
    Tensor q = clip(p / sum(p, {-1}, true), 1e-7, 1 - 1e-7);
    return mean(neg(sum(cast(y, p.dtype()) * log(q), {-1})));
  }

 private:
  bool logits_;
};
class SCCE : public Loss {
 public:
  explicit SCCE(bool logits) : logits_(logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_in, const Tensor& p) const override {
    Tensor y = y_in;
    // Keras accepts (batch,) or (batch, 1) integer labels.
    if (y.rank() == p.rank() && y.rank() >= 1 && y.shape()[y.rank() - 1] == 1) y = squeeze(y, {-1});
    if (y.rank() != p.rank() - 1) {
      throw ShapeError("[sparse_categorical_crossentropy] labels of shape " + y_in.shape().str() +
                       " must be class indices shaped like the predictions " + p.shape().str() + " without the class dim");
    }
    if (!is_integral(y.dtype())) y = cast(y, DType::Int64);
    Tensor logits = logits_ ? p : log(clip(p, 1e-7, 1.0));
    return mean(sparse_softmax_cross_entropy_with_logits(y, logits));
  }

 private:
  bool logits_;
};

}  // namespace

LossPtr MeanSquaredError() { return std::make_shared<MSE>(); }
LossPtr MeanAbsoluteError() { return std::make_shared<MAE>(); }
LossPtr BinaryCrossentropy(bool from_logits) { return std::make_shared<BCE>(from_logits); }
LossPtr CategoricalCrossentropy(bool from_logits) { return std::make_shared<CCE>(from_logits); }
LossPtr SparseCategoricalCrossentropy(bool from_logits) { return std::make_shared<SCCE>(from_logits); }

LossPtr get(const std::string& n) {
  if (n == "mse" || n == "mean_squared_error") return MeanSquaredError();
  if (n == "mae" || n == "mean_absolute_error") return MeanAbsoluteError();
  if (n == "binary_crossentropy") return BinaryCrossentropy();
  if (n == "categorical_crossentropy") return CategoricalCrossentropy();
  if (n == "sparse_categorical_crossentropy") return SparseCategoricalCrossentropy();
  throw ValueError("[compile] unknown loss '" + n +
                   "'; use mse, mae, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy or a losses:: object");
}

}  // namespace losses

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
  BinAcc(double t, std::string n = "binary_accuracy") : MeanState(std::move(n)), t_(t) {}
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
      if (sparse) impl_ = std::make_shared<SparseCatAcc>("accuracy");
      else if (classes > 1) impl_ = std::make_shared<CatAcc>("accuracy");
      else impl_ = std::make_shared<BinAcc>(0.5, "accuracy");
    }
    impl_->update_state(y, p);
  }
  double result() const override { return impl_ ? impl_->result() : 0.0; }
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
MetricPtr loss_tracker() { return std::make_shared<MeanMetric>("loss"); }

MetricPtr get(const std::string& n) {
  if (n == "accuracy" || n == "acc") return Accuracy();
  if (n == "sparse_categorical_accuracy") return SparseCategoricalAccuracy();
  if (n == "categorical_accuracy") return CategoricalAccuracy();
  if (n == "binary_accuracy") return BinaryAccuracy();
  if (n == "mae" || n == "mean_absolute_error") return MeanAbsoluteError();
  throw ValueError("[compile] unknown metric '" + n +
                   "'; use accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, mae or a metrics:: object");
}

}  // namespace metrics
}  // namespace duet
