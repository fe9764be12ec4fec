// Built-in callbacks: EarlyStopping, ReduceLROnPlateau, TerminateOnNaN, LambdaCallback.
#include <cmath>

#include "duet/function.h"
#include "duet/model.h"

namespace duet::callbacks {
namespace {

// The monitored value, or a ValueError naming what the logs have.
double monitored(const std::string& who, const std::string& monitor, const Logs& logs) {
  auto it = logs.find(monitor);
  if (it != logs.end()) return it->second;
  std::string have;
  for (auto& [k, v] : logs) have += (have.empty() ? "" : ", ") + k;
  throw ValueError("[" + who + "] monitors '" + monitor + "' but the logs only have: " + have +
                   (monitor.rfind("val_", 0) == 0 ? " (give fit validation_data or validation_split)" : ""));
}

// True when larger values are better: mode "max", or "auto" with an accuracy-like name.
bool maximize(const std::string& who, const std::string& mode, const std::string& monitor) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  if (mode != "auto") throw ValueError("[" + who + "] mode must be \"auto\", \"min\" or \"max\", got \"" + mode + "\"");
  return monitor.find("acc") != std::string::npos || monitor.find("auc") != std::string::npos;
}

class EarlyStoppingImpl : public Callback {
 public:
  explicit EarlyStoppingImpl(EarlyStoppingOptions o)
      : o_(std::move(o)), max_(maximize("EarlyStopping", o_.mode, o_.monitor)) {}
  void on_train_begin(Model&) override {
    best_ = INFINITY;
    wait_ = 0;
    best_weights_.clear();
  }
  void on_epoch_end(Model& m, int, const Logs& logs) override {
    double v = monitored("EarlyStopping", o_.monitor, logs) * (max_ ? -1 : 1);
    if (v < best_ - o_.min_delta) {
      best_ = v;
      wait_ = 0;
      if (o_.restore_best_weights) {
        best_weights_.clear();
        for (const auto& w : m.weights()) best_weights_.push_back(w.value());
      }
    } else if (++wait_ > o_.patience) {
      m.stop_training = true;
      if (o_.restore_best_weights && !best_weights_.empty()) {
        auto ws = m.weights();
        for (std::size_t i = 0; i < ws.size() && i < best_weights_.size(); ++i) ws[i].assign(best_weights_[i]);
      }
    }
  }

 private:
  EarlyStoppingOptions o_;
  bool max_;
  double best_ = INFINITY;
  int wait_ = 0;
  std::vector<Tensor> best_weights_;
};

// Keras's rule: after a reduction, `cooldown` epochs pass before epochs without improvement count again.
class ReduceLROnPlateauImpl : public Callback {
 public:
  explicit ReduceLROnPlateauImpl(ReduceLROnPlateauOptions o)
      : o_(std::move(o)), max_(maximize("ReduceLROnPlateau", o_.mode, o_.monitor)) {
    if (!(o_.factor >= 0 && o_.factor < 1))
      throw ValueError("[ReduceLROnPlateau] factor must be in [0, 1), got " + std::to_string(o_.factor));
    if (o_.patience < 0 || o_.cooldown < 0) throw ValueError("[ReduceLROnPlateau] patience and cooldown must be >= 0");
  }
  void on_train_begin(Model&) override {
    best_ = INFINITY;
    wait_ = 0;
    cooldown_left_ = 0;
  }
  void on_epoch_end(Model& m, int epoch, const Logs& logs) override {
    auto opt = m.optimizer();
    if (!opt) throw StateError("[ReduceLROnPlateau] the model has no optimizer; compile it first");
    double v = monitored("ReduceLROnPlateau", o_.monitor, logs) * (max_ ? -1 : 1);
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      wait_ = 0;
    }
    if (v < best_ - o_.min_delta) {
      best_ = v;
      wait_ = 0;
    } else if (cooldown_left_ == 0 && ++wait_ >= o_.patience) {
      double old_lr = opt->learning_rate;
      if (old_lr > o_.min_lr) {
        double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
        opt->learning_rate = new_lr;
        internal::log(config::LogLevel::Info, "[ReduceLROnPlateau] epoch " + std::to_string(epoch + 1) +
                                                  ": learning rate " + std::to_string(old_lr) + " -> " +
                                                  std::to_string(new_lr));
      }
      cooldown_left_ = o_.cooldown;
      wait_ = 0;
    }
  }

 private:
  ReduceLROnPlateauOptions o_;
  bool max_;
  double best_ = INFINITY;
  int wait_ = 0, cooldown_left_ = 0;
};

class TerminateOnNaNImpl : public Callback {
 public:
  void on_epoch_begin(Model&, int epoch) override { epoch_ = epoch; }
  void on_batch_end(Model& m, int batch, const Logs& logs) override {
    auto it = logs.find("loss");
    if (it == logs.end() || std::isfinite(it->second)) return;
    m.stop_training = true;
    internal::log(
        config::LogLevel::Warning,
        "[TerminateOnNaN] the loss is " + std::string(std::isnan(it->second) ? "NaN" : "infinite") + " at batch " +
            std::to_string(batch + 1) + " of epoch " + std::to_string(epoch_ + 1) +
            ": training stopped. The weights may hold NaN now; lower the learning rate, check the data for NaN/Inf "
            "(config::enable_check_numerics() names the first op that produces one), or restore a checkpoint");
  }

 private:
  int epoch_ = 0;
};

class LambdaImpl : public Callback {
 public:
  explicit LambdaImpl(LambdaCallbackFns f) : f_(std::move(f)) {}
  void on_epoch_begin(Model& m, int e) override {
    if (f_.on_epoch_begin) f_.on_epoch_begin(m, e);
  }
  void on_epoch_end(Model& m, int e, const Logs& l) override {
    if (f_.on_epoch_end) f_.on_epoch_end(m, e, l);
  }
  void on_batch_end(Model& m, int b, const Logs& l) override {
    if (f_.on_batch_end) f_.on_batch_end(m, b, l);
  }

 private:
  LambdaCallbackFns f_;
};

}  // namespace

CallbackPtr EarlyStopping(EarlyStoppingOptions o) { return std::make_shared<EarlyStoppingImpl>(std::move(o)); }
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions o) {
  return std::make_shared<ReduceLROnPlateauImpl>(std::move(o));
}
CallbackPtr TerminateOnNaN() { return std::make_shared<TerminateOnNaNImpl>(); }
CallbackPtr LambdaCallback(LambdaCallbackFns fns) { return std::make_shared<LambdaImpl>(std::move(fns)); }

}  // namespace duet::callbacks
