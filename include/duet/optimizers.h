#pragma once
// Optimizers and learning-rate schedules. Update rules are duet ops, so a traced train step contains them;
// every hyperparameter (learning rate, momentum, betas, epsilon, weight decay) is read when the step runs,
// so changing one between steps (a callback, a schedule, opt->learning_rate = 0.01) acts on compiled and
// eager steps alike.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet::optimizers {

namespace schedules {
// A learning rate as a function of the step (the number of updates applied before this one).
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual std::string name() const = 0;
  // step: a float64 scalar tensor; returns a float64 scalar (written with duet ops: traced, it runs each step).
  virtual Tensor operator()(const Tensor& step) const = 0;
};
using SchedulePtr = std::shared_ptr<const LearningRateSchedule>;

// initial * decay_rate ^ (step / decay_steps)  (with staircase, the exponent is floored).
SchedulePtr ExponentialDecay(double initial_learning_rate, std::int64_t decay_steps, double decay_rate,
                             bool staircase = false);
// values[0] while step <= boundaries[0], values[1] while step <= boundaries[1], ..., then values.back().
SchedulePtr PiecewiseConstantDecay(std::vector<std::int64_t> boundaries, std::vector<double> values);
// With warmup_target: a linear warmup from initial_learning_rate to warmup_target over warmup_steps, then a
// cosine decay over decay_steps from warmup_target (or the initial rate without warmup) to alpha times it.
SchedulePtr CosineDecay(double initial_learning_rate, std::int64_t decay_steps, double alpha = 0.0,
                        std::optional<double> warmup_target = {}, std::int64_t warmup_steps = 0);
}  // namespace schedules

// An optimizer's learning rate: a Hyperparameter, or a schedule of the optimizer's step.
class LearningRate {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit, Adam(1e-3)
  LearningRate(double value);
  // NOLINTNEXTLINE(google-explicit-constructor): implicit, Adam(ExponentialDecay(...))
  LearningRate(schedules::SchedulePtr schedule);
  // Sets a constant rate (StateError when a schedule drives it).
  LearningRate& operator=(double value);
  // The rate the next update uses (a schedule's value at the current step).
  double get() const;
  // NOLINTNEXTLINE(google-explicit-constructor): reads like a number
  operator double() const { return get(); }
  // Inside an update: the rate for `step` (a float64 scalar), read at run time.
  Tensor value(const Tensor& step) const;
  const schedules::SchedulePtr& schedule() const { return schedule_; }
  const Hyperparameter& hyperparameter() const { return hp_; }

 private:
  friend class Optimizer;
  Hyperparameter hp_;
  schedules::SchedulePtr schedule_;
  Variable iterations_;  // the optimizer's, to evaluate a schedule in get()
};

// Updates variables from gradients.
class Optimizer {
 public:
  explicit Optimizer(LearningRate learning_rate);
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  void apply_gradients(const std::vector<Variable>& vars, const std::vector<Tensor>& grads);
  LearningRate learning_rate;
  // The other hyperparameters by name (momentum, beta_1, ...): each read at run time.
  std::vector<std::pair<std::string, Hyperparameter*>> hyperparameters();
  // Number of updates applied (a variable, so it advances inside traced steps).
  Variable iterations() const { return iterations_; }
  // Its state for checkpoints: the iteration count and every slot variable, named "<variable>/<slot>", in
  // a stable order (slots exist after the first update of their variable).
  std::vector<std::pair<std::string, Variable>> variables() const;
  // One variable's optimizer state (its slots, "<variable>/m", ...), empty before its first update.
  std::vector<Variable> slots(const Variable& var) const;
  // Restores one variable's slots (checkpoints): values[j] is slot j, named by its slot name ("m", "v",
  // "momentum", "rms"); missing slots are created, existing ones must have the same name, dtype and shape.
  void restore_slots(const Variable& var, const std::vector<std::pair<std::string, Tensor>>& values);

 protected:
  // One variable's update; `slots` holds its optimizer state (created on first use); lr the learning rate
  // of this step; step the 1-based step number (float32).
  virtual void update(const Variable& var, const Tensor& grad, std::vector<Variable>& slots, const Tensor& lr,
                      const Tensor& step) = 0;
  Variable slot(std::vector<Variable>& slots, std::size_t i, const Variable& like, const std::string& slot_name);
  // Declares a hyperparameter (at construction).
  Hyperparameter& hyper(const std::string& name, double value, double lo, double hi, bool hi_open = true);

 private:
  std::vector<std::pair<const void*, std::vector<Variable>>> slots_;  // in first-update order
  std::vector<std::pair<std::string, std::unique_ptr<Hyperparameter>>> hypers_;
  Variable iterations_;
};
using OptimizerPtr = std::shared_ptr<Optimizer>;

OptimizerPtr SGD(LearningRate learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
OptimizerPtr Adam(LearningRate learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999,
                  double epsilon = 1e-7);
OptimizerPtr AdamW(LearningRate learning_rate = 0.001, double weight_decay = 0.004, double beta_1 = 0.9,
                   double beta_2 = 0.999, double epsilon = 1e-7);
OptimizerPtr RMSprop(LearningRate learning_rate = 0.001, double rho = 0.9, double momentum = 0.0,
                     double epsilon = 1e-7);
// "sgd", "adam", "adamw", "rmsprop" with default settings.
OptimizerPtr get(const std::string& name);

}  // namespace duet::optimizers
