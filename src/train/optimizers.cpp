// Optimizers. Each update is written with duet ops and variable assignments, so inside a traced train
// step it becomes part of the graph. Slot variables are created on the first update (the first trace).
#include <cmath>

#include "duet/model.h"
#include "duet/ops.h"
#include "graph/tracer.h"

namespace duet::optimizers {

Variable Optimizer::iterations() const {
  if (!iterations_.defined()) {
    graph::EagerScope eager;
    iterations_ = Variable(scalar(std::int64_t{0}), {.name = name() + "/iterations", .trainable = false});
  }
  return iterations_;
}

Variable Optimizer::slot(std::vector<Variable>& slots, std::size_t i, const Variable& like) {
  while (slots.size() <= i) {
    graph::EagerScope eager;
    slots.emplace_back(zeros(like.shape(), like.dtype()), VariableOptions{.name = like.name() + "/" + name() + "_slot" + std::to_string(slots.size()), .trainable = false});
  }
  return slots[i];
}

void Optimizer::apply_gradients(const std::vector<Variable>& vars, const std::vector<Tensor>& grads) {
  if (vars.size() != grads.size()) {
    throw ValueError("[" + name() + "] got " + std::to_string(grads.size()) + " gradients for " + std::to_string(vars.size()) + " variables");
  }
  Variable it = iterations();
  Tensor step = cast(it.assign_add(scalar(std::int64_t{1})), DType::Float32);  // 1-based step for bias correction
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;  // variable not connected to the loss
    if (grads[i].shape() != vars[i].shape() && grads[i].shape().is_fully_known()) {
      throw ShapeError("[" + name() + "] gradient of shape " + grads[i].shape().str() + " for variable '" + vars[i].name() +
                       "' of shape " + vars[i].shape().str());
    }
    update(vars[i], cast(grads[i], vars[i].dtype()), slots_[vars[i].ref().get()], step);
  }
}

namespace {

class SGDImpl : public Optimizer {
 public:
  SGDImpl(double lr, double momentum, bool nesterov) : Optimizer(lr), momentum_(momentum), nesterov_(nesterov) {}
  std::string name() const override { return "SGD"; }
  // momentum m: v = m v - lr g; w += v (nesterov: w += m v - lr g)
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor&) override {
    if (momentum_ == 0) {
      w.assign_sub(g * learning_rate);
      return;
    }
    Variable v = slot(slots, 0, w);
    Tensor vn = v.assign(v.value() * momentum_ - g * learning_rate);
    w.assign_add(nesterov_ ? vn * momentum_ - g * learning_rate : vn);
  }

 private:
  double momentum_;
  bool nesterov_;
};

class AdamImpl : public Optimizer {
 public:
  AdamImpl(double lr, double b1, double b2, double eps, double wd) : Optimizer(lr), b1_(b1), b2_(b2), eps_(eps), wd_(wd) {}
  std::string name() const override { return wd_ > 0 ? "AdamW" : "Adam"; }
  // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr_t m / (sqrt(v) + eps), lr_t = lr sqrt(1-b2^t)/(1-b1^t);
  // AdamW also decays w by lr * wd (decoupled).
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor& step) override {
    Variable m = slot(slots, 0, w), v = slot(slots, 1, w);
    Tensor lr_t = sqrt(1.f - pow(scalar(static_cast<float>(b2_)), step)) / (1.f - pow(scalar(static_cast<float>(b1_)), step)) *
                  static_cast<float>(learning_rate);
    apply_adam(w, m, v, g.dtype() == w.dtype() ? g : cast(g, w.dtype()), cast(lr_t, w.dtype()), b1_, b2_, eps_, learning_rate * wd_);
  }

 private:
  double b1_, b2_, eps_, wd_;
};

class RMSpropImpl : public Optimizer {
 public:
  RMSpropImpl(double lr, double rho, double momentum, double eps) : Optimizer(lr), rho_(rho), momentum_(momentum), eps_(eps) {}
  std::string name() const override { return "RMSprop"; }
  // a = rho a + (1-rho) g^2; step = lr g / sqrt(a + eps) (with momentum: mom = m mom + step; w -= mom)
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor&) override {
    Variable a = slot(slots, 0, w);
    Tensor an = a.assign(a.value() * rho_ + square(g) * (1 - rho_));
    Tensor delta = g * learning_rate / sqrt(an + eps_);
    if (momentum_ > 0) {
      Variable mom = slot(slots, 1, w);
      delta = mom.assign(mom.value() * momentum_ + delta);
    }
    w.assign_sub(delta);
  }

 private:
  double rho_, momentum_, eps_;
};

void check_lr(double lr, const char* who) {
  if (!(lr > 0)) throw ValueError(std::string("[") + who + "] learning_rate must be positive, got " + std::to_string(lr));
}

}  // namespace

OptimizerPtr SGD(double lr, double momentum, bool nesterov) {
  check_lr(lr, "SGD");
  if (momentum < 0 || momentum >= 1) throw ValueError("[SGD] momentum must be in [0, 1), got " + std::to_string(momentum));
  return std::make_shared<SGDImpl>(lr, momentum, nesterov);
}
OptimizerPtr Adam(double lr, double b1, double b2, double eps) {
  check_lr(lr, "Adam");
  return std::make_shared<AdamImpl>(lr, b1, b2, eps, 0.0);
}
OptimizerPtr AdamW(double lr, double wd, double b1, double b2, double eps) {
  check_lr(lr, "AdamW");
  return std::make_shared<AdamImpl>(lr, b1, b2, eps, wd);
}
OptimizerPtr RMSprop(double lr, double rho, double momentum, double eps) {
  check_lr(lr, "RMSprop");
  return std::make_shared<RMSpropImpl>(lr, rho, momentum, eps);
}

OptimizerPtr get(const std::string& n) {
  if (n == "sgd" || n == "SGD") return SGD();
  if (n == "adam" || n == "Adam") return Adam();
  if (n == "adamw" || n == "AdamW") return AdamW();
  if (n == "rmsprop" || n == "RMSprop") return RMSprop();
  throw ValueError("[compile] unknown optimizer '" + n + "'; use sgd, adam, adamw, rmsprop or an optimizers:: object");
}

}  // namespace duet::optimizers
