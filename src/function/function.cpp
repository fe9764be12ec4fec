// The trace cache of duet::function: exact signature keys (tensor specs with unknown dims, plain values by
// their bits), explained retracing, reduce_retracing, strict mode, a bounded LRU cache, and execution
// through the cached plan. Safe to call from many threads: lookups share a mutex, traces take a global one.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/tensor_impl.h"
#include "duet/function.h"
#include "function/check_eager.h"
#include "function/function_core.h"
#include "graph/tracer.h"
#include "passes/pass.h"

namespace duet {
namespace config {
namespace {
std::atomic<bool> g_eager{false};
std::mutex g_log_mu;
std::function<void(LogLevel, const std::string&)> g_log_handler;
std::atomic<LogLevel> g_log_level{LogLevel::Warning};
}  // namespace

void run_functions_eagerly(bool eagerly) {
  if (graph::current_graph_tracer() && eagerly != g_eager.load()) {
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
  if (level == LogLevel::Info && config::g_log_level.load() != LogLevel::Info) return;
  std::lock_guard<std::mutex> lock(config::g_log_mu);
  if (config::g_log_handler) {
    config::g_log_handler(level, message);
  } else {
    std::cerr << "duet " << (level == LogLevel::Warning ? "warning" : "info") << ": " << message << std::endl;
  }
}

namespace {
std::string arg_name(const ArgList& a) { return "arg " + std::to_string(a.shown.size()); }
void add_plain(ArgList& a, const std::string& key, std::string shown) {
  a.key += key;
  a.key += '\x1f';  // separates arguments; no key part contains it unescaped (strings are length-prefixed)
  a.shown.push_back(std::move(shown));
}
}  // namespace

void flatten_arg(const Tensor& t, ArgList& a) {
  if (!t.defined()) throw ValueError("[function] " + arg_name(a) + " is an undefined Tensor handle");
  a.tensor_pos.emplace_back(static_cast<int>(a.shown.size()), -1);
  a.tensors.push_back(t);
  add_plain(a, "T", "");
}
void flatten_arg(const std::vector<Tensor>& v, ArgList& a) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].defined())
      throw ValueError("[function] " + arg_name(a) + "[" + std::to_string(i) + "] is an undefined Tensor handle");
    a.tensor_pos.emplace_back(static_cast<int>(a.shown.size()), static_cast<int>(i));
    a.tensors.push_back(v[i]);
  }
  add_plain(a, "L" + std::to_string(v.size()), "a list of " + std::to_string(v.size()) + " tensors");
}
void flatten_arg(const Variable& v, ArgList& a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "V%p", static_cast<const void*>(v.ref().get()));
  add_plain(a, buf, v.defined() ? "Variable('" + v.name() + "')" : "an empty Variable");
}
void flatten_arg(bool v, ArgList& a) { add_plain(a, v ? "b1" : "b0", v ? "true" : "false"); }
void flatten_arg(std::int64_t v, ArgList& a) { add_plain(a, "i" + std::to_string(v), std::to_string(v)); }
void flatten_arg(double v, ArgList& a) {
  // Keyed by its bits: 0.1 + 0.2 and 0.3 are different traces, -0.0 and 0.0 too (x * -0.0 differs).
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char key[24], shown[32];
  std::snprintf(key, sizeof key, "d%016llx", static_cast<unsigned long long>(bits));
  auto r = std::to_chars(shown, shown + sizeof shown - 1, v);  // shortest text that reads back to v
  *r.ptr = 0;
  add_plain(a, key, shown);
}
void flatten_arg(const std::string& v, ArgList& a) {
  add_plain(a, "s" + std::to_string(v.size()) + ":" + v, "\"" + v + "\"");
}

std::recursive_mutex& trace_mutex() {
  static std::recursive_mutex mu;
  return mu;
}

namespace {

bool compatible(const TensorSpec& cached, const Tensor& t) {
  return cached.dtype == t.dtype() && cached.shape.compatible_with(t.shape());
}

// The bucket of a call: its plain values plus each tensor's dtype and rank (shapes may match unknown dims,
// so they are compared within the bucket).
std::size_t bucket_of(const std::string& key, const std::vector<Tensor>& ts) {
  std::size_t h = std::hash<std::string>{}(key);
  for (const Tensor& t : ts)
    h = (h ^ (static_cast<std::size_t>(t.dtype()) * 131 + static_cast<std::size_t>(t.rank()))) * 1099511628211ull;
  return h;
}
std::size_t bucket_of(const std::string& key, const std::vector<TensorSpec>& ss) {
  std::size_t h = std::hash<std::string>{}(key);
  for (const auto& s : ss)
    h = (h ^ (static_cast<std::size_t>(s.dtype) * 131 + static_cast<std::size_t>(s.shape.rank()))) * 1099511628211ull;
  return h;
}

bool check_eager_from_env() {
  static const bool on = [] {
    const char* v = std::getenv("DUET_CHECK_EAGER");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

}  // namespace

FunctionCore::FunctionCore(FunctionOptions o) : options(std::move(o)) {
  if (options.max_traces < 1) {
    throw ValueError("[" + options.name + "] max_traces must be at least 1, got " + std::to_string(options.max_traces));
  }
  options.check_eager = options.check_eager || check_eager_from_env();
}

std::shared_ptr<FunctionCore::Entry> FunctionCore::find(const ArgList& args) {
  auto it = buckets_.find(bucket_of(args.key, args.tensors));
  if (it == buckets_.end()) return nullptr;
  for (auto& e : it->second) {
    if (e->key != args.key) continue;
    bool ok = true;
    for (std::size_t i = 0; ok && i < args.tensors.size(); ++i) ok = compatible(e->specs[i], args.tensors[i]);
    if (ok) {
      lru_.splice(lru_.begin(), lru_, e->lru_pos);  // most recently used first
      return e;
    }
  }
  return nullptr;
}

// "arg 0: dim 0 was 32, now 17; arg 1: 1e-07 -> 2e-07" against the latest trace.
std::string FunctionCore::explain(const ArgList& args) const {
  if (!last_) return "first call";
  const Entry& last = *last_;
  std::string why;
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  for (std::size_t i = 0; i < args.shown.size() || i < last.shown.size(); ++i) {
    const std::string was = i < last.shown.size() ? last.shown[i] : "(none)",
                      now = i < args.shown.size() ? args.shown[i] : "(none)";
    if (was != now)
      add("arg " + std::to_string(i) + ": " + (was.empty() ? "a tensor" : was) + " -> " +
          (now.empty() ? "a tensor" : now));
  }
  if (last.specs.size() != args.tensors.size()) {
    add("number of tensors was " + std::to_string(last.specs.size()) + ", now " + std::to_string(args.tensors.size()));
    return why;
  }
  for (std::size_t i = 0; i < args.tensors.size(); ++i) {
    const TensorSpec& s = last.specs[i];
    const Tensor& t = args.tensors[i];
    const auto [arg, elem] = args.tensor_pos[i];
    const std::string a = "arg " + std::to_string(arg) + (elem >= 0 ? "[" + std::to_string(elem) + "]" : "") + ": ";
    if (s.dtype != t.dtype()) add(a + "dtype was " + dtype_name(s.dtype) + ", now " + dtype_name(t.dtype()));
    const Shape& now = t.shape();
    if (s.shape.rank() != now.rank()) {
      add(a + "rank was " + std::to_string(s.shape.rank()) + " " + s.shape.str() + ", now " +
          std::to_string(now.rank()) + " " + now.str());
      continue;
    }
    for (int d = 0; d < now.rank(); ++d)
      if (s.shape[d] >= 0 && s.shape[d] != now[d])
        add(a + "dim " + std::to_string(d) + " was " + std::to_string(s.shape[d]) + ", now " + std::to_string(now[d]));
  }
  return why.empty() ? "signature changed" : why;
}

// The specs to trace with: the input signature, the actual specs, or (reduce_retracing) the actual specs with
// every dim that differs from the latest trace made unknown.
std::vector<TensorSpec> FunctionCore::trace_specs(const ArgList& args) const {
  std::vector<TensorSpec> specs;
  for (const Tensor& t : args.tensors) specs.push_back(t.spec());
  if (options.input_signature) return *options.input_signature;
  if (!options.reduce_retracing || !last_) return specs;
  const Entry& last = *last_;
  if (last.key != args.key || last.specs.size() != specs.size()) return specs;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = last.specs[i];
    if (s.dtype != specs[i].dtype || s.shape.rank() != specs[i].shape.rank()) continue;
    for (int d = 0; d < s.shape.rank(); ++d)
      if (s.shape[d] != specs[i].shape[d]) specs[i].shape[d] = Shape::kUnknown;
  }
  return specs;
}

void FunctionCore::check_signature(const ArgList& args) const {
  if (!options.input_signature) return;
  const auto& sig = *options.input_signature;
  bool ok = sig.size() == args.tensors.size();
  for (std::size_t i = 0; ok && i < sig.size(); ++i) ok = compatible(sig[i], args.tensors[i]);
  if (ok) return;
  std::string got, want;
  for (const Tensor& t : args.tensors)
    got += std::string(got.empty() ? "" : ", ") + dtype_name(t.dtype()) + " " + t.shape().str();
  for (const auto& s : sig) want += std::string(want.empty() ? "" : ", ") + dtype_name(s.dtype) + " " + s.shape.str();
  throw ValueError("[" + options.name + "] arguments (" + got + ") do not match its input_signature (" + want + ")");
}

std::shared_ptr<graph::Graph> FunctionCore::trace_graph(const std::vector<TensorSpec>& specs, const TraceFn& trace,
                                                        std::vector<std::int64_t>& structure, bool first) const {
  auto g = std::make_shared<graph::Graph>(options.name, "function '" + options.name + "' is being traced");
  graph::GraphTracer tracer(*g, nullptr);
  tracer.allow_variable_creation = first;
  std::vector<Tensor> sym;
  for (const auto& s : specs) sym.push_back(g->symbolic({g->add_placeholder(s), 0}));
  std::vector<Tensor> outs = trace(sym, structure);
  for (const Tensor& o : outs) {
    if (!o.defined()) throw ValueError("[" + options.name + "] returned an undefined Tensor handle");
    g->outputs().push_back(tracer.value_of(o));
  }
  return g;
}

// Traces, optimizes and caches a new entry (the caller holds the trace mutex). Returns nullptr when the trace
// needs one concrete run first (a host-step layer that must see real data to tell its output shape).
std::shared_ptr<FunctionCore::Entry> FunctionCore::add_trace(const ArgList& args, const TraceFn& trace) {
  std::string why;
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    why = explain(args);
    first = traces_ == 0;
    if (!first && options.strict) {
      throw RetraceError("[" + options.name + "] would retrace (strict mode): " + why +
                         ". Give it an input_signature with unknown dims, or use reduce_retracing");
    }
  }
  auto e = std::make_shared<Entry>();
  e->specs = trace_specs(args);
  e->key = args.key;
  e->shown = args.shown;
  try {
    e->graph = trace_graph(e->specs, trace, e->structure, first);
  } catch (const graph::ConcreteRunNeeded& c) {
    log(config::LogLevel::Info, "[" + options.name + "] runs this call eagerly before tracing: " + c.why);
    return nullptr;
  }
  if (options.verify) e->graph->verify();
  e->raw = e->graph->clone();
  passes::optimize(*e->graph, options.passes, options.verify);
  e->plan = exec::Plan::build(e->graph);

  std::lock_guard<std::mutex> lock(mu_);
  if (!first) {
    reasons_.push_back(why);
    log(config::LogLevel::Info, "retracing " + options.name + ": " + why);
    if (traces_ == 5) {
      log(config::LogLevel::Warning,
          options.name + " has been traced " + std::to_string(traces_ + 1) + " times (latest: " + why +
              "). Retracing is slow; pass tensors instead of changing C++ values, give the function an input_signature "
              "with unknown dims, or construct it with reduce_retracing = true");
    }
  }
  e->id = traces_++;
  lru_.push_front(e);
  e->lru_pos = lru_.begin();
  buckets_[bucket_of(e->key, e->specs)].push_back(e);
  last_ = e;
  while (static_cast<int>(lru_.size()) > options.max_traces) {
    std::shared_ptr<Entry> old = lru_.back();
    lru_.pop_back();
    auto& b = buckets_[bucket_of(old->key, old->specs)];
    b.erase(std::find(b.begin(), b.end(), old));
    log(config::LogLevel::Warning, "[" + options.name + "] keeps at most " + std::to_string(options.max_traces) +
                                       " traces (FunctionOptions::max_traces): evicted trace " +
                                       std::to_string(old->id) +
                                       ", the least recently used; calls that need it will retrace");
  }
  return e;
}

std::vector<Tensor> FunctionCore::call(const ArgList& args, const TraceFn& trace,
                                       std::vector<std::int64_t>& structure) {
  for (const Tensor& t : args.tensors) {
    if (t.is_symbolic() && !graph::current_graph_tracer()) {
      throw ValueError("[" + options.name + "] got a symbolic tensor argument " + t.str() + " outside any trace");
    }
  }
  // Called while another function is being traced: inline this one into that trace.
  if (graph::current_graph_tracer()) return trace(args.tensors, structure);
  check_signature(args);
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e = find(args);
  }
  if (!e) {
    std::lock_guard<std::recursive_mutex> tl(trace_mutex());
    {
      std::lock_guard<std::mutex> lock(mu_);
      e = find(args);  // another thread may have traced it meanwhile
    }
    if (!e) e = add_trace(args, trace);
    if (!e) return trace(args.tensors, structure);  // the concrete run; the next call traces
  }
  structure = e->structure;
  if (options.check_eager) return check_eager_call(*this, *e, args, trace);
  return e->plan->run(args.tensors);
}

int FunctionCore::trace_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return traces_;
}

std::vector<std::string> FunctionCore::retrace_reasons() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reasons_;
}

std::shared_ptr<const graph::Graph> FunctionCore::graph_of(int trace) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!last_) return nullptr;
  if (trace < 0) return last_->graph;
  for (const auto& e : lru_)
    if (e->id == trace) return e->graph;
  throw ValueError("[" + options.name + "] has no trace " + std::to_string(trace) + " (traces are numbered from 0; " +
                   std::to_string(traces_) + " so far, at most " + std::to_string(options.max_traces) + " kept)");
}

std::vector<std::shared_ptr<const FunctionCore::Entry>> FunctionCore::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const Entry>> out(lru_.begin(), lru_.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
  return out;
}

std::shared_ptr<FunctionCore> make_function_core(FunctionOptions options) {
  return std::make_shared<FunctionCore>(std::move(options));
}
std::vector<Tensor> call_function(FunctionCore& core, const ArgList& args, const TraceFn& trace,
                                  std::vector<std::int64_t>& structure) {
  return core.call(args, trace, structure);
}
int trace_count(const FunctionCore& core) { return core.trace_count(); }
std::string graph_text(const FunctionCore& core, int trace) {
  auto g = core.graph_of(trace);
  return g ? g->text() : "(not traced yet)";
}
std::string graph_dot(const FunctionCore& core, int trace) {
  auto g = core.graph_of(trace);
  return g ? g->dot() : "digraph {}\n";
}
std::vector<std::string> retrace_reasons(const FunctionCore& core) { return core.retrace_reasons(); }

}  // namespace internal
}  // namespace duet
