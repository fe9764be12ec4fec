// Function::save / load_function: a traced function's unoptimized graphs (one per kept trace), its input
// signatures and the variables it uses, as JSON metadata and tensors of a safetensors file. Loading replays
// each graph into a new trace (checking every claim of the file), optimizes and compiles it.
#include <sys/stat.h>

#include <mutex>
#include <unordered_map>

#include "core/allocator.h"
#include "function/function_core.h"
#include "function/subgraph.h"
#include "graph/tracer.h"
#include "io/graph_io.h"
#include "ops/variable_impl.h"
#include "passes/pass.h"

namespace duet {
namespace {

constexpr const char* kFormat = "duet.function";
constexpr const char* kVersion = "1";

std::string specs_text(const std::vector<TensorSpec>& specs) {
  std::string s = "(";
  for (std::size_t i = 0; i < specs.size(); ++i)
    s += (i ? ", " : "") + std::string(dtype_name(specs[i].dtype)) + " " + specs[i].shape.str();
  return s + ")";
}

bool same_specs(const std::vector<TensorSpec>& a, const std::vector<TensorSpec>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].dtype != b[i].dtype || a[i].shape != b[i].shape) return false;
  return true;
}

}  // namespace

namespace internal {

struct LoadedFunctionImpl {
  struct Signature {
    std::vector<TensorSpec> specs;
    std::shared_ptr<const graph::Graph> raw;  // replayed inside traces and under tapes
    std::shared_ptr<graph::Graph> graph;      // optimized
    std::shared_ptr<exec::Plan> plan;
  };
  std::string name, path;
  std::vector<Variable> variables;
  std::vector<Signature> sigs;
  std::vector<std::vector<TensorSpec>> specs;
};

void save_function(const FunctionCore& core, const std::string& path) {
  const std::string who = "[save] function '" + core.options.name + "'";
  auto entries = core.entries();
  if (entries.empty()) {
    throw StateError(who +
                     " has not been traced yet, so there is no graph to save: call it once for each input "
                     "signature to save (with an input_signature, once is enough)");
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (!same_specs(entries[i]->specs, entries[j]->specs)) continue;
      std::string diff;
      for (std::size_t k = 0; k < entries[i]->shown.size() && k < entries[j]->shown.size(); ++k) {
        if (entries[i]->shown[k] != entries[j]->shown[k])
          diff += " arg " + std::to_string(k) + ": " + entries[j]->shown[k] + " vs " + entries[i]->shown[k] + ";";
      }
      throw ValueError(who + ": traces " + std::to_string(entries[j]->id) + " and " + std::to_string(entries[i]->id) +
                       " take the same tensors " + specs_text(entries[i]->specs) + " and differ in C++ arguments (" +
                       (diff.empty() ? std::string(" a captured value") : diff) +
                       " ), but a loaded function chooses its graph by tensors alone: pass that value as a tensor");
    }
  }
  saving::NamedTensors tensors;
  std::unordered_map<const VariableImpl*, std::size_t> var_index;
  std::vector<VarRef> vars;
  io::GraphWriter w;
  w.tensors = &tensors;
  w.who = who;
  w.variable = [&](const VarRef& v) {
    auto [it, added] = var_index.emplace(v.get(), vars.size());
    if (added) vars.push_back(v);
    return it->second;
  };
  io::json sigs = io::json::array();
  for (const auto& e : entries) {
    io::json in = io::json::array();
    for (const auto& s : e->specs) in.push_back(io::spec_json(s));
    sigs.push_back({{"inputs", in}, {"graph", w.write(*e->raw)}});
  }
  io::json var_json = io::json::array();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    var_json.push_back({{"name", vars[i]->name}, {"trainable", vars[i]->trainable}});
    tensors.emplace_back("variables/" + std::to_string(i), vars[i]->value);
  }
  io::json f = {{"name", core.options.name}, {"signatures", sigs}, {"variables", var_json}};
  saving::save_safetensors(path, tensors, {{"format", kFormat}, {"format_version", kVersion}, {"function", f.dump()}});
}

}  // namespace internal

LoadedFunction load_function(const std::string& path) {
  saving::TensorFile file = saving::load_safetensors(path);
  auto fmt = file.metadata.find("format");
  if (fmt == file.metadata.end() || fmt->second != kFormat) {
    throw IOError("[load_function] " + path + " is not a duet function file (format '" +
                  (fmt == file.metadata.end() ? std::string("none") : fmt->second.substr(0, 64)) +
                  "'); models load with load_model, weights with Model::load_weights");
  }
  if (file.metadata["format_version"] != kVersion) {
    throw IOError("[load_function] " + path + " has format version '" + file.metadata["format_version"].substr(0, 32) +
                  "'; this duet reads version " + kVersion);
  }
  io::GraphReader r;
  r.prefix = "[load_function] " + path + ": ";
  r.file = &file;
  io::json f;
  try {
    f = io::json::parse(file.metadata["function"]);
  } catch (const io::json::exception& e) {
    r.fail(std::string("its function description is not valid JSON (") + e.what() + ")");
  }
  auto impl = std::make_shared<internal::LoadedFunctionImpl>();
  impl->path = path;
  try {
    impl->name = r.str(f, "name", "function");
    const io::json& vars = r.list(f, "variables", "function");
    for (std::size_t i = 0; i < vars.size(); ++i) {
      const std::string w = "variable " + std::to_string(i);
      const Tensor* t = file.find("variables/" + std::to_string(i));
      if (!t) r.fail(w + " has no tensor in the file");
      const io::json& tr = r.field(vars[i], "trainable", w);
      if (!tr.is_boolean()) r.fail(w + ": 'trainable' is not a bool");
      Variable v(*t, {.name = r.str(vars[i], "name", w), .trainable = tr.get<bool>()});
      impl->variables.push_back(v);
      r.variables.push_back(v.ref());
    }
    const io::json& sigs = r.list(f, "signatures", "function");
    if (sigs.empty()) r.fail("the function has no signatures");
    struct stat st;
    const std::size_t file_bytes = ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
    std::lock_guard<std::recursive_mutex> lock(internal::trace_mutex());
    // Constant folding computes while compiling: never more than the file justifies.
    AllocationBudget budget(8 * file_bytes + (64u << 20), "load_function " + path);
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      const io::json& g = r.field(sigs[i], "graph", "signature " + std::to_string(i));
      internal::LoadedFunctionImpl::Signature s;
      s.specs = r.input_specs(g);
      auto traced = std::make_shared<graph::Graph>(impl->name, "loaded function '" + impl->name + "' is being traced");
      {
        graph::GraphTracer tracer(*traced, nullptr);
        tracer.allow_variable_creation = false;
        std::vector<Tensor> sym;
        for (const auto& sp : s.specs) sym.push_back(traced->symbolic({traced->add_placeholder(sp), 0}));
        for (const Tensor& o : r.run(g, sym)) traced->outputs().push_back(tracer.value_of(o));
      }
      traced->verify();
      s.raw = traced->clone();
      passes::optimize(*traced, PassOptions{}, false);
      s.graph = traced;
      s.plan = exec::Plan::build(traced);
      impl->specs.push_back(s.specs);
      impl->sigs.push_back(std::move(s));
    }
  } catch (const io::json::exception& e) {
    r.fail(std::string("malformed function description (") + e.what() + ")");
  } catch (const IOError&) {
    throw;
  } catch (const Error& e) {
    r.fail(e.what());
  }
  LoadedFunction lf;
  lf.impl_ = std::move(impl);
  return lf;
}

std::vector<Tensor> LoadedFunction::operator()(const std::vector<Tensor>& args) const {
  if (!impl_) throw StateError("[LoadedFunction] is empty: assign it the result of load_function(path)");
  bool symbolic = false;
  for (const Tensor& t : args) {
    if (!t.defined()) throw ValueError("[" + impl_->name + "] got an undefined Tensor handle");
    symbolic = symbolic || t.is_symbolic();
  }
  for (const auto& s : impl_->sigs) {
    bool ok = s.specs.size() == args.size();
    for (std::size_t i = 0; ok && i < args.size(); ++i)
      ok = args[i].dtype() == s.specs[i].dtype && s.specs[i].shape.compatible_with(args[i].shape());
    if (!ok) continue;
    // Inside a trace or under a tape: op by op, so the call inlines and is differentiable.
    if (symbolic || graph::current_graph_tracer() || internal::g_active_tapes > 0) return graph::replay(*s.raw, args);
    return s.plan->run(args);
  }
  std::string got = "(";
  for (std::size_t i = 0; i < args.size(); ++i)
    got += (i ? ", " : "") + std::string(dtype_name(args[i].dtype())) + " " + args[i].shape().str();
  std::string want;
  for (const auto& s : impl_->specs) want += "\n  " + specs_text(s);
  throw ValueError("[" + impl_->name + "] (loaded from " + impl_->path + ") has no signature for the arguments " + got +
                   "); it was saved with:" + want + "\nSave the function after calling it with such arguments");
}

const std::string& LoadedFunction::name() const {
  if (!impl_) throw StateError("[LoadedFunction] is empty");
  return impl_->name;
}
const std::vector<std::vector<TensorSpec>>& LoadedFunction::signatures() const {
  if (!impl_) throw StateError("[LoadedFunction] is empty");
  return impl_->specs;
}
std::vector<Variable> LoadedFunction::variables() const {
  if (!impl_) throw StateError("[LoadedFunction] is empty");
  return impl_->variables;
}
std::string LoadedFunction::graph_text(std::size_t signature) const {
  if (!impl_) throw StateError("[LoadedFunction] is empty");
  if (signature >= impl_->sigs.size()) {
    throw ValueError("[" + impl_->name + "] has " + std::to_string(impl_->sigs.size()) + " signatures, not " +
                     std::to_string(signature + 1));
  }
  return impl_->sigs[signature].graph->text();
}

}  // namespace duet
