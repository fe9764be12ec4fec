// compile / fit / evaluate / predict. The train step (forward, per-output losses, tape gradient, optimizer
// update, metric updates) is one traced function with an unknown batch dim, so every batch size (including
// the last partial batch) replays one trace. run_eagerly calls the same step directly.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <sstream>

#include "core/tensor_impl.h"
#include "duet/function.h"
#include "duet/ops.h"
#include "duet/tape.h"
#include "kernels/philox.h"
#include "train/data_parallel.h"
#include "train/model_impl.h"

namespace duet {
namespace {

TensorSpec batch_spec(const Tensor& t) {
  Shape s = t.shape();
  if (s.rank() > 0) s[0] = Shape::kUnknown;
  return {t.dtype(), s};
}
std::vector<TensorSpec> batch_specs(const std::vector<Tensor>& ts) {
  std::vector<TensorSpec> s;
  for (const Tensor& t : ts) s.push_back(batch_spec(t));
  return s;
}

Tensor rows(const Tensor& t, const Tensor& idx) { return gather(t, idx, 0); }

Tensor row_range(const Tensor& t, std::int64_t begin, std::int64_t n) {
  std::vector<std::int64_t> b(static_cast<std::size_t>(t.rank()), 0), sz(static_cast<std::size_t>(t.rank()), -1);
  b[0] = begin;
  sz[0] = n;
  return slice(t, b, sz);
}
std::vector<Tensor> row_range(const std::vector<Tensor>& ts, std::int64_t begin, std::int64_t n) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(row_range(t, begin, n));
  return out;
}

std::string fmt_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string fmt_time(double seconds) {
  char buf[32];
  if (seconds >= 1)
    std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else
    std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1e3);
  return buf;
}

// Keras-style progress: "12/32 [=======>......] - ETA: 3s - loss: 0.1234 - accuracy: 0.9000".
class Progress {
 public:
  Progress(std::ostream& os, std::int64_t steps, int verbose, bool tty)
      : os_(os), steps_(steps), verbose_(verbose), tty_(tty) {
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
    for (int i = 0; i < width; ++i)
      line << (i < filled - 1 || (final && i < width) ? '=' : i == filled - 1 ? '>' : '.');
    line << "] - ";
    if (final) {
      line << fmt_time(elapsed) << " " << fmt_time(elapsed / static_cast<double>(std::max<std::int64_t>(done, 1)))
           << "/step";
    } else {
      double eta = elapsed / static_cast<double>(std::max<std::int64_t>(done, 1)) * static_cast<double>(steps_ - done);
      line << "ETA: " << fmt_time(eta);
    }
    // Keras order: loss first, then the metrics (and their val_ versions).
    auto it = logs.find("loss");
    if (it != logs.end()) line << " - loss: " << fmt_value(it->second);
    for (const auto& [k, v] : logs)
      if (k != "loss") line << " - " << k << ": " << fmt_value(v);
    if (tty_ && verbose_ == 1)
      os_ << "\r" << line.str() << (final ? "\n" : "") << std::flush;
    else
      os_ << line.str() << "\n";
  }

 private:
  std::ostream& os_;
  std::int64_t steps_;
  int verbose_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

// Counts a call as active for its lifetime (compile refuses to run while any is).
struct Active {
  std::atomic<int>& n;
  explicit Active(std::atomic<int>& c) : n(c) { ++n; }
  ~Active() { --n; }
};

// Number of batches of `size` in n examples, without overflow for any batch size.
std::int64_t batches(std::int64_t n, std::int64_t size) { return n / size + (n % size != 0); }

}  // namespace

optimizers::OptimizerPtr Model::optimizer() const { return training_->optimizer; }
std::vector<Hyperparameter>& Model::loss_weights() { return training_->loss_weights; }
bool Model::compiled() const { return training_->compiled; }

void Model::compile(CompileOptions o) {
  Training& t = *training_;
  std::lock_guard<std::mutex> lock(t.mu);
  if (t.active.load() > 0) {
    throw StateError("[" + name() +
                     "] compile() while fit, evaluate or predict runs on this model (another thread); compile first");
  }
  if (!o.optimizer.ptr) throw ValueError("[" + name() + "] compile needs an optimizer");
  const std::size_t outs = num_outputs();
  if (!o.losses.empty() && o.loss)
    throw ValueError("[" + name() + "] give either loss (for every output) or losses (one per output), not both");
  if (!o.losses.empty() && o.losses.size() != outs) {
    throw ValueError("[" + name() + "] has " + std::to_string(outs) + " outputs but compile got " +
                     std::to_string(o.losses.size()) + " losses");
  }
  if (!o.loss_weights.empty() && o.loss_weights.size() != outs) {
    throw ValueError("[" + name() + "] has " + std::to_string(outs) + " outputs but compile got " +
                     std::to_string(o.loss_weights.size()) + " loss_weights");
  }
  t.optimizer = o.optimizer.ptr;
  t.losses.clear();
  for (std::size_t i = 0; i < outs; ++i) {
    if (!o.losses.empty())
      t.losses.push_back(o.losses[i].ptr);
    else if (o.loss)
      t.losses.push_back(o.loss->ptr);
  }
  t.output_names.clear();
  for (std::size_t i = 0; i < outs; ++i) {
    std::string n = "output_" + std::to_string(i + 1);
    if (structure_->functional) n = structure_->outputs[i].impl()->node->name;
    t.output_names.push_back(n);
  }
  t.loss_weights.clear();
  for (std::size_t i = 0; i < outs; ++i) {
    double w = o.loss_weights.empty() ? 1.0 : o.loss_weights[i];
    t.loss_weights.emplace_back(w, name() + "/loss_weight_" + std::to_string(i), [m = name()](double v) {
      if (!std::isfinite(v)) throw ValueError("[" + m + "] loss weights must be finite, got " + std::to_string(v));
    });
  }
  t.metrics.assign(outs, {});
  for (auto& m : o.metrics) {
    if (m.ptr && outs > 1) {
      throw ValueError(
          "[" + name() +
          "] a metric object tracks one output; name the metric (\"accuracy\") to compute it for each of the " +
          std::to_string(outs) + " outputs");
    }
    for (std::size_t i = 0; i < outs; ++i) t.metrics[i].push_back(m.ptr ? m.ptr : metrics::get(m.name));
  }
  t.loss_tracker = metrics::Mean("loss");
  t.output_losses.clear();
  if (outs > 1)
    for (std::size_t i = 0; i < outs; ++i) t.output_losses.push_back(metrics::Mean(t.output_names[i] + "_loss"));
  t.run_eagerly = o.run_eagerly;
  t.check_eager = o.check_eager;
  if (o.distribute && o.distribute->bucket_bytes <= 0) {
    throw ValueError("[" + name() + "] DataParallel::bucket_bytes must be positive, got " +
                     std::to_string(o.distribute->bucket_bytes));
  }
  t.distribute = o.distribute;
  t.train_step = nullptr;
  t.test_step = nullptr;
  t.predict_step = nullptr;
  t.compiled = true;
}

namespace {

// Logs of the tracked metrics: "loss", per-output losses, metrics (prefixed by output when there are several).
Logs collect_logs(const Model::Training& t) {
  Logs logs{{"loss", t.loss_tracker->result()}};
  for (std::size_t i = 0; i < t.output_losses.size(); ++i)
    logs[t.output_losses[i]->name()] = t.output_losses[i]->result();
  for (std::size_t i = 0; i < t.metrics.size(); ++i)
    for (const auto& m : t.metrics[i])
      logs[(t.metrics.size() > 1 ? t.output_names[i] + "_" : "") + m->name()] = m->result();
  return logs;
}

void reset_metrics(Model::Training& t) {
  t.loss_tracker->reset_state();
  for (auto& m : t.output_losses) m->reset_state();
  for (auto& ms : t.metrics)
    for (auto& m : ms) m->reset_state();
}

}  // namespace

// The examples in xs/ys (checked): every tensor concrete, rank >= 1, the same first dim, the right counts.
static std::int64_t check_data(const Model& m, const std::vector<Tensor>& xs, const std::vector<Tensor>* ys) {
  const std::string who = "[" + m.name() + "] ";
  if (xs.empty()) throw ValueError(who + "got no input tensors");
  if (xs.size() != m.num_inputs()) {
    throw ValueError(who + "has " + std::to_string(m.num_inputs()) + " inputs but got " + std::to_string(xs.size()) +
                     " input tensors");
  }
  if (ys && ys->size() != m.num_outputs()) {
    throw ValueError(who + "has " + std::to_string(m.num_outputs()) + " outputs but got " + std::to_string(ys->size()) +
                     " label tensors");
  }
  std::int64_t n = -1;
  auto check = [&](const Tensor& t, const std::string& what) {
    if (!t.defined()) throw ValueError(who + what + " is an undefined Tensor handle");
    if (t.is_symbolic())
      throw ValueError(who + "fit/evaluate/predict take concrete data, got " + t.str() + " for " + what);
    if (t.rank() < 1) throw ShapeError(who + what + " needs a batch dim, got a scalar");
    if (n < 0) n = t.shape()[0];
    if (t.shape()[0] != n) {
      throw ShapeError(who + what + " has " + std::to_string(t.shape()[0]) + " examples but the first input has " +
                       std::to_string(n) + "; every input and label must have the same first dim");
    }
  };
  for (std::size_t i = 0; i < xs.size(); ++i) check(xs[i], "input " + std::to_string(i));
  if (ys)
    for (std::size_t i = 0; i < ys->size(); ++i) check((*ys)[i], "label " + std::to_string(i));
  if (n == 0) throw ShapeError(who + "got 0 examples; fit/evaluate/predict need at least one");
  return n;
}

// Whether fit trains data-parallel: compiled with distribute and run by an MPI launcher with several ranks.
static bool data_parallel_on(const Model::Training& t) { return t.distribute && distributed::size() > 1; }

// The traced (or eager) steps, created on first use under the training lock.
static std::shared_ptr<Model::Training::StepFn> get_step(Model& self, Model::Training& t, bool train,
                                                         const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  std::lock_guard<std::mutex> lock(t.mu);
  auto& slot = train ? t.train_step : t.test_step;
  if (slot) return slot;
  const bool dp = train && data_parallel_on(t);
  auto step = [&self, &t, train, dp](const std::vector<Tensor>& xb, const std::vector<Tensor>& yb) {
    // Data parallel: the non-trainable weights as the step found them (their updates are averaged).
    std::vector<Variable> fixed;
    std::vector<Tensor> before;
    if (dp) {
      fixed = self.non_trainable_weights();
      for (const Variable& v : fixed) before.push_back(v.value());
    }
    std::optional<GradientTape> tape;
    if (train) tape.emplace();
    std::vector<Tensor> preds = self(xb, train);
    Tensor total;
    std::vector<Tensor> per_output;
    for (std::size_t i = 0; i < preds.size(); ++i) {
      Tensor li = (*t.losses[i])(yb[i], preds[i]);
      per_output.push_back(li);
      Tensor wi = li * t.loss_weights[i].value(li.dtype());
      total = total.defined() ? total + wi : wi;
    }
    if (train) {
      auto vars = self.trainable_weights();
      std::vector<Source> srcs(vars.begin(), vars.end());
      auto grads = tape->gradient(total, srcs);
      if (dp) {  // the gradients and the losses of the global batch
        std::vector<Tensor> ls{total};
        for (const Tensor& l : per_output) ls.push_back(l);
        grads =
            data_parallel::average_gradients(grads, size(xb[0], {0}, DType::Float32), t.distribute->bucket_bytes, ls);
        total = ls[0];
        for (std::size_t i = 0; i < per_output.size(); ++i) per_output[i] = ls[i + 1];
      }
      t.optimizer->apply_gradients(vars, grads);
      if (dp) data_parallel::average_updates(fixed, before);
    }
    t.loss_tracker->update_state(total, total);
    for (std::size_t i = 0; i < t.output_losses.size(); ++i)
      t.output_losses[i]->update_state(per_output[i], per_output[i]);
    for (std::size_t i = 0; i < preds.size(); ++i)
      for (auto& met : t.metrics[i]) met->update_state(yb[i], preds[i]);
    return std::vector<Tensor>{total};
  };
  if (t.run_eagerly) {
    slot = std::make_shared<Model::Training::StepFn>(step);
  } else {
    std::vector<TensorSpec> sig = batch_specs(xs);
    for (const auto& s : batch_specs(ys)) sig.push_back(s);
    auto f = function(step, {.name = self.name() + (train ? "_train_step" : "_test_step"),
                             .input_signature = sig,
                             .check_eager = t.check_eager});
    slot = std::make_shared<Model::Training::StepFn>(f);
  }
  return slot;
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, o);
}

History Model::fit(const std::vector<Tensor>& x_all, const std::vector<Tensor>& y_all, const FitOptions& o) {
  Training& t = *training_;
  if (t.fitting.exchange(true)) {
    throw StateError(
        "[" + name() +
        "] fit() is already running on this model (in another thread); one model trains one fit at a time");
  }
  t.fit_thread = std::this_thread::get_id();
  struct Done {
    std::atomic<bool>& f;
    ~Done() { f = false; }
  } done{t.fitting};
  Active active(t.active);
  if (!t.compiled) throw StateError("[" + name() + "] fit() before compile(); call model.compile({...}) first");
  if (t.losses.empty()) throw StateError("[" + name() + "] compile() was called without a loss; fit needs one");
  const std::int64_t n_all = check_data(*this, x_all, &y_all);
  if (o.batch_size <= 0)
    throw ValueError("[" + name() + "] batch_size must be positive, got " + std::to_string(o.batch_size));
  if (o.epochs < 0) throw ValueError("[" + name() + "] epochs must be >= 0, got " + std::to_string(o.epochs));
  if (o.initial_epoch < 0 || o.initial_epoch > o.epochs) {
    throw ValueError("[" + name() + "] initial_epoch must be in [0, epochs], got " + std::to_string(o.initial_epoch));
  }
  if (!(o.validation_split >= 0 && o.validation_split < 1)) {
    throw ValueError("[" + name() + "] validation_split must be in [0, 1), got " + std::to_string(o.validation_split));
  }
  if (o.verbose < 0 || o.verbose > 2)
    throw ValueError("[" + name() + "] verbose must be 0, 1 or 2, got " + std::to_string(o.verbose));
  if (!o.out) throw ValueError("[" + name() + "] FitOptions::out is a null stream pointer");
  std::vector<Tensor> x = x_all, y = y_all;
  std::optional<ValidationData> val = o.validation_data;
  if (o.validation_split > 0) {
    // As Keras: the first floor(n * (1 - split)) rows train, the rest validate; neither may be empty.
    const auto n_train = static_cast<std::int64_t>(std::floor(static_cast<double>(n_all) * (1 - o.validation_split)));
    if (n_train == 0 || n_train == n_all) {
      std::ostringstream split;
      split << o.validation_split;
      throw ValueError("[" + name() + "] validation_split=" + split.str() + " of " + std::to_string(n_all) +
                       " examples leaves " + (n_train == 0 ? "no example to train on" : "no example to validate on") +
                       "; give more data, a different validation_split, or validation_data");
    }
    x = row_range(x_all, 0, n_train);
    y = row_range(y_all, 0, n_train);
    val = ValidationData(row_range(x_all, n_train, n_all - n_train), row_range(y_all, n_train, n_all - n_train));
  }
  if (val) check_data(*this, val->x, &val->y);
  auto train_step = get_step(*this, t, true, x, y);
  // Data parallel: this rank's part of every global batch, and the metrics of the whole global batch.
  const bool dp = data_parallel_on(t);
  const std::int64_t ranks = dp ? distributed::size() : 1, me = dp ? distributed::rank() : 0;
  const int verbose = me == 0 ? o.verbose : 0;
  // Each rank draws its own random numbers (dropout masks) during a data-parallel fit.
  struct ProcessStream {
    std::uint64_t saved = random_process_stream();
    explicit ProcessStream(bool on, std::int64_t rank) {
      if (on) set_random_process_stream(static_cast<std::uint64_t>(rank));
    }
    ~ProcessStream() { set_random_process_stream(saved); }
  } process_stream(dp, me);
  std::vector<metrics::MetricPtr> tracked{t.loss_tracker};
  for (const auto& m : t.output_losses) tracked.push_back(m);
  for (const auto& ms : t.metrics)
    for (const auto& m : ms) tracked.push_back(m);
  // A model built by its first step (a subclass, a Sequential without Input) has no weights yet: they are
  // synchronized after that step instead (rank 0's then win, batch-norm statistics included; the optimizer
  // state already agrees, since it came from the averaged gradients).
  bool synced = false;
  auto sync_from_rank_zero = [&] {
    synced = true;
    if (weights().empty()) return false;
    data_parallel::broadcast_variables(weights());
    std::vector<Variable> opt_vars;
    for (const auto& nv : t.optimizer->variables()) opt_vars.push_back(nv.second);
    data_parallel::broadcast_variables(opt_vars);
    return true;
  };
  auto logs_now = [&] {
    if (!dp) return collect_logs(t);
    Logs l;
    data_parallel::with_summed_states(tracked, [&] { l = collect_logs(t); });
    return l;
  };
  const std::int64_t n = x[0].shape()[0];
  const std::int64_t steps = batches(n, o.batch_size);
  // Under an MPI launcher stdout is a pseudo-terminal the launcher forwards line by line: one line per epoch.
  const bool tty = o.out == &std::cout && isatty(fileno(stdout)) && distributed::size() == 1;
  std::mt19937_64 rng(o.seed.value_or(0x5eed));
  History h;
  stop_training = false;
  std::vector<callbacks::CallbackPtr> cbs = o.callbacks;
  if (o.terminate_on_nan) cbs.push_back(callbacks::TerminateOnNaN());
  fit_position = {o.initial_epoch, o.initial_step};
  for (auto& cb : cbs) cb->on_train_begin(*this);
  const FitPosition start = fit_position;
  if (dp) {
    // Every rank starts at the same place with the same data, from rank 0's weights and optimizer state.
    data_parallel::check_same({start.epoch, start.step, n, steps},
                              "where training starts and on the data (epoch, batch, examples, batches per epoch: "
                              "a backup restored on some ranks only, or different data per rank? Backups must "
                              "be readable by every rank, and every rank passes the whole data set)");
    if (!weights().empty()) sync_from_rank_zero();
  }
  if (start.epoch < 0 || start.epoch > o.epochs || start.step < 0 || start.step > steps) {
    throw ValueError("[" + name() + "] fit starts at epoch " + std::to_string(start.epoch) + ", batch " +
                     std::to_string(start.step) + " (initial_epoch/initial_step or a restored checkpoint), outside " +
                     std::to_string(o.epochs) + " epochs of " + std::to_string(steps) +
                     " batches; resume with the epochs, batch_size and data of the interrupted run");
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Resuming replays the shuffles of the epochs before the start, so the data order is the same.
  for (int e = 0; e < start.epoch && o.shuffle; ++e) std::shuffle(order.begin(), order.end(), rng);
  for (int epoch = start.epoch; epoch < o.epochs && !stop_training; ++epoch) {
    for (auto& cb : cbs) cb->on_epoch_begin(*this, epoch);
    if (verbose) *o.out << "Epoch " << epoch + 1 << "/" << o.epochs << "\n";
    reset_metrics(t);
    if (o.shuffle) std::shuffle(order.begin(), order.end(), rng);
    Progress bar(*o.out, steps, verbose, tty);
    Logs logs;
    const std::int64_t first = epoch == start.epoch ? start.step : 0;
    for (std::int64_t s = first; s < steps && !stop_training; ++s) {
      std::int64_t b = s * o.batch_size, e = b + std::min(o.batch_size, n - b);
      if (dp) {  // rank r takes the r-th of `ranks` near-equal contiguous parts
        const std::int64_t len = e - b, base = len / ranks, extra = len % ranks;
        if (base == 0) {  // fewer examples than ranks: skipped on every rank alike
          fit_position = {epoch, s + 1};
          continue;
        }
        b += me * base + std::min(me, extra);
        e = b + base + (me < extra ? 1 : 0);
      }
      std::vector<Tensor> xb, yb;
      if (o.shuffle) {
        Tensor idx =
            constant(std::vector<std::int64_t>(order.begin() + b, order.begin() + e), Shape{e - b}, DType::Int64);
        for (const Tensor& xi : x) xb.push_back(rows(xi, idx));
        for (const Tensor& yi : y) yb.push_back(rows(yi, idx));
      } else {
        xb = row_range(x, b, e - b);
        yb = row_range(y, b, e - b);
      }
      for (auto& cb : cbs) cb->on_batch_begin(*this, static_cast<int>(s));
      (*train_step)(xb, yb);
      if (dp && !synced && sync_from_rank_zero()) {
        // Trace the step again: the first trace ran before the model had weights, so it could not average
        // the updates of its non-trainable ones.
        {
          std::lock_guard<std::mutex> lock(t.mu);
          t.train_step = nullptr;
        }
        train_step = get_step(*this, t, true, x, y);
      }
      fit_position = {epoch, s + 1};
      logs = logs_now();
      for (auto& cb : cbs) cb->on_batch_end(*this, static_cast<int>(s), logs);
      if (dp) stop_training = data_parallel::any_rank(stop_training);
      bar.update(s + 1, logs, false);
    }
    if (val && !stop_training) {
      Logs vl = evaluate(val->x, val->y, {.batch_size = o.batch_size});
      for (auto& [k, v] : vl) logs["val_" + k] = v;
    }
    bar.update(steps, logs, true);
    for (auto& [k, v] : logs) h.history[k].push_back(v);
    h.epochs_run = epoch + 1;
    if (!stop_training || fit_position.step == steps) fit_position = {epoch + 1, 0};
    for (auto& cb : cbs) cb->on_epoch_end(*this, epoch, logs);
    if (dp) stop_training = data_parallel::any_rank(stop_training);
  }
  for (auto& cb : cbs) cb->on_train_end(*this);
  return h;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& o) {
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, o);
}

Logs Model::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const EvaluateOptions& o) {
  Training& t = *training_;
  Active active(t.active);
  refuse_during_fit(*this, t, "evaluate");
  if (!t.compiled) throw StateError("[" + name() + "] evaluate() before compile(); call model.compile({...}) first");
  if (t.losses.empty()) throw StateError("[" + name() + "] compile() was called without a loss; evaluate needs one");
  const std::int64_t n = check_data(*this, x, &y);
  if (o.batch_size <= 0)
    throw ValueError("[" + name() + "] batch_size must be positive, got " + std::to_string(o.batch_size));
  if (o.verbose && !o.out) throw ValueError("[" + name() + "] EvaluateOptions::out is a null stream pointer");
  auto test_step = get_step(*this, t, false, x, y);
  std::lock_guard<std::mutex> turn(t.eval_mu);
  reset_metrics(t);
  for (std::int64_t b = 0; b < n; b += std::min(o.batch_size, n - b)) {
    std::int64_t len = std::min(o.batch_size, n - b);
    (*test_step)(row_range(x, b, len), row_range(y, b, len));
  }
  Logs logs = collect_logs(t);
  if (o.verbose) {
    for (auto& [k, v] : logs) *o.out << k << ": " << fmt_value(v) << "  ";
    *o.out << "\n";
  }
  return logs;
}

Tensor Model::predict(const Tensor& x, const PredictOptions& o) {
  auto outs = predict(std::vector<Tensor>{x}, o);
  if (outs.size() != 1) {
    throw ValueError("[" + name() + "] has " + std::to_string(outs.size()) +
                     " outputs; call predict with a vector of inputs to get them all");
  }
  return outs[0];
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& x, const PredictOptions& o) {
  Training& t = *training_;
  Active active(t.active);
  refuse_during_fit(*this, t, "predict");
  const std::int64_t n = check_data(*this, x, nullptr);
  if (o.batch_size <= 0)
    throw ValueError("[" + name() + "] batch_size must be positive, got " + std::to_string(o.batch_size));
  std::shared_ptr<Training::PredictFn> step;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    if (!t.predict_step) {
      auto body = [this](const std::vector<Tensor>& xb) { return (*this)(xb, false); };
      if (t.run_eagerly)
        t.predict_step = std::make_shared<Training::PredictFn>(body);
      else
        t.predict_step = std::make_shared<Training::PredictFn>(function(
            body, {.name = name() + "_predict_step", .input_signature = batch_specs(x), .check_eager = t.check_eager}));
    }
    step = t.predict_step;
  }
  std::vector<std::vector<Tensor>> parts;
  for (std::int64_t b = 0; b < n; b += std::min(o.batch_size, n - b)) {
    auto outs = (*step)(row_range(x, b, std::min(o.batch_size, n - b)));
    if (parts.empty()) parts.resize(outs.size());
    for (std::size_t i = 0; i < outs.size(); ++i) parts[i].push_back(outs[i]);
  }
  std::vector<Tensor> result;
  for (auto& p : parts) result.push_back(p.size() == 1 ? p[0] : concat(p, 0));
  return result;
}

}  // namespace duet
