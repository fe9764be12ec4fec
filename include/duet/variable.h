#pragma once
// Variable: named mutable state (weights, optimizer slots, counters, layer state). A handle: copies
// share the same state. Reads and assignments are ops, so tapes see reads and traced graphs capture
// the variable by reference (every replay reads and writes its current value).
#include <functional>
#include <memory>
#include <string>

#include "duet/attrs.h"
#include "duet/tensor.h"

namespace duet {

struct VariableOptions {
  std::string name = "Variable";
  bool trainable = true;
};

struct VariableAccess;  // internal

class Variable {
 public:
  Variable() = default;
  explicit Variable(const Tensor& initial_value, VariableOptions options = {});

  // The current value (a ReadVariable op).
  Tensor value() const;
  // NOLINTNEXTLINE(google-explicit-constructor): a Variable reads as a Tensor
  operator Tensor() const { return value(); }

  // Each returns the new value. The value keeps its dtype and shape; a mismatch throws.
  Tensor assign(const Tensor& v) const;
  Tensor assign_add(const Tensor& delta) const;
  Tensor assign_sub(const Tensor& delta) const;

  const std::string& name() const;
  bool trainable() const;
  void set_trainable(bool t) const;
  DType dtype() const;
  const Shape& shape() const;
  bool defined() const { return impl_ != nullptr; }
  // The engine's view of the variable (opaque outside the library).
  const VarRef& ref() const { return impl_; }
  friend bool operator==(const Variable& a, const Variable& b) { return a.impl_ == b.impl_; }

 private:
  friend struct VariableAccess;
  explicit Variable(VarRef r) : impl_(std::move(r)) {}
  VarRef impl_;
};

// A number a compiled step reads when it runs, never frozen into a trace: learning rates, momentum, betas,
// weight decay, dropout rates, loss weights. It is a float64 scalar variable, so assigning it between steps
// changes the next step exactly as it would eagerly, with no retrace (a callback or a schedule can drive it).
class Hyperparameter {
 public:
  // `check` validates every value assigned (it throws ValueError naming the owner).
  // NOLINTNEXTLINE(google-explicit-constructor): implicit from a number
  Hyperparameter(double value = 0.0, const std::string& name = "hyperparameter",
                 std::function<void(double)> check = nullptr);
  Hyperparameter& operator=(double value);
  // The current value (read now, also while tracing: use value() inside traced code).
  double get() const;
  // NOLINTNEXTLINE(google-explicit-constructor): reads like a number
  operator double() const { return get(); }
  // Reads it as a scalar of `dtype` (an op: traced, it is read at run time).
  Tensor value(DType dtype = DType::Float32) const;
  const Variable& variable() const { return var_; }

 private:
  Variable var_;
  std::function<void(double)> check_;
};

// One Adam step on a variable and its two moment slots, in a single pass over memory (TensorFlow's
// ResourceApplyAdam; the Adam and AdamW optimizers use it):
//   w -= decay * w (decoupled weight decay, AdamW; 0 for Adam)
//   m = beta_1 m + (1 - beta_1) grad;  v = beta_2 v + (1 - beta_2) grad^2;  w -= lr_t m / (sqrt(v) + epsilon)
// lr_t (the bias-corrected learning rate of this step), beta_1, beta_2, epsilon and decay are scalar tensors
// of w's dtype, read when the op runs. m, v and grad have w's dtype and shape. Returns the new value of w.
Tensor apply_adam(const Variable& w, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr_t,
                  const Tensor& beta_1, const Tensor& beta_2, const Tensor& epsilon, const Tensor& decay);
// The same with constant hyperparameters.
Tensor apply_adam(const Variable& w, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr_t,
                  double beta_1, double beta_2, double epsilon, double decay = 0.0);

std::ostream& operator<<(std::ostream& os, const Variable& v);
std::string variable_name(const VarRef& v);

}  // namespace duet
