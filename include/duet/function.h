#pragma once
// Graph mode. duet::function traces a callable once per input signature into a graph, optimizes it and
// replays it; cond/while_loop are control flow that works eagerly and traced; host_function runs
// arbitrary C++ on concrete values inside a graph (TensorFlow's tf.py_function).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet {

struct PassOptions {
  bool constant_folding = true;
  // Common subexpressions, and reads of one variable that no write separates, are computed once.
  bool cse = true;
  bool dce = true;
  // Groups of elementwise ops over one shape run as one pass over memory (reading the parts of a split and
  // writing the parts of a concat in place: an LSTM cell is one node each way), conv2d + bias_add (+ relu)
  // runs as one convolution (with a max pool of its output, and its filter and bias gradients as one node
  // each), the products of every step of a split sequence by one weight run as one product (a recurrent
  // net's input projection, before its loop), a sum of matrix products (a recurrent weight's gradient over its steps, a
  // cell's x @ wx + h @ wh + b) runs as one node, and a weight used transposed by several products of few rows is
  // transposed once.
  bool fusion = true;
  // Smaller tensors stay in cache between ops, so fusing them saves nothing (measured: an LSTM with
  // 32x512 gates ran ~10% slower fused).
  std::int64_t fusion_min_elements = 1 << 15;
};

struct FunctionOptions {
  std::string name = "function";
  // Fixes the tensor arguments' specs (dims may be unknown); calls must be compatible.
  std::optional<std::vector<TensorSpec>> input_signature;
  // A dim that changes between calls becomes unknown in the retrace, so later calls hit the cache.
  bool reduce_retracing = false;
  // Throw RetraceError instead of retracing after the first trace.
  bool strict = false;
  PassOptions passes;
  // Run the graph verifier after every pass (tests turn this on).
  bool verify = false;
  // Traces kept (least recently used evicted first, with a warning); a call that needs an evicted trace
  // retraces.
  int max_traces = 32;
  // The differential check: every compiled call also runs eagerly on the same inputs and state, and the
  // first difference beyond tolerance throws EagerMismatchError (or warns, with check_eager_warn_only)
  // naming the first differing node, its op and layer, the shapes, the difference and the graph pass that
  // produced it. DUET_CHECK_EAGER=1 turns it on for every function of a program. Each checked call runs
  // user code twice (host functions included) and is several times slower: a debugging tool.
  bool check_eager = false;
  bool check_eager_warn_only = false;
  double check_eager_rtol = 1e-4;
  double check_eager_atol = 1e-5;
};

namespace config {
// When true, every duet::function calls its callable directly (debugging). Changing it while a function
// is being traced throws (setting the value it already has is allowed): the flag is read when a function
// is called, not inside a trace.
void run_functions_eagerly(bool eagerly);
bool functions_run_eagerly();

enum class LogLevel { Warning, Info };
// Receives duet's warnings (and, at Info, the explanation of every retrace). Default: stderr, warnings only.
void set_log_handler(std::function<void(LogLevel, const std::string&)> handler);
void set_log_level(LogLevel level);
}  // namespace config

namespace internal {

void log(config::LogLevel level, const std::string& message);

// The arguments of one call: tensors become graph inputs; every other argument joins the trace key exactly
// (a double by its bits) and is shown readably when it causes a retrace ("arg 1: 1e-07 -> 2e-07").
struct ArgList {
  std::vector<Tensor> tensors;
  std::string key;                              // exact, per argument
  std::vector<std::string> shown;               // per argument: its readable value ("" for tensors)
  std::vector<std::pair<int, int>> tensor_pos;  // per tensor: its argument, and its index in a list (-1 if none)
};
void flatten_arg(const Tensor& t, ArgList& a);
void flatten_arg(const std::vector<Tensor>& v, ArgList& a);
void flatten_arg(const Variable& v, ArgList& a);  // captured by reference, keyed by identity
void flatten_arg(bool v, ArgList& a);
void flatten_arg(std::int64_t v, ArgList& a);
void flatten_arg(double v, ArgList& a);
void flatten_arg(const std::string& v, ArgList& a);
template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) void flatten_arg(T v, ArgList& a) {
  flatten_arg(static_cast<std::int64_t>(v), a);
}
inline void flatten_arg(float v, ArgList& a) { flatten_arg(static_cast<double>(v), a); }
inline void flatten_arg(const char* v, ArgList& a) { flatten_arg(std::string(v), a); }

// The non-template core of a traced function (trace cache, retracing, execution), defined in the library.
class FunctionCore;
// Traces on a miss: trace(args, structure) returns the flat outputs and records the output structure; with
// concrete args (outside any trace) it runs the callable eagerly.
using TraceFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&, std::vector<std::int64_t>&)>;
std::shared_ptr<FunctionCore> make_function_core(FunctionOptions options);
std::vector<Tensor> call_function(FunctionCore& core, const ArgList& args, const TraceFn& trace,
                                  std::vector<std::int64_t>& structure);
int trace_count(const FunctionCore& core);
std::string graph_text(const FunctionCore& core, int trace);
std::string graph_dot(const FunctionCore& core, int trace);
std::vector<std::string> retrace_reasons(const FunctionCore& core);
void save_function(const FunctionCore& core, const std::string& path);
struct LoadedFunctionImpl;

// Rebuilds an argument with symbolic tensors in place of its tensors.
inline Tensor rebuild_arg(const Tensor&, const std::vector<Tensor>& s, std::size_t& i) { return s[i++]; }
inline std::vector<Tensor> rebuild_arg(const std::vector<Tensor>& v, const std::vector<Tensor>& s, std::size_t& i) {
  std::vector<Tensor> r(s.begin() + static_cast<std::ptrdiff_t>(i),
                        s.begin() + static_cast<std::ptrdiff_t>(i + v.size()));
  i += v.size();
  return r;
}
template <class T>
requires(!std::is_same_v<std::decay_t<T>, Tensor> &&
         !std::is_same_v<std::decay_t<T>, std::vector<Tensor>>) const T& rebuild_arg(const T& v,
                                                                                     const std::vector<Tensor>&,
                                                                                     std::size_t&) {
  return v;
}

// Results: a Tensor, a std::vector<Tensor>, or a std::tuple of those.
inline void flatten_result(const Tensor& t, std::vector<Tensor>& out, std::vector<std::int64_t>&) { out.push_back(t); }
inline void flatten_result(const std::vector<Tensor>& v, std::vector<Tensor>& out, std::vector<std::int64_t>& st) {
  st.push_back(static_cast<std::int64_t>(v.size()));
  out.insert(out.end(), v.begin(), v.end());
}
template <class... T>
void flatten_result(const std::tuple<T...>& t, std::vector<Tensor>& out, std::vector<std::int64_t>& st) {
  std::apply([&](const auto&... e) { (flatten_result(e, out, st), ...); }, t);
}

template <class R>
struct Unflatten;
template <>
struct Unflatten<Tensor> {
  static Tensor get(const std::vector<Tensor>& f, std::size_t& i, const std::vector<std::int64_t>&, std::size_t&) {
    return f[i++];
  }
};
template <>
struct Unflatten<std::vector<Tensor>> {
  static std::vector<Tensor> get(const std::vector<Tensor>& f, std::size_t& i, const std::vector<std::int64_t>& st,
                                 std::size_t& si) {
    auto n = static_cast<std::size_t>(st[si++]);
    std::vector<Tensor> r(f.begin() + static_cast<std::ptrdiff_t>(i), f.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
    return r;
  }
};
// Types derived from std::vector<Tensor> (what calling a layer on a list returns) come back as themselves.
template <class R>
requires(std::is_base_of_v<std::vector<Tensor>, R> && !std::is_same_v<R, std::vector<Tensor>>) struct Unflatten<R> {
  static R get(const std::vector<Tensor>& f, std::size_t& i, const std::vector<std::int64_t>& st, std::size_t& si) {
    return R(Unflatten<std::vector<Tensor>>::get(f, i, st, si));
  }
};
template <class... T>
struct Unflatten<std::tuple<T...>> {
  static std::tuple<T...> get(const std::vector<Tensor>& f, std::size_t& i, const std::vector<std::int64_t>& st,
                              std::size_t& si) {
    return std::tuple<T...>{Unflatten<T>::get(f, i, st, si)...};
  }
};

}  // namespace internal

// A traced function (tf.function). Call it like the callable it wraps.
//
// Threads: one Function may be called from many threads at once. Tracing is serialized (one trace at a
// time in the process); replays of cached traces run concurrently. Calls that only read variables are
// safe together; a call that assigns a variable must not overlap another call that reads or writes that
// variable (variables are not locked): serialize such steps yourself, as Model does for its train steps.
template <class F>
class Function {
 public:
  Function(F f, FunctionOptions options) : fn_(std::move(f)), core_(internal::make_function_core(std::move(options))) {}

  template <class... Args>
  auto operator()(const Args&... args) {
    using R = std::decay_t<std::invoke_result_t<F&, const Args&...>>;
    if (config::functions_run_eagerly()) return fn_(args...);
    internal::ArgList flat;
    (internal::flatten_arg(args, flat), ...);
    std::vector<std::int64_t> structure;
    auto trace = [&](const std::vector<Tensor>& sym, std::vector<std::int64_t>& st) {
      std::size_t i = 0;
      // Braced init evaluates left to right, so arguments are rebuilt in order.
      auto rebuilt =
          std::tuple<decltype(internal::rebuild_arg(args, sym, i))...>{internal::rebuild_arg(args, sym, i)...};
      R result = std::apply(fn_, rebuilt);
      std::vector<Tensor> out;
      internal::flatten_result(result, out, st);
      return out;
    };
    std::vector<Tensor> outs = internal::call_function(*core_, flat, trace, structure);
    std::size_t i = 0, si = 0;
    return internal::Unflatten<R>::get(outs, i, structure, si);
  }

  // Number of traces so far (retraces included).
  int trace_count() const { return internal::trace_count(*core_); }
  // The optimized graph of a trace as text / Graphviz DOT (the latest by default).
  std::string graph_text(int trace = -1) const { return internal::graph_text(*core_, trace); }
  std::string graph_dot(int trace = -1) const { return internal::graph_dot(*core_, trace); }
  // Why each retrace happened ("arg 0: dim 0 was 32, now 17").
  std::vector<std::string> retrace_reasons() const { return internal::retrace_reasons(*core_); }

  // Writes every kept trace (its unoptimized graph, input specs and the variables it reads or writes, with
  // their current values) to a safetensors file that load_function runs in a program without this code.
  // Traces are told apart by their tensor inputs only: two traces that differ only in a C++ argument are
  // refused (pass that value as a tensor). Host functions must be registered ones (register_host_function).
  void save(const std::string& path) const { internal::save_function(*core_, path); }

 private:
  F fn_;
  std::shared_ptr<internal::FunctionCore> core_;
};

template <class F>
Function<F> function(F f, FunctionOptions options = {}) {
  return Function<F>(std::move(f), std::move(options));
}

// A function saved by Function::save, loaded by load_function: one optimized graph per saved input signature,
// and its own copies of the variables those graphs use (restored from the file). Calls pick the first
// signature the tensors match (dtype, rank, known dims) and return the flat list of results. Called inside a
// trace or under a GradientTape, it replays its graph op by op, so it inlines and differentiates.
class LoadedFunction {
 public:
  std::vector<Tensor> operator()(const std::vector<Tensor>& args) const;
  template <class... T>
  requires(std::is_convertible_v<T, Tensor>&&...) std::vector<Tensor>
  operator()(const T&... args) const { return (*this)(std::vector<Tensor>{Tensor(args)...}); }
  const std::string& name() const;
  const std::vector<std::vector<TensorSpec>>& signatures() const;
  std::vector<Variable> variables() const;
  // The optimized graph of a signature, as text.
  std::string graph_text(std::size_t signature = 0) const;

 private:
  friend LoadedFunction load_function(const std::string& path);
  std::shared_ptr<const internal::LoadedFunctionImpl> impl_;
};
// Reads a file written by Function::save, checks all of it and compiles every signature (IOError naming the
// file and what is wrong otherwise). Host functions the graphs call must be registered in this program.
LoadedFunction load_function(const std::string& path);

// ---- control flow -------------------------------------------------------------------------------
// Runs then_fn() if pred (a one-element bool or numeric tensor) is true, else else_fn(). Eagerly only
// the chosen branch runs; traced, both branches become subgraphs (which may read outer tensors) of one
// Cond node. Both branches must return the same number of tensors with the same dtypes.
Tensor cond(const Tensor& pred, const std::function<Tensor()>& then_fn, const std::function<Tensor()>& else_fn);
std::vector<Tensor> cond(const Tensor& pred, const std::function<std::vector<Tensor>()>& then_fn,
                         const std::function<std::vector<Tensor>()>& else_fn);

struct WhileOptions {
  // Stop after this many iterations (0: no limit). A guard against runaway loops.
  std::int64_t maximum_iterations = 0;
};
// while (cond_fn(vars)) vars = body_fn(vars). The body must keep each variable's dtype and shape (a ShapeError
// otherwise, eager and traced alike).
std::vector<Tensor> while_loop(const std::function<Tensor(const std::vector<Tensor>&)>& cond_fn,
                               const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& body_fn,
                               const std::vector<Tensor>& loop_vars, WhileOptions options = {});

// ---- host functions (tf.py_function) ------------------------------------------------------------
using HostFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
// Receives the inputs, the outputs and the outputs' gradients; returns one gradient per input.
using HostGradFn = std::function<std::vector<Tensor>(
    const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::vector<Tensor>& output_grads)>;
struct HostFunctionOptions {
  std::string name = "host_function";
  // Custom gradient. Without one, the gradient re-runs fn eagerly under a GradientTape (so fn must be
  // written with duet ops to be differentiable).
  HostGradFn gradient;
};
// Calls fn on concrete tensors: now when eager, on every run when traced. Its results are checked
// against output_specs (dtype, and shape where known); an exception from fn is rethrown with the
// host function's name attached.
std::vector<Tensor> host_function(HostFn fn, const std::vector<Tensor>& inputs,
                                  const std::vector<TensorSpec>& output_specs, HostFunctionOptions options = {});

// Host functions by name. A graph that calls a C++ callable cannot be saved (a file holds no code); one
// that calls a registered host function can: the file names it, and loading (load_function, load_model)
// looks the name up in the loading program, which must register the same name (loading fails naming it
// otherwise). Registering a name again replaces its callable for later calls and loads.
void register_host_function(const std::string& name, HostFn fn, HostGradFn gradient = nullptr);
bool host_function_registered(const std::string& name);
// Calls the host function registered under `name` (ValueError when there is none).
std::vector<Tensor> host_function(const std::string& name, const std::vector<Tensor>& inputs,
                                  const std::vector<TensorSpec>& output_specs);
namespace internal {
// The output specs of the host function running on this thread (nullptr outside one): a registered callable
// shared by call sites with different specs reads them to convert its results (Python's py_function does).
const std::vector<TensorSpec>* host_output_specs();
}  // namespace internal

}  // namespace duet
