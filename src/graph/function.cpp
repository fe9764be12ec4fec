// The trace cache of duet::function: signature matching (with unknown dims), explained retracing,
// reduce_retracing, strict mode, and execution through the cached plan.
#include <atomic>
#include <deque>
#include <iostream>
#include <mutex>

#include "core/tensor_impl.h"
#include "duet/function.h"
#include "exec/plan.h"
#include "graph/tracer.h"
#include "ops/variable_impl.h"
#include "passes/pass.h"

namespace duet {
namespace config {
namespace {
std::atomic<bool> g_eager{false};
std::mutex g_log_mu;
std::function<void(LogLevel, const std::string&)> g_log_handler;
LogLevel g_log_level = LogLevel::Warning;
}  // namespace

void run_functions_eagerly(bool eagerly) {
  if (graph::current_graph_tracer()) {
    throw StateError(
        "[config::run_functions_eagerly] cannot be changed while a function is being traced: the flag is read when a "
        "traced function is called, so flipping it inside the trace would not change the trace in progress. Set it "
        "before calling the function (or model)");
  }
  g_eager = eagerly;
}
bool functions_run_eagerly() { return g_eager; }

void set_log_handler(std::function<void(LogLevel, const std::string&)> handler) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log_handler = std::move(handler);
}
void set_log_level(LogLevel level) { g_log_level = level; }
}  // namespace config

namespace internal {

void log(config::LogLevel level, const std::string& message) {
  using config::LogLevel;
  if (level == LogLevel::Info && config::g_log_level != LogLevel::Info) return;
  std::lock_guard<std::mutex> lock(config::g_log_mu);
  if (config::g_log_handler) {
    config::g_log_handler(level, message);
  } else {
    std::cerr << "duet " << (level == LogLevel::Warning ? "warning" : "info") << ": " << message << std::endl;
  }
}

void flatten_arg(const Tensor& t, ArgList& a) {
  if (!t.defined()) throw ValueError("[function] an argument is an undefined Tensor handle");
  a.tensors.push_back(t);
  a.key += "T;";
}
void flatten_arg(const std::vector<Tensor>& v, ArgList& a) {
  a.key += "L" + std::to_string(v.size()) + ";";
  for (const Tensor& t : v) {
    if (!t.defined()) throw ValueError("[function] a list argument holds an undefined Tensor handle");
    a.tensors.push_back(t);
  }
}
void flatten_arg(const Variable& v, ArgList& a) {
  a.key += "V" + std::to_string(reinterpret_cast<std::uintptr_t>(v.ref().get())) + ";";
}
void flatten_arg(bool v, ArgList& a) { a.key += v ? "b1;" : "b0;"; }
void flatten_arg(std::int64_t v, ArgList& a) { a.key += "i" + std::to_string(v) + ";"; }
void flatten_arg(double v, ArgList& a) { a.key += "f" + std::to_string(v) + ";"; }
void flatten_arg(const std::string& v, ArgList& a) { a.key += "s" + std::to_string(v.size()) + ":" + v + ";"; }

namespace {

bool compatible(const TensorSpec& cached, const Tensor& t) {
  return cached.dtype == t.dtype() && cached.shape.compatible_with(t.shape());
}

std::string describe_plain_key(const std::string& k) { return k.empty() ? "(none)" : k; }

}  // namespace

struct FunctionCore::Impl {
  FunctionOptions options;
  struct Entry {
    std::vector<TensorSpec> specs;
    std::string plain_key;
    std::shared_ptr<graph::Graph> graph;
    std::shared_ptr<exec::Plan> plan;
    std::vector<std::int64_t> structure;
  };
  std::deque<Entry> entries;  // stable addresses
  std::vector<std::string> reasons;
  int traces = 0;
  std::mutex mu;

  const Entry* find(const std::vector<Tensor>& args, const std::string& key) const {
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->plain_key != key || it->specs.size() != args.size()) continue;
      bool ok = true;
      for (std::size_t i = 0; ok && i < args.size(); ++i) ok = compatible(it->specs[i], args[i]);
      if (ok) return &*it;
    }
    return nullptr;
  }

  // "arg 0: dim 0 was 32, now 17" against the latest trace.
  std::string explain(const std::vector<Tensor>& args, const std::string& key) const {
    if (entries.empty()) return "first call";
    const Entry& last = entries.back();
    std::string why;
    auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
    if (last.plain_key != key) add("non-tensor arguments changed: were " + describe_plain_key(last.plain_key) + ", now " + describe_plain_key(key));
    if (last.specs.size() != args.size()) {
      add("number of tensor arguments was " + std::to_string(last.specs.size()) + ", now " + std::to_string(args.size()));
      return why;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      const TensorSpec& s = last.specs[i];
      std::string a = "arg " + std::to_string(i) + ": ";
      if (s.dtype != args[i].dtype()) add(a + "dtype was " + dtype_name(s.dtype) + ", now " + dtype_name(args[i].dtype()));
      const Shape& now = args[i].shape();
      if (s.shape.rank() != now.rank()) {
        add(a + "rank was " + std::to_string(s.shape.rank()) + " " + s.shape.str() + ", now " + std::to_string(now.rank()) + " " + now.str());
        continue;
      }
      for (int d = 0; d < now.rank(); ++d)
        if (s.shape[d] >= 0 && s.shape[d] != now[d])
          add(a + "dim " + std::to_string(d) + " was " + std::to_string(s.shape[d]) + ", now " + std::to_string(now[d]));
    }
    return why.empty() ? "signature changed" : why;
  }

  // The specs to trace with: the input signature, the actual specs, or (reduce_retracing) the actual
  // specs with every dim that differs from the latest trace made unknown.
  std::vector<TensorSpec> trace_specs(const std::vector<Tensor>& args, const std::string& key) const {
    std::vector<TensorSpec> specs;
    for (const Tensor& t : args) specs.push_back(t.spec());
    if (options.input_signature) return *options.input_signature;
    if (!options.reduce_retracing || entries.empty()) return specs;
    const Entry& last = entries.back();
    if (last.plain_key != key || last.specs.size() != specs.size()) return specs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const TensorSpec& s = last.specs[i];
      if (s.dtype != specs[i].dtype || s.shape.rank() != specs[i].shape.rank()) continue;
      for (int d = 0; d < s.shape.rank(); ++d)
        if (s.shape[d] != specs[i].shape[d]) specs[i].shape[d] = Shape::kUnknown;
    }
    return specs;
  }
};

FunctionCore::FunctionCore(FunctionOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }
FunctionCore::~FunctionCore() = default;
int FunctionCore::trace_count() const { return impl_->traces; }
const std::vector<std::string>& FunctionCore::retrace_reasons() const { return impl_->reasons; }
const FunctionOptions& FunctionCore::options() const { return impl_->options; }

std::string FunctionCore::graph_text(int trace) const {
  if (impl_->entries.empty()) return "(not traced yet)";
  int i = trace < 0 ? static_cast<int>(impl_->entries.size()) - 1 : trace;
  return impl_->entries.at(static_cast<std::size_t>(i)).graph->text();
}
std::string FunctionCore::graph_dot(int trace) const {
  if (impl_->entries.empty()) return "digraph {}\n";
  int i = trace < 0 ? static_cast<int>(impl_->entries.size()) - 1 : trace;
  return impl_->entries.at(static_cast<std::size_t>(i)).graph->dot();
}

std::vector<Tensor> FunctionCore::call(const std::vector<Tensor>& args, const std::string& key, const TraceFn& trace,
                                       std::vector<std::int64_t>& structure) {
  Impl& im = *impl_;
  const std::string& name = im.options.name;
  for (const Tensor& t : args) {
    if (t.is_symbolic() && !graph::current_graph_tracer()) {
      throw ValueError("[" + name + "] got a symbolic tensor argument " + t.str() + " outside any trace");
    }
  }
  // Called while another function is being traced: inline this one into that trace.
  if (graph::current_graph_tracer()) return trace(args, structure);

  const Impl::Entry* hit = nullptr;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    hit = im.find(args, key);
    if (!hit && im.options.input_signature) {
      const auto& sig = *im.options.input_signature;
      bool ok = sig.size() == args.size();
      for (std::size_t i = 0; ok && i < args.size(); ++i) ok = compatible(sig[i], args[i]);
      if (!ok) {
        std::string got;
        for (const Tensor& t : args) got += std::string(got.empty() ? "" : ", ") + dtype_name(t.dtype()) + " " + t.shape().str();
        std::string want;
        for (const auto& s : sig) want += std::string(want.empty() ? "" : ", ") + dtype_name(s.dtype) + " " + s.shape.str();
        throw ValueError("[" + name + "] arguments (" + got + ") do not match its input_signature (" + want + ")");
      }
    }
  }
  if (!hit) {
    std::string why = im.explain(args, key);
    if (im.traces > 0) {
      if (im.options.strict) {
        throw RetraceError("[" + name + "] would retrace (strict mode): " + why +
                           ". Give it an input_signature with unknown dims, or use reduce_retracing");
      }
      im.reasons.push_back(why);
      log(config::LogLevel::Info, "retracing " + name + ": " + why);
      if (im.traces == 5) {
        log(config::LogLevel::Warning,
            name + " has been traced " + std::to_string(im.traces + 1) + " times (latest: " + why +
                "). Retracing is slow; pass tensors instead of changing C++ values, give the function an input_signature "
                "with unknown dims, or construct it with reduce_retracing = true");
      }
    }
    auto specs = im.trace_specs(args, key);
    auto g = std::make_shared<graph::Graph>(name, "function '" + name + "' is being traced");
    std::vector<std::int64_t> st;
    {
      graph::GraphTracer tracer(*g, nullptr);
      tracer.allow_variable_creation = im.traces == 0;
      std::vector<Tensor> sym;
      for (const auto& s : specs) sym.push_back(g->symbolic({g->add_placeholder(s), 0}));
      std::vector<Tensor> outs = trace(sym, st);
      for (const Tensor& o : outs) {
        if (!o.defined()) throw ValueError("[" + name + "] returned an undefined Tensor handle");
        g->outputs().push_back(tracer.value_of(o));
      }
    }
    if (im.options.verify) g->verify();
    passes::optimize(*g, im.options.passes, im.options.verify);
    auto plan = exec::Plan::build(g);
    std::lock_guard<std::mutex> lock(im.mu);
    im.entries.push_back({specs, key, g, plan, st});
    ++im.traces;
    hit = &im.entries.back();
  }
  structure = hit->structure;
  return hit->plan->run(args);
}

}  // namespace internal
}  // namespace duet
