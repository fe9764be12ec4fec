// Optimizers. Each update is written with duet ops and variable assignments, so inside a traced train step
// it becomes part of the graph; every hyperparameter is a variable read when the step runs. Slot variables
// are created on the first update (the first trace).
#include <cmath>

#include "duet/ops.h"
#include "duet/optimizers.h"
#include "graph/tracer.h"

namespace duet::optimizers {

namespace {
void check_rate(double v) {
  if (!std::isfinite(v) || v < 0) {
    throw ValueError("[optimizer] learning_rate must be a finite number >= 0, got " + std::to_string(v));
  }
}
}  // namespace

LearningRate::LearningRate(double value) : hp_(value, "learning_rate", check_rate) {}
LearningRate::LearningRate(schedules::SchedulePtr s) : hp_(0.0, "learning_rate", check_rate), schedule_(std::move(s)) {
  if (!schedule_) throw ValueError("[optimizer] the learning-rate schedule is an empty pointer");
}

LearningRate& LearningRate::operator=(double value) {
  if (schedule_) {
    throw StateError("[optimizer] the learning rate follows the schedule " + schedule_->name() +
                     "; it cannot be set to a number (give the optimizer a constant rate to adjust it by hand)");
  }
  hp_ = value;
  return *this;
}

double LearningRate::get() const {
  if (!schedule_) return hp_.get();
  graph::EagerScope eager;
  double step = iterations_.defined() ? static_cast<double>(iterations_.value().item<std::int64_t>()) : 0.0;
  return (*schedule_)(full({}, step, DType::Float64)).item<double>();
}

Tensor LearningRate::value(const Tensor& step) const {
  return schedule_ ? cast((*schedule_)(step), DType::Float64) : hp_.value(DType::Float64);
}

Optimizer::Optimizer(LearningRate lr) : learning_rate(std::move(lr)) {
  graph::EagerScope eager;
  iterations_ = Variable(scalar(std::int64_t{0}), {.name = "optimizer/iterations", .trainable = false});
  learning_rate.iterations_ = iterations_;
}

Hyperparameter& Optimizer::hyper(const std::string& hp, double value, double lo, double hi, bool hi_open) {
  std::string who = name();
  auto check = [who, hp, lo, hi, hi_open](double v) {
    if (!(v >= lo) || !(hi_open ? v < hi : v <= hi)) {
      throw ValueError("[" + who + "] " + hp + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       (hi_open ? ")" : "]") + ", got " + std::to_string(v));
    }
  };
  hypers_.emplace_back(hp, std::make_unique<Hyperparameter>(value, who + "/" + hp, check));
  return *hypers_.back().second;
}

std::vector<std::pair<std::string, Hyperparameter*>> Optimizer::hyperparameters() {
  std::vector<std::pair<std::string, Hyperparameter*>> out;
  for (auto& [n, h] : hypers_) out.emplace_back(n, h.get());
  return out;
}

std::vector<std::pair<std::string, Variable>> Optimizer::variables() const {
  std::vector<std::pair<std::string, Variable>> out{{"iterations", iterations_}};
  for (const auto& [key, slots] : slots_)
    for (const auto& s : slots) out.emplace_back(s.name(), s);
  return out;
}

std::vector<Variable> Optimizer::slots(const Variable& var) const {
  const void* key = var.ref().get();
  for (const auto& [k, s] : slots_)
    if (k == key) return s;
  return {};
}

void Optimizer::restore_slots(const Variable& var, const std::vector<std::pair<std::string, Tensor>>& values) {
  const void* key = var.ref().get();
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const auto& p) { return p.first == key; });
  if (it == slots_.end()) it = slots_.insert(slots_.end(), {key, {}});
  std::vector<Variable>& vs = it->second;
  for (std::size_t j = 0; j < values.size(); ++j) {
    const auto& [slot_name, value] = values[j];
    const std::string want = var.name() + "/" + slot_name;
    if (j < vs.size() && vs[j].name() != want) {
      throw ValueError("[" + name() + "] slot " + std::to_string(j) + " of '" + var.name() + "' is '" + vs[j].name() +
                       "', the saved one '" + want + "': the checkpoint is from another optimizer");
    }
    if (value.dtype() != var.dtype() || value.shape() != var.shape()) {
      throw ValueError("[" + name() + "] saved slot '" + want + "' is " + dtype_name(value.dtype()) + " " +
                       value.shape().str() + ", the variable " + dtype_name(var.dtype()) + " " + var.shape().str());
    }
    slot(vs, j, var, slot_name).assign(value);
  }
}

Variable Optimizer::slot(std::vector<Variable>& slots, std::size_t i, const Variable& like,
                         const std::string& slot_name) {
  while (slots.size() <= i) {
    graph::EagerScope eager;
    slots.emplace_back(zeros(like.shape(), like.dtype()),
                       VariableOptions{.name = like.name() + "/" + slot_name, .trainable = false});
  }
  return slots[i];
}

void Optimizer::apply_gradients(const std::vector<Variable>& vars, const std::vector<Tensor>& grads) {
  if (vars.size() != grads.size()) {
    throw ValueError("[" + name() + "] got " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(vars.size()) + " variables");
  }
  Tensor it = iterations_.assign_add(scalar(std::int64_t{1}));
  Tensor step = cast(it, DType::Float32);                           // 1-based, for bias corrections
  Tensor lr = learning_rate.value(cast(it, DType::Float64) - 1.0);  // schedules see the updates applied before this one
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;  // variable not connected to the loss
    if (grads[i].shape() != vars[i].shape() && grads[i].shape().is_fully_known()) {
      throw ShapeError("[" + name() + "] gradient of shape " + grads[i].shape().str() + " for variable '" +
                       vars[i].name() + "' of shape " + vars[i].shape().str());
    }
    const void* key = vars[i].ref().get();
    auto it_slots = std::find_if(slots_.begin(), slots_.end(), [&](const auto& p) { return p.first == key; });
    if (it_slots == slots_.end()) it_slots = slots_.insert(slots_.end(), {key, {}});
    update(vars[i], cast(grads[i], vars[i].dtype()), it_slots->second, cast(lr, vars[i].dtype()), step);
  }
}

namespace {

class SGDImpl : public Optimizer {
 public:
  SGDImpl(LearningRate lr, double momentum, bool nesterov)
      : Optimizer(std::move(lr)), nesterov_(nesterov), use_momentum_(momentum > 0) {
    momentum_ = &hyper("momentum", momentum, 0, 1);
  }
  std::string name() const override { return "SGD"; }
  // momentum m: v = m v - lr g; w += v (nesterov: w += m v - lr g). Whether momentum is used at all is fixed
  // at construction (it adds a slot), as in Keras; its value is read at run time.
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor& lr,
              const Tensor&) override {
    if (!use_momentum_) {
      w.assign_sub(g * lr);
      return;
    }
    Variable v = slot(slots, 0, w, "momentum");
    Tensor m = momentum_->value(w.dtype());
    Tensor vn = v.assign(v.value() * m - g * lr);
    w.assign_add(nesterov_ ? vn * m - g * lr : vn);
  }

 private:
  bool nesterov_, use_momentum_;
  Hyperparameter* momentum_;
};

class AdamImpl : public Optimizer {
 public:
  AdamImpl(LearningRate lr, double b1, double b2, double eps, std::optional<double> wd)
      : Optimizer(std::move(lr)), decoupled_(wd.has_value()) {
    b1_ = &hyper("beta_1", b1, 0, 1);
    b2_ = &hyper("beta_2", b2, 0, 1);
    eps_ = &hyper("epsilon", eps, 0, INFINITY, false);
    if (wd) wd_ = &hyper("weight_decay", *wd, 0, 1);
  }
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr_t m / (sqrt(v) + eps), lr_t = lr sqrt(1-b2^t)/(1-b1^t);
  // AdamW also decays w by lr * weight_decay (decoupled).
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor& lr,
              const Tensor& step) override {
    Variable m = slot(slots, 0, w, "m"), v = slot(slots, 1, w, "v");
    const DType d = w.dtype();
    Tensor b1 = b1_->value(d), b2 = b2_->value(d), t = cast(step, d);
    Tensor lr_t = sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)) * lr;
    Tensor decay = decoupled_ ? lr * wd_->value(d) : full({}, 0.0, d);
    // The kernel takes 1 - beta in double, as Keras computes it in Python (float32(1 - 0.999), not
    // 1 - float32(0.999), which is 1.3e-5 off)
    apply_adam(w, m, v, g, lr_t, b1_->value(DType::Float64), b2_->value(DType::Float64), eps_->value(d), decay);
  }

 private:
  bool decoupled_;
  Hyperparameter *b1_, *b2_, *eps_, *wd_ = nullptr;
};

class RMSpropImpl : public Optimizer {
 public:
  RMSpropImpl(LearningRate lr, double rho, double momentum, double eps)
      : Optimizer(std::move(lr)), use_momentum_(momentum > 0) {
    rho_ = &hyper("rho", rho, 0, 1);
    momentum_ = &hyper("momentum", momentum, 0, 1);
    eps_ = &hyper("epsilon", eps, 0, INFINITY, false);
  }
  std::string name() const override { return "RMSprop"; }
  // a = rho a + (1-rho) g^2; step = lr g / sqrt(a + eps) (with momentum: mom = m mom + step; w -= mom)
  void update(const Variable& w, const Tensor& g, std::vector<Variable>& slots, const Tensor& lr,
              const Tensor&) override {
    const DType d = w.dtype();
    Variable a = slot(slots, 0, w, "rms");
    Tensor rho = rho_->value(d);
    Tensor an = a.assign(a.value() * rho + square(g) * (1.0 - rho));
    Tensor delta = g * lr / sqrt(an + eps_->value(d));
    if (use_momentum_) {
      Variable mom = slot(slots, 1, w, "momentum");
      delta = mom.assign(mom.value() * momentum_->value(d) + delta);
    }
    w.assign_sub(delta);
  }

 private:
  bool use_momentum_;
  Hyperparameter *rho_, *momentum_, *eps_;
};

}  // namespace

OptimizerPtr SGD(LearningRate lr, double momentum, bool nesterov) {
  return std::make_shared<SGDImpl>(std::move(lr), momentum, nesterov);
}
OptimizerPtr Adam(LearningRate lr, double b1, double b2, double eps) {
  return std::make_shared<AdamImpl>(std::move(lr), b1, b2, eps, std::nullopt);
}
OptimizerPtr AdamW(LearningRate lr, double wd, double b1, double b2, double eps) {
  return std::make_shared<AdamImpl>(std::move(lr), b1, b2, eps, wd);
}
OptimizerPtr RMSprop(LearningRate lr, double rho, double momentum, double eps) {
  return std::make_shared<RMSpropImpl>(std::move(lr), rho, momentum, eps);
}

OptimizerPtr get(const std::string& n) {
  if (n == "sgd" || n == "SGD") return SGD();
  if (n == "adam" || n == "Adam") return Adam();
  if (n == "adamw" || n == "AdamW") return AdamW();
  if (n == "rmsprop" || n == "RMSprop") return RMSprop();
  throw ValueError("[compile] unknown optimizer '" + n + "'; use sgd, adam, adamw, rmsprop or an optimizers:: object");
}

}  // namespace duet::optimizers
