// Losses: the mean over the batch of a per-example loss.
#include "duet/losses.h"
#include "duet/nn.h"
#include "duet/ops.h"
#include "train/label_shapes.h"

namespace duet {
namespace losses {

std::pair<Tensor, Tensor> internal::same_shape(const char* who, Tensor y, Tensor p) {
  const int ry = y.rank(), rp = p.rank();
  if (ry == rp + 1 && y.shape()[ry - 1] == 1) {
    if (rp == 1)
      p = expand_dims(p, -1);
    else
      y = squeeze(y, {-1});
  } else if (rp == ry + 1 && p.shape()[rp - 1] == 1) {
    if (ry == 1)
      y = expand_dims(y, -1);
    else
      p = squeeze(p, {-1});
  }
  if (!y.shape().compatible_with(p.shape())) {
    throw ShapeError(std::string("[") + who + "] labels of shape " + y.shape().str() +
                     " do not match predictions of shape " + p.shape().str());
  }
  return {y, p};
}

namespace {

using internal::same_shape;

class MSE : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor operator()(const Tensor& y_in, const Tensor& p_in) const override {
    auto [y, p] = same_shape("mean_squared_error", y_in, p_in);
    return mean(square(p - cast(y, p.dtype())));
  }
};
class MAE : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  Tensor operator()(const Tensor& y_in, const Tensor& p_in) const override {
    auto [y, p] = same_shape("mean_absolute_error", y_in, p_in);
    return mean(abs(p - cast(y, p.dtype())));
  }
};
// -(y log p + (1-y) log(1-p)); from logits: softplus(z) - z y
class BCE : public Loss {
 public:
  explicit BCE(bool logits) : logits_(logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor operator()(const Tensor& y_in, const Tensor& p_in) const override {
    auto [y_same, p] = same_shape("binary_crossentropy", y_in, p_in);
    Tensor y = cast(y_same, p.dtype());
    // softplus(z) - z y: the stable form, whose gradient sigmoid(z) - y holds at z = 0 too (max(z, 0) and |z|
    // would each send all or none of it there)
    if (logits_) return mean(softplus(p) - p * y);
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
  Tensor operator()(const Tensor& y_in, const Tensor& p_in) const override {
    auto [y, p] = same_shape("categorical_crossentropy", y_in, p_in);
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
                       " must be class indices shaped like the predictions " + p.shape().str() +
                       " without the class dim");
    }
    if (!is_integral(y.dtype())) y = cast(y, DType::Int64);
    Tensor logits = logits_ ? p : log(clip(p, 1e-7, 1 - 1e-7));  // Keras's clip
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
                   "'; use mse, mae, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy or "
                   "a losses:: object");
}

}  // namespace losses

}  // namespace duet
