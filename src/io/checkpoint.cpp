// Checkpoint (weights, optimizer state, random generator, fit position in one safetensors file) and the
// callbacks that write them: ModelCheckpoint and BackupAndRestore.
#include "duet/checkpoint.h"

#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>

#include "duet/distributed.h"
#include "duet/function.h"
#include "duet/random.h"
#include "graph/tracer.h"
#include "io/weights_util.h"
#include "train/model_impl.h"

namespace duet {
namespace {

constexpr const char* kFormat = "duet.checkpoint";
constexpr const char* kVersion = "1";

Tensor i64(std::int64_t v) { return scalar(v); }
Tensor u64(std::uint64_t v) { return scalar(static_cast<std::int64_t>(v)); }  // stored by its bits

// "a/12/b" -> 12 at `part` (0-based, split on '/'); -1 when it is not a small non-negative integer.
std::int64_t index_part(const std::string& name, int part) {
  std::size_t b = 0;
  for (int i = 0; i < part; ++i) {
    b = name.find('/', b);
    if (b == std::string::npos) return -1;
    ++b;
  }
  std::size_t e = name.find('/', b);
  if (e == std::string::npos) e = name.size();
  std::int64_t v = -1;
  auto [p, ec] = std::from_chars(name.data() + b, name.data() + e, v);
  if (ec != std::errc() || p != name.data() + e || v < 0 || v > (1 << 30)) return -1;
  return v;
}

// The scalar `name` of `dtype`, or an IOError naming the checkpoint.
const Tensor& scalar_entry(const saving::TensorFile& f, const std::string& name, DType dtype, const std::string& path) {
  const Tensor* t = f.find(name);
  if (!t) throw IOError("[Checkpoint] " + path + " has no '" + name + "'");
  if (t->dtype() != dtype || t->rank() != 0) {
    throw IOError("[Checkpoint] " + path + ": '" + name + "' is " + io::spec_text(*t) + ", expected a " +
                  dtype_name(dtype) + " scalar");
  }
  return *t;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

Checkpoint::Checkpoint(Model& model) : model_(&model) {}

void Checkpoint::save(const std::string& path) const {
  Model& m = *model_;
  refuse_during_fit(m, *m.training_, "Checkpoint::save");
  if (!m.built()) throw StateError("[Checkpoint] model '" + m.name() + "' is not built: it has no weights to save yet");
  graph::EagerScope eager;
  saving::NamedTensors ts;
  for (auto& [n, t] : io::named_weights(m)) ts.emplace_back("weights/" + n, t);
  std::map<std::string, std::string> meta{{"format", kFormat}, {"format_version", kVersion}, {"model", m.name()}};
  if (optimizers::OptimizerPtr opt = m.optimizer()) {
    meta["optimizer"] = opt->name();
    ts.emplace_back("optimizer/iterations", opt->iterations().value());
    if (!opt->learning_rate.schedule())
      ts.emplace_back("optimizer/hyper/learning_rate", scalar(opt->learning_rate.get()));
    for (auto& [n, h] : opt->hyperparameters()) ts.emplace_back("optimizer/hyper/" + n, scalar(h->get()));
    std::vector<Variable> tw = m.trainable_weights();
    for (std::size_t i = 0; i < tw.size(); ++i) {
      std::vector<Variable> slots = opt->slots(tw[i]);
      for (std::size_t j = 0; j < slots.size(); ++j) {
        const std::string& sn = slots[j].name();
        ts.emplace_back("optimizer/slots/" + std::to_string(i) + "/" + std::to_string(j) + "/" +
                            sn.substr(sn.find_last_of('/') + 1),
                        slots[j].value());
      }
    }
    const auto& lw = m.training_->loss_weights;
    for (std::size_t k = 0; k < lw.size(); ++k)
      ts.emplace_back("loss_weights/" + std::to_string(k), scalar(lw[k].get()));
  }
  random::GeneratorState rng = random::get_state();
  ts.emplace_back("rng/seed", u64(rng.seed));
  ts.emplace_back("rng/counter", u64(rng.counter));
  ts.emplace_back("fit/epoch", i64(m.fit_position.epoch));
  ts.emplace_back("fit/step", i64(m.fit_position.step));
  saving::save_safetensors(path, ts, meta);
}

void Checkpoint::restore(const std::string& path) {
  Model& m = *model_;
  refuse_during_fit(m, *m.training_, "Checkpoint::restore");
  if (!m.built()) {
    throw StateError("[Checkpoint] model '" + m.name() +
                     "' is not built: build it (the same architecture) before restoring its weights");
  }
  saving::TensorFile f = saving::load_safetensors(path);
  auto fmt = f.metadata.find("format");
  if (fmt == f.metadata.end() || fmt->second != kFormat) {
    throw IOError("[Checkpoint] " + path + " is not a duet checkpoint (format '" +
                  (fmt == f.metadata.end() ? std::string("none") : fmt->second) +
                  "'); Model::load_weights reads weight files");
  }
  if (f.metadata["format_version"] != kVersion) {
    throw IOError("[Checkpoint] " + path + " has format version '" + f.metadata["format_version"] +
                  "'; this duet reads version " + kVersion);
  }
  // Everything is checked before anything is assigned.
  saving::NamedTensors weights;
  std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::pair<std::string, Tensor>>>> slots;
  std::vector<std::pair<std::string, Tensor>> hypers, loss_weights;
  const Tensor* iterations = nullptr;
  for (const auto& [n, t] : f.tensors) {
    if (starts_with(n, "weights/")) {
      weights.emplace_back(n.substr(8), t);
    } else if (starts_with(n, "optimizer/slots/")) {
      std::int64_t i = index_part(n, 2), j = index_part(n, 3);
      std::size_t name_at = n.find('/', n.find('/', 16) + 1);
      if (i < 0 || j < 0 || name_at == std::string::npos)
        throw IOError("[Checkpoint] " + path + ": bad slot entry '" + n + "'");
      slots[i].push_back({j, {n.substr(name_at + 1), t}});
    } else if (starts_with(n, "optimizer/hyper/")) {
      hypers.emplace_back(n.substr(16), t);
    } else if (starts_with(n, "loss_weights/")) {
      loss_weights.emplace_back(n, t);
    } else if (n == "optimizer/iterations") {
      iterations = &t;
    } else if (n != "rng/seed" && n != "rng/counter" && n != "fit/epoch" && n != "fit/step") {
      throw IOError("[Checkpoint] " + path + " holds an unknown entry '" + n + "'");
    }
  }
  std::vector<std::pair<Variable, Tensor>> assign;
  io::match_weights("Checkpoint", path, m.weights(), weights, {}, assign);
  const auto seed = static_cast<std::uint64_t>(scalar_entry(f, "rng/seed", DType::Int64, path).item<std::int64_t>());
  const auto counter =
      static_cast<std::uint64_t>(scalar_entry(f, "rng/counter", DType::Int64, path).item<std::int64_t>());
  const std::int64_t epoch = scalar_entry(f, "fit/epoch", DType::Int64, path).item<std::int64_t>();
  const std::int64_t step = scalar_entry(f, "fit/step", DType::Int64, path).item<std::int64_t>();
  if (epoch < 0 || epoch > INT32_MAX || step < 0) {
    throw IOError("[Checkpoint] " + path + ": fit position epoch " + std::to_string(epoch) + ", batch " +
                  std::to_string(step) + " is invalid");
  }
  optimizers::OptimizerPtr opt = m.optimizer();
  std::vector<std::pair<Hyperparameter*, double>> set_hypers;
  std::vector<std::pair<Variable, std::vector<std::pair<std::string, Tensor>>>> set_slots;
  std::vector<std::pair<Hyperparameter*, double>> set_loss_weights;
  auto saved_opt = f.metadata.find("optimizer");
  if (saved_opt != f.metadata.end()) {
    if (!opt) {
      throw StateError("[Checkpoint] " + path + " holds the state of a " + saved_opt->second +
                       " optimizer, but model '" + m.name() +
                       "' is not compiled; compile it with the same optimizer first");
    }
    if (opt->name() != saved_opt->second) {
      throw ValueError("[Checkpoint] " + path + " holds " + saved_opt->second + " state; model '" + m.name() +
                       "' is compiled with " + opt->name());
    }
    if (!iterations || iterations->dtype() != DType::Int64 || iterations->rank() != 0)
      throw IOError("[Checkpoint] " + path + " has no int64 scalar optimizer/iterations");
    auto hp = opt->hyperparameters();
    for (const auto& entry : hypers) {
      const std::string& n = entry.first;
      const Tensor& t = entry.second;
      if (t.dtype() != DType::Float64 || t.rank() != 0)
        throw IOError("[Checkpoint] " + path + ": hyperparameter '" + n + "' is not a float64 scalar");
      if (n == "learning_rate") {
        if (opt->learning_rate.schedule()) {
          throw ValueError("[Checkpoint] " + path +
                           " holds a constant learning rate; the optimizer follows a schedule");
        }
        continue;
      }
      auto it = std::find_if(hp.begin(), hp.end(), [&](const auto& p) { return p.first == n; });
      if (it == hp.end())
        throw ValueError("[Checkpoint] " + path + ": the optimizer has no hyperparameter '" + n + "'");
      set_hypers.emplace_back(it->second, t.item<double>());
    }
    std::vector<Variable> tw = m.trainable_weights();
    for (auto& [i, entries] : slots) {
      if (i >= static_cast<std::int64_t>(tw.size())) {
        throw ValueError("[Checkpoint] " + path + " has optimizer slots for trainable weight " + std::to_string(i) +
                         "; the model has " + std::to_string(tw.size()));
      }
      std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::pair<std::string, Tensor>> vals;
      for (std::size_t j = 0; j < entries.size(); ++j) {
        if (entries[j].first != static_cast<std::int64_t>(j))
          throw IOError("[Checkpoint] " + path + ": slot numbers of weight " + std::to_string(i) +
                        " are not 0, 1, ...");
        const Tensor& v = entries[j].second.second;
        if (v.dtype() != tw[i].dtype() || v.shape() != tw[i].shape()) {
          throw ValueError("[Checkpoint] " + path + ": optimizer slot '" + entries[j].second.first + "' of '" +
                           tw[i].name() + "' is " + io::spec_text(v) + ", the weight " + io::spec_text(tw[i].value()));
        }
        std::vector<Variable> existing = opt->slots(tw[i]);
        const std::string want = tw[i].name() + "/" + entries[j].second.first;
        if (j < existing.size() && existing[j].name() != want) {
          throw ValueError("[Checkpoint] " + path + ": slot " + std::to_string(j) + " of '" + tw[i].name() + "' is '" +
                           entries[j].second.first + "' in the file, '" + existing[j].name() + "' in the optimizer");
        }
        vals.push_back(entries[j].second);
      }
      set_slots.emplace_back(tw[i], std::move(vals));
    }
    auto& lw = m.training_->loss_weights;
    if (!loss_weights.empty() && loss_weights.size() != lw.size()) {
      throw ValueError("[Checkpoint] " + path + " holds " + std::to_string(loss_weights.size()) +
                       " loss weights; the model has " + std::to_string(lw.size()) + " outputs");
    }
    for (std::size_t k = 0; k < loss_weights.size(); ++k) {
      const Tensor& t = loss_weights[k].second;
      if (t.dtype() != DType::Float64 || t.rank() != 0)
        throw IOError("[Checkpoint] " + path + ": '" + loss_weights[k].first + "' is not a float64 scalar");
      set_loss_weights.emplace_back(&lw[k], t.item<double>());
    }
  } else if (iterations || !hypers.empty() || !slots.empty()) {
    throw IOError("[Checkpoint] " + path + " holds optimizer state without naming the optimizer");
  }

  graph::EagerScope eager;
  for (auto& [v, t] : assign) v.assign(t);
  if (saved_opt != f.metadata.end()) {
    opt->iterations().assign(*iterations);
    for (const auto& [n, t] : hypers)
      if (n == "learning_rate") opt->learning_rate = t.item<double>();
    for (auto& [h, v] : set_hypers) *h = v;
    for (auto& [var, vals] : set_slots) opt->restore_slots(var, vals);
    for (auto& [h, v] : set_loss_weights) *h = v;
  }
  random::set_state({seed, counter});
  m.fit_position = {static_cast<int>(epoch), step};
}

namespace callbacks {
namespace {

// The number of batches trained so far: the optimizer's iteration count (restored with a checkpoint).
std::int64_t global_step(Model& m, std::int64_t fallback) {
  if (auto opt = m.optimizer()) return opt->iterations().value().item<std::int64_t>();
  return fallback;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// In a job of several processes (duet/distributed.h) only rank 0 writes checkpoints and backups: the ranks
// hold the same weights, and one writer keeps them from racing for the same files.
bool writes_files() { return distributed::rank() == 0; }

class ModelCheckpointImpl : public Callback {
 public:
  ModelCheckpointImpl(std::string path, ModelCheckpointOptions o) : path_(std::move(path)), o_(std::move(o)) {
    if (path_.empty()) throw ValueError("[ModelCheckpoint] the path is empty");
    if (o_.save_freq < 0)
      throw ValueError("[ModelCheckpoint] save_freq must be >= 0, got " + std::to_string(o_.save_freq));
    if (o_.max_to_keep < 0)
      throw ValueError("[ModelCheckpoint] max_to_keep must be >= 0, got " + std::to_string(o_.max_to_keep));
    if (o_.mode != "auto" && o_.mode != "min" && o_.mode != "max")
      throw ValueError("[ModelCheckpoint] mode must be auto, min or max, got '" + o_.mode + "'");
    maximize_ = o_.mode == "max" || (o_.mode == "auto" && o_.monitor.find("acc") != std::string::npos);
  }
  void on_epoch_begin(Model&, int epoch) override { epoch_ = epoch; }
  void on_batch_end(Model& m, int, const Logs& logs) override {
    ++seen_;
    if (o_.save_freq > 0 && global_step(m, seen_) % o_.save_freq == 0) maybe_save(m, logs);
  }
  void on_epoch_end(Model& m, int, const Logs& logs) override {
    if (o_.save_freq == 0) maybe_save(m, logs);
  }

 private:
  void maybe_save(Model& m, const Logs& logs) {
    if (o_.save_best_only) {
      auto it = logs.find(o_.monitor);
      if (it == logs.end()) {
        if (!warned_) {
          internal::log(config::LogLevel::Warning, "[ModelCheckpoint] save_best_only: '" + o_.monitor +
                                                       "' is not in the logs (add validation data or monitor "
                                                       "another value); nothing is saved");
        }
        warned_ = true;
        return;
      }
      double v = it->second;
      if (!std::isfinite(v) || (has_best_ && (maximize_ ? v <= best_ : v >= best_))) return;
      best_ = v;
      has_best_ = true;
    }
    if (!writes_files()) return;
    std::string p = replace_all(replace_all(path_, "{epoch}", std::to_string(epoch_ + 1)), "{step}",
                                std::to_string(global_step(m, seen_)));
    if (o_.save_weights_only) {
      m.save_weights(p);
    } else {
      Checkpoint(m).save(p);
    }
    if (written_.empty() || written_.back() != p) written_.push_back(p);
    while (o_.max_to_keep > 0 && static_cast<int>(written_.size()) > o_.max_to_keep) {
      ::unlink(written_.front().c_str());
      written_.pop_front();
    }
  }

  std::string path_;
  ModelCheckpointOptions o_;
  bool maximize_ = false, has_best_ = false, warned_ = false;
  double best_ = 0;
  int epoch_ = 0;
  std::int64_t seen_ = 0;
  std::deque<std::string> written_;
};

class BackupAndRestoreImpl : public Callback {
 public:
  BackupAndRestoreImpl(std::string dir, BackupAndRestoreOptions o) : dir_(std::move(dir)), o_(o) {
    if (dir_.empty()) throw ValueError("[BackupAndRestore] the directory is empty");
    if (o_.save_freq < 0)
      throw ValueError("[BackupAndRestore] save_freq must be >= 0, got " + std::to_string(o_.save_freq));
    file_ = dir_ + "/backup.safetensors";
  }
  void on_train_begin(Model& m) override {
    struct stat st;
    if (::stat(dir_.c_str(), &st) != 0) {
      if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
        throw IOError("[BackupAndRestore] cannot create the directory " + dir_ + " (" + std::strerror(errno) + ")");
    } else if (!S_ISDIR(st.st_mode)) {
      throw IOError("[BackupAndRestore] " + dir_ + " exists and is not a directory");
    }
    if (::access(file_.c_str(), F_OK) == 0) {
      Checkpoint(m).restore(file_);
      internal::log(config::LogLevel::Warning, "[BackupAndRestore] resuming from " + file_ + " at epoch " +
                                                   std::to_string(m.fit_position.epoch + 1) + ", batch " +
                                                   std::to_string(m.fit_position.step));
    }
  }
  void on_batch_end(Model& m, int, const Logs&) override {
    ++seen_;
    if (o_.save_freq > 0 && global_step(m, seen_) % o_.save_freq == 0 && writes_files()) Checkpoint(m).save(file_);
  }
  void on_epoch_end(Model& m, int, const Logs&) override {
    if (o_.save_freq == 0 && writes_files()) Checkpoint(m).save(file_);
  }
  void on_train_end(Model&) override {
    if (o_.delete_checkpoint && writes_files()) ::unlink(file_.c_str());
  }

 private:
  std::string dir_, file_;
  BackupAndRestoreOptions o_;
  std::int64_t seen_ = 0;
};

}  // namespace

CallbackPtr ModelCheckpoint(std::string path, ModelCheckpointOptions options) {
  return std::make_shared<ModelCheckpointImpl>(std::move(path), std::move(options));
}
CallbackPtr BackupAndRestore(std::string dir, BackupAndRestoreOptions options) {
  return std::make_shared<BackupAndRestoreImpl>(std::move(dir), options);
}

}  // namespace callbacks
}  // namespace duet
