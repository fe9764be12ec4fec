// compile / fit / evaluate / predict. The train step (forward, loss, tape gradient, optimizer update,
// metric updates) is one traced function with an unknown batch dim, so every batch size (including the
// last partial batch) replays one trace. run_eagerly calls the same step directly.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>

#include "duet/function.h"
#include "duet/ops.h"
#include "duet/tape.h"
#include "layers/model_impl.h"

namespace duet {
namespace metrics {
MetricPtr loss_tracker();
}

namespace {

TensorSpec batch_spec(const Tensor& t) {
  Shape s = t.shape();
  if (s.rank() > 0) s[0] = Shape::kUnknown;
  return {t.dtype(), s};
}

Tensor rows(const Tensor& t, const std::vector<std::int64_t>& idx) {
  return gather(t, constant(idx, Shape{static_cast<std::int64_t>(idx.size())}, DType::Int64), 0);
}

Tensor row_range(const Tensor& t, std::int64_t begin, std::int64_t n) {
  std::vector<std::int64_t> b(static_cast<std::size_t>(t.rank()), 0), sz(static_cast<std::size_t>(t.rank()), -1);
  b[0] = begin;
  sz[0] = n;
  return slice(t, b, sz);
}

std::string fmt_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string fmt_time(double seconds) {
  char buf[32];
  if (seconds >= 1) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1e3);
  return buf;
}

// Keras-style progress: "12/32 [=======>......] - ETA: 3s - loss: 0.1234 - accuracy: 0.9000".
class Progress {
 public:
  Progress(std::ostream& os, std::int64_t steps, int verbose, bool tty) : os_(os), steps_(steps), verbose_(verbose), tty_(tty) {
    start_ = std::chrono::steady_clock::now();
  }
  void update(std::int64_t done, const Logs& logs, bool final) {
    if (verbose_ == 0) return;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (!final && (!tty_ || verbose_ != 1)) return;
    std::ostringstream line;
    std::string count = std::to_string(steps_);
    std::string d = std::to_string(done);
    line << std::string(count.size() - std::min(count.size(), d.size()), ' ') << d << "/" << count << " [";
    const int width = 30;
    int filled = static_cast<int>(width * done / std::max<std::int64_t>(steps_, 1));
    for (int i = 0; i < width; ++i) line << (i < filled - 1 || (final && i < width) ? '=' : i == filled - 1 ? '>' : '.');
    line << "] - ";
    if (final) {
      line << fmt_time(elapsed) << " " << fmt_time(elapsed / std::max<std::int64_t>(done, 1)) << "/step";
    } else {
      double eta = elapsed / std::max<std::int64_t>(done, 1) * static_cast<double>(steps_ - done);
      line << "ETA: " << fmt_time(eta);
    }
    // Keras order: loss first, then the metrics (and their val_ versions).
    auto it = logs.find("loss");
    if (it != logs.end()) line << " - loss: " << fmt_value(it->second);
    for (const auto& [k, v] : logs)
      if (k != "loss") line << " - " << k << ": " << fmt_value(v);
    if (tty_ && verbose_ == 1) os_ << "\r" << line.str() << (final ? "\n" : "") << std::flush;
    else os_ << line.str() << "\n";
  }

 private:
  std::ostream& os_;
  std::int64_t steps_;
  int verbose_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

void Model::compile(CompileOptions o) {
  Impl& im = *impl_;
  if (!o.optimizer.ptr) throw ValueError("[" + name() + "] compile needs an optimizer");
  im.optimizer = o.optimizer.ptr;
  im.loss = o.loss ? o.loss->ptr : nullptr;
  im.metrics.clear();
  for (auto& m : o.metrics) im.metrics.push_back(m.ptr ? m.ptr : metrics::get(m.name));
  im.loss_tracker = metrics::loss_tracker();
  im.run_eagerly = o.run_eagerly;
  im.train_step = nullptr;
  im.test_step = nullptr;
  im.predict_step = nullptr;
  im.compiled = true;
}

namespace {

void check_data(const Model& m, const Tensor& x, const Tensor& y, bool need_y) {
  if (!x.defined()) throw ValueError("[" + m.name() + "] x is an undefined Tensor handle");
  if (x.is_symbolic()) throw ValueError("[" + m.name() + "] fit/evaluate/predict take concrete data, got " + x.str());
  if (x.rank() < 1 || x.shape()[0] == 0) throw ShapeError("[" + m.name() + "] x needs a non-empty batch dim, got shape " + x.shape().str());
  if (need_y) {
    if (!y.defined()) throw ValueError("[" + m.name() + "] y is an undefined Tensor handle");
    if (y.rank() < 1 || y.shape()[0] != x.shape()[0]) {
      throw ShapeError("[" + m.name() + "] x has " + std::to_string(x.shape()[0]) + " examples but y has shape " + y.shape().str() +
                       "; they must have the same first dim");
    }
  }
}

}  // namespace

History Model::fit(const Tensor& x_all, const Tensor& y_all, FitOptions o) {
  Impl& im = *impl_;
  if (!im.compiled) throw StateError("[" + name() + "] fit() before compile(); call model.compile({...}) first");
  if (!im.loss) throw StateError("[" + name() + "] compile() was called without a loss; fit needs one");
  check_data(*this, x_all, y_all, true);
  if (o.batch_size <= 0) throw ValueError("[" + name() + "] batch_size must be positive, got " + std::to_string(o.batch_size));
  if (o.epochs < 0) throw ValueError("[" + name() + "] epochs must be >= 0");
  Tensor x = x_all, y = y_all;
  std::optional<std::pair<Tensor, Tensor>> val = o.validation_data;
  if (o.validation_split > 0) {
    if (o.validation_split >= 1) throw ValueError("[" + name() + "] validation_split must be in [0, 1)");
    std::int64_t n = x_all.shape()[0];
    std::int64_t nv = static_cast<std::int64_t>(std::floor(static_cast<double>(n) * o.validation_split));
    x = row_range(x_all, 0, n - nv);
    y = row_range(y_all, 0, n - nv);
    if (nv > 0) val = std::make_pair(row_range(x_all, n - nv, nv), row_range(y_all, n - nv, nv));
  }
  if (!im.train_step) {
    auto step = [this](const Tensor& xb, const Tensor& yb) {
      Impl& m = *impl_;
      GradientTape tape;
      Tensor pred = (*this)(xb, true);
      Tensor loss = (*m.loss)(yb, pred);
      auto vars = trainable_weights();
      std::vector<Source> srcs(vars.begin(), vars.end());
      auto grads = tape.gradient(loss, srcs);
      m.optimizer->apply_gradients(vars, grads);
      m.loss_tracker->update_state(loss, loss);
      for (auto& met : m.metrics) met->update_state(yb, pred);
      return loss;
    };
    if (im.run_eagerly) {
      im.train_step = step;
    } else {
      im.train_step = function(step, {.name = name() + "_train_step",
                                      .input_signature = std::vector<TensorSpec>{batch_spec(x), batch_spec(y)}});
    }
  }
  const std::int64_t n = x.shape()[0];
  const std::int64_t steps = (n + o.batch_size - 1) / o.batch_size;
  const bool tty = o.out == &std::cout && isatty(fileno(stdout));
  std::mt19937_64 rng(o.seed.value_or(0x5eed));
  History h;
  stop_training = false;
  for (auto& cb : o.callbacks) cb->on_train_begin(*this);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int epoch = 0; epoch < o.epochs && !stop_training; ++epoch) {
    for (auto& cb : o.callbacks) cb->on_epoch_begin(*this, epoch);
    if (o.verbose) *o.out << "Epoch " << epoch + 1 << "/" << o.epochs << "\n";
    im.loss_tracker->reset_state();
    for (auto& m : im.metrics) m->reset_state();
    if (o.shuffle) std::shuffle(order.begin(), order.end(), rng);
    Progress bar(*o.out, steps, o.verbose, tty);
    Logs logs;
    for (std::int64_t s = 0; s < steps; ++s) {
      std::int64_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
      Tensor xb, yb;
      if (o.shuffle) {
        std::vector<std::int64_t> idx(order.begin() + b, order.begin() + e);
        xb = rows(x, idx);
        yb = rows(y, idx);
      } else {
        xb = row_range(x, b, e - b);
        yb = row_range(y, b, e - b);
      }
      im.train_step(xb, yb);
      logs = {{"loss", im.loss_tracker->result()}};
      for (auto& m : im.metrics) logs[m->name()] = m->result();
      for (auto& cb : o.callbacks) cb->on_batch_end(*this, static_cast<int>(s), logs);
      bar.update(s + 1, logs, false);
    }
    if (val) {
      Logs vl = evaluate(val->first, val->second, o.batch_size, 0);
      for (auto& [k, v] : vl) logs["val_" + k] = v;
    }
    bar.update(steps, logs, true);
    for (auto& [k, v] : logs) h.history[k].push_back(v);
    h.epochs_run = epoch + 1;
    for (auto& cb : o.callbacks) cb->on_epoch_end(*this, epoch, logs);
  }
  for (auto& cb : o.callbacks) cb->on_train_end(*this);
  return h;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, std::int64_t batch_size, int verbose) {
  Impl& im = *impl_;
  if (!im.compiled) throw StateError("[" + name() + "] evaluate() before compile(); call model.compile({...}) first");
  if (!im.loss) throw StateError("[" + name() + "] compile() was called without a loss; evaluate needs one");
  check_data(*this, x, y, true);
  if (batch_size <= 0) throw ValueError("[" + name() + "] batch_size must be positive");
  if (!im.test_step) {
    auto step = [this](const Tensor& xb, const Tensor& yb) {
      Impl& m = *impl_;
      Tensor pred = (*this)(xb, false);
      Tensor loss = (*m.loss)(yb, pred);
      m.loss_tracker->update_state(loss, loss);
      for (auto& met : m.metrics) met->update_state(yb, pred);
      return loss;
    };
    if (im.run_eagerly) im.test_step = step;
    else im.test_step = function(step, {.name = name() + "_test_step", .input_signature = std::vector<TensorSpec>{batch_spec(x), batch_spec(y)}});
  }
  im.loss_tracker->reset_state();
  for (auto& m : im.metrics) m->reset_state();
  const std::int64_t n = x.shape()[0];
  for (std::int64_t b = 0; b < n; b += batch_size) {
    std::int64_t e = std::min(n, b + batch_size);
    im.test_step(row_range(x, b, e - b), row_range(y, b, e - b));
  }
  Logs logs{{"loss", im.loss_tracker->result()}};
  for (auto& m : im.metrics) logs[m->name()] = m->result();
  if (verbose) {
    for (auto& [k, v] : logs) std::cout << k << ": " << fmt_value(v) << "  ";
    std::cout << "\n";
  }
  return logs;
}

Tensor Model::predict(const Tensor& x, std::int64_t batch_size) {
  Impl& im = *impl_;
  check_data(*this, x, Tensor(), false);
  if (batch_size <= 0) throw ValueError("[" + name() + "] batch_size must be positive");
  if (!im.predict_step) {
    auto step = [this](const Tensor& xb) { return (*this)(xb, false); };
    if (im.run_eagerly) im.predict_step = step;
    else im.predict_step = function(step, {.name = name() + "_predict_step", .input_signature = std::vector<TensorSpec>{batch_spec(x)}});
  }
  std::vector<Tensor> parts;
  const std::int64_t n = x.shape()[0];
  for (std::int64_t b = 0; b < n; b += batch_size) parts.push_back(im.predict_step(row_range(x, b, std::min(n, b + batch_size) - b)));
  return concat(parts, 0);
}

namespace callbacks {
namespace {

class EarlyStoppingImpl : public Callback {
 public:
  EarlyStoppingImpl(std::string monitor, int patience, double min_delta, bool restore)
      : monitor_(std::move(monitor)), patience_(patience), min_delta_(min_delta), restore_(restore) {}
  void on_train_begin(Model&) override {
    best_ = INFINITY;
    wait_ = 0;
    best_weights_.clear();
  }
  void on_epoch_end(Model& m, int, const Logs& logs) override {
    auto it = logs.find(monitor_);
    if (it == logs.end()) {
      std::string have;
      for (auto& [k, v] : logs) have += (have.empty() ? "" : ", ") + k;
      throw ValueError("[EarlyStopping] monitors '" + monitor_ + "' but the logs only have: " + have +
                       (monitor_.rfind("val_", 0) == 0 ? " (give fit validation_data or validation_split)" : ""));
    }
    bool higher_is_better = monitor_.find("acc") != std::string::npos;
    double v = higher_is_better ? -it->second : it->second;
    if (v < best_ - min_delta_) {
      best_ = v;
      wait_ = 0;
      if (restore_) {
        best_weights_.clear();
        for (const auto& w : m.weights()) best_weights_.push_back(w.value());
      }
    } else if (++wait_ > patience_) {
      m.stop_training = true;
      if (restore_ && !best_weights_.empty()) {
        auto ws = m.weights();
        for (std::size_t i = 0; i < ws.size() && i < best_weights_.size(); ++i) ws[i].assign(best_weights_[i]);
      }
    }
  }

 private:
  std::string monitor_;
  int patience_;
  double min_delta_;
  bool restore_;
  double best_ = INFINITY;
  int wait_ = 0;
  std::vector<Tensor> best_weights_;
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

CallbackPtr EarlyStopping(const std::string& monitor, int patience, double min_delta, bool restore) {
  return std::make_shared<EarlyStoppingImpl>(monitor, patience, min_delta, restore);
}
CallbackPtr LambdaCallback(LambdaCallbackFns fns) { return std::make_shared<LambdaImpl>(std::move(fns)); }

}  // namespace callbacks
}  // namespace duet
