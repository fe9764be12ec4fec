// Model::save_weights / load_weights: the model's weights as a safetensors file.
#include <map>
#include <set>

#include "duet/function.h"
#include "duet/saving.h"
#include "graph/tracer.h"
#include "io/weights_util.h"
#include "train/model_impl.h"

namespace duet {
namespace io {

std::string spec_text(const Tensor& t) { return std::string(dtype_name(t.dtype())) + " " + t.shape().str(); }

saving::NamedTensors named_weights(const Model& m) {
  saving::NamedTensors out;
  for (const Variable& v : m.weights()) out.emplace_back(v.name(), v.value());
  return out;
}

std::string match_weights(const std::string& who, const std::string& path, const std::vector<Variable>& vars,
                          const saving::NamedTensors& file, const LoadWeightsOptions& o,
                          std::vector<std::pair<Variable, Tensor>>& assign) {
  std::vector<std::string> problems, skipped;
  auto check = [&](const Variable& v, const std::string& file_name, const Tensor& t, const std::string& where) {
    if (t.dtype() != v.dtype() || t.shape() != v.shape()) {
      (o.skip_mismatch ? skipped : problems)
          .push_back(where + "'" + v.name() + "' is " + spec_text(v.value()) + ", the file's '" + file_name + "' is " +
                     spec_text(t));
      return;
    }
    assign.emplace_back(v, t);
  };
  if (o.by_name) {
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [n, t] : file) by_name[n] = &t;
    std::set<std::string> used;
    for (const Variable& v : vars) {
      auto it = by_name.find(v.name());
      if (it == by_name.end()) {
        (o.skip_mismatch ? skipped : problems).push_back("'" + v.name() + "' is not in the file");
        continue;
      }
      used.insert(v.name());
      check(v, it->first, *it->second, "");
    }
    std::string unused;
    for (const auto& [n, t] : file)
      if (!used.count(n)) unused += (unused.empty() ? "" : ", ") + n;
    if (!unused.empty()) {
      internal::log(config::LogLevel::Warning,
                    "[" + who + "] load_weights(" + path + ", by_name): the file's " + unused + " matched no weight");
    }
  } else {
    if (file.size() != vars.size() && !o.skip_mismatch) {
      problems.push_back("the model has " + std::to_string(vars.size()) + " weights, the file " +
                         std::to_string(file.size()));
    }
    const std::size_t n = std::min(file.size(), vars.size());
    for (std::size_t i = 0; i < n; ++i)
      check(vars[i], file[i].first, file[i].second, "weight " + std::to_string(i) + " ");
    for (std::size_t i = n; i < vars.size(); ++i) skipped.push_back("'" + vars[i].name() + "' is not in the file");
  }
  if (!problems.empty()) {
    std::string msg = "[" + who + "] cannot load " + path + ": ";
    for (std::size_t i = 0; i < problems.size() && i < 20; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > 20) msg += "; and " + std::to_string(problems.size() - 20) + " more";
    msg += ". Nothing was loaded. Build the same architecture";
    msg += o.by_name ? "" : ", load by name (LoadWeightsOptions::by_name) into a different one";
    msg += ", or skip what differs (skip_mismatch)";
    throw ValueError(msg);
  }
  std::string note;
  for (const std::string& s : skipped) note += (note.empty() ? "" : "; ") + s;
  return note;
}

}  // namespace io

void Model::save_weights(const std::string& path) {
  refuse_during_fit(*this, *training_, "save_weights");
  if (!built_) {
    throw StateError("[" + name() +
                     "] save_weights before the model is built: it has no weights yet (call it on "
                     "data, fit it, or start a Sequential with an Input)");
  }
  saving::save_safetensors(path, io::named_weights(*this),
                           {{"format", "duet.weights"}, {"format_version", "1"}, {"model", name()}});
}

void Model::load_weights(const std::string& path, const LoadWeightsOptions& o) {
  refuse_during_fit(*this, *training_, "load_weights");
  if (!built_) {
    throw StateError("[" + name() +
                     "] load_weights before the model is built: build it first (call it on data, or "
                     "start a Sequential with an Input) so its weights exist");
  }
  saving::TensorFile file = saving::load_safetensors(path);
  std::vector<std::pair<Variable, Tensor>> assign;
  std::string skipped = io::match_weights(name(), path, weights(), file.tensors, o, assign);
  if (!skipped.empty()) {
    internal::log(config::LogLevel::Warning, "[" + name() + "] load_weights(" + path + ") skipped: " + skipped);
  }
  graph::EagerScope eager;
  for (auto& [v, t] : assign) v.assign(t);
}

}  // namespace duet
