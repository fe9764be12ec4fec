// Learning-rate schedules: functions of the step written with duet ops (traced, they run every step).
#include <cmath>
#include <numbers>

#include "duet/ops.h"
#include "duet/optimizers.h"

namespace duet::optimizers::schedules {
namespace {

Tensor f64(double v) { return full({}, v, DType::Float64); }

void require(bool ok, const char* who, const std::string& what) {
  if (!ok) throw ValueError(std::string("[") + who + "] " + what);
}

class Exponential : public LearningRateSchedule {
 public:
  Exponential(double init, std::int64_t steps, double rate, bool stair)
      : init_(init), steps_(steps), rate_(rate), stair_(stair) {}
  std::string name() const override { return "ExponentialDecay"; }
  // init * rate ^ (step / decay_steps), the exponent floored with staircase (step >= 0, so truncation floors).
  Tensor operator()(const Tensor& step) const override {
    Tensor p = cast(step, DType::Float64) / static_cast<double>(steps_);
    if (stair_) p = cast(cast(p, DType::Int64), DType::Float64);
    return pow(f64(rate_), p) * init_;
  }

 private:
  double init_;
  std::int64_t steps_;
  double rate_;
  bool stair_;
};

class Piecewise : public LearningRateSchedule {
 public:
  Piecewise(std::vector<std::int64_t> b, std::vector<double> v) : b_(std::move(b)), v_(std::move(v)) {}
  std::string name() const override { return "PiecewiseConstantDecay"; }
  // values[i] while step <= boundaries[i]: nested selects from the last boundary back.
  Tensor operator()(const Tensor& step) const override {
    Tensor s = cast(step, DType::Float64);
    Tensor v = f64(v_.back());
    for (std::size_t i = b_.size(); i-- > 0;) v = where(s <= static_cast<double>(b_[i]), f64(v_[i]), v);
    return v;
  }

 private:
  std::vector<std::int64_t> b_;
  std::vector<double> v_;
};

class Cosine : public LearningRateSchedule {
 public:
  Cosine(double init, std::int64_t steps, double alpha, std::optional<double> target, std::int64_t warmup)
      : init_(init), steps_(steps), alpha_(alpha), target_(target), warmup_(warmup) {}
  std::string name() const override { return "CosineDecay"; }
  Tensor operator()(const Tensor& step_in) const override {
    Tensor step = cast(step_in, DType::Float64);
    const double peak = target_.value_or(init_);
    auto decayed = [&](const Tensor& s) {  // peak * ((1 - alpha) * 0.5 (1 + cos(pi min(s, steps) / steps)) + alpha)
      Tensor c =
          (cos(minimum(s, static_cast<double>(steps_)) * (std::numbers::pi / static_cast<double>(steps_))) + 1.0) * 0.5;
      return (c * (1 - alpha_) + alpha_) * peak;
    };
    if (!target_ || warmup_ == 0) return decayed(maximum(step - static_cast<double>(warmup_), 0.0));
    Tensor warm = step * ((*target_ - init_) / static_cast<double>(warmup_)) + init_;
    return where(step < static_cast<double>(warmup_), warm, decayed(step - static_cast<double>(warmup_)));
  }

 private:
  double init_;
  std::int64_t steps_;
  double alpha_;
  std::optional<double> target_;
  std::int64_t warmup_;
};

}  // namespace

SchedulePtr ExponentialDecay(double init, std::int64_t decay_steps, double rate, bool staircase) {
  require(std::isfinite(init) && init >= 0, "ExponentialDecay",
          "initial_learning_rate must be finite and >= 0, got " + std::to_string(init));
  require(decay_steps > 0, "ExponentialDecay", "decay_steps must be positive, got " + std::to_string(decay_steps));
  require(std::isfinite(rate) && rate > 0, "ExponentialDecay",
          "decay_rate must be finite and positive, got " + std::to_string(rate));
  return std::make_shared<Exponential>(init, decay_steps, rate, staircase);
}

SchedulePtr PiecewiseConstantDecay(std::vector<std::int64_t> boundaries, std::vector<double> values) {
  require(values.size() == boundaries.size() + 1, "PiecewiseConstantDecay",
          "needs one more value than boundaries, got " + std::to_string(boundaries.size()) + " boundaries and " +
              std::to_string(values.size()) + " values");
  for (std::size_t i = 1; i < boundaries.size(); ++i)
    require(boundaries[i] > boundaries[i - 1], "PiecewiseConstantDecay", "boundaries must increase");
  for (double v : values)
    require(std::isfinite(v) && v >= 0, "PiecewiseConstantDecay", "values must be finite and >= 0");
  return std::make_shared<Piecewise>(std::move(boundaries), std::move(values));
}

SchedulePtr CosineDecay(double init, std::int64_t decay_steps, double alpha, std::optional<double> warmup_target,
                        std::int64_t warmup_steps) {
  require(std::isfinite(init) && init >= 0, "CosineDecay",
          "initial_learning_rate must be finite and >= 0, got " + std::to_string(init));
  require(decay_steps > 0, "CosineDecay", "decay_steps must be positive, got " + std::to_string(decay_steps));
  require(alpha >= 0 && alpha <= 1, "CosineDecay", "alpha must be in [0, 1], got " + std::to_string(alpha));
  require(warmup_steps >= 0, "CosineDecay", "warmup_steps must be >= 0");
  require(!warmup_target || (std::isfinite(*warmup_target) && *warmup_target >= 0), "CosineDecay",
          "warmup_target must be finite and >= 0");
  return std::make_shared<Cosine>(init, decay_steps, alpha, warmup_target, warmup_steps);
}

}  // namespace duet::optimizers::schedules
