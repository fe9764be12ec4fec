// host_function (tf.py_function): arbitrary C++ on concrete tensors. Traced, it is a stateful node whose
// kernel calls the callable on every run, checks its results against the declared specs and attaches
// its name to any exception. Its gradient is another host function: the user's, or one that re-runs
// fn under a GradientTape.
#include <map>
#include <mutex>

#include "autodiff/vjp.h"
#include "duet/function.h"
#include "duet/ops.h"
#include "exec/plan.h"
#include "function/subgraph.h"
#include "graph/tracer.h"
#include "ops/infer_util.h"

namespace duet {
namespace {

struct HostCallable : Callable {
  HostFn fn;
  std::vector<TensorSpec> specs;
  HostFunctionOptions options;
  bool registered = false;  // fn is the one registered under options.name
  std::string describe() const override { return "host:" + options.name; }
};

thread_local const std::vector<TensorSpec>* t_specs = nullptr;  // of the host call running on this thread

std::vector<Tensor> checked_call(const HostCallable& h, const std::vector<Tensor>& ins) {
  std::vector<Tensor> outs;
  const std::string where = "[host_function '" + h.options.name + "'] ";
  try {
    const std::vector<TensorSpec>* outer = t_specs;
    t_specs = &h.specs;
    struct Restore {
      const std::vector<TensorSpec>* outer;
      ~Restore() { t_specs = outer; }
    } restore{outer};
    outs = h.fn(ins);
  } catch (const Error& e) {
    e.rethrow_with_context(where);
  } catch (const std::exception& e) {
    throw Error(where + "the callable threw: " + e.what());
  }
  if (outs.size() != h.specs.size()) {
    throw ValueError(where + "returned " + std::to_string(outs.size()) + " tensors but " +
                     std::to_string(h.specs.size()) + " output_specs were declared");
  }
  for (std::size_t i = 0; i < outs.size(); ++i) {
    const Tensor& o = outs[i];
    const TensorSpec& s = h.specs[i];
    if (!o.defined()) throw ValueError(where + "output " + std::to_string(i) + " is an undefined Tensor handle");
    if (o.is_symbolic())
      throw ValueError(where + "output " + std::to_string(i) + " is symbolic; host functions return concrete tensors");
    if (o.dtype() != s.dtype) {
      throw DTypeError(where + "output " + std::to_string(i) + " is " + dtype_name(o.dtype()) + " " + o.shape().str() +
                       " but its output_spec declares " + dtype_name(s.dtype) + "; fix the spec or cast() the result");
    }
    if (!s.shape.compatible_with(o.shape())) {
      throw ShapeError(where + "output " + std::to_string(i) + " has shape " + o.shape().str() +
                       " but its output_spec declares " + s.shape.str());
    }
  }
  return outs;
}

void infer_host(InferContext& c) {
  const auto& h = static_cast<const HostCallable&>(*c.attrs.fn("fn"));
  for (const auto& s : h.specs) c.set_output(s.dtype, s.shape);
}

void host_kernel(KernelContext& k) {
  const auto& h = static_cast<const HostCallable&>(*k.attrs.fn("fn"));
  graph::EagerScope eager;  // the callable computes on concrete tensors even if a trace is in progress
  std::vector<Tensor> outs = checked_call(h, std::vector<Tensor>(k.inputs.begin(), k.inputs.end()));
  for (std::size_t i = 0; i < outs.size(); ++i) k.outputs[i] = outs[i];
}

std::vector<Tensor> grad_host(const GradContext& c) {
  auto h = std::static_pointer_cast<const HostCallable>(c.attrs.fn("fn"));
  const std::size_t n_in = c.inputs.size(), n_out = c.outputs.size();
  std::vector<Tensor> args(c.inputs.begin(), c.inputs.end());
  args.insert(args.end(), c.outputs.begin(), c.outputs.end());
  args.insert(args.end(), c.grads.begin(), c.grads.end());
  std::vector<std::size_t> diff;  // inputs that get gradients
  for (std::size_t i = 0; i < n_in; ++i)
    if (c.needs(i) && is_floating(c.inputs[i].dtype())) diff.push_back(i);
  if (diff.empty()) return std::vector<Tensor>(n_in);
  std::vector<TensorSpec> specs;
  for (std::size_t i : diff) specs.push_back(c.inputs[i].spec());
  auto grad_fn = [h, n_in, n_out, diff](const std::vector<Tensor>& a) {
    std::vector<Tensor> ins(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n_in));
    std::vector<Tensor> outs(a.begin() + static_cast<std::ptrdiff_t>(n_in),
                             a.begin() + static_cast<std::ptrdiff_t>(n_in + n_out));
    std::vector<Tensor> ups(a.begin() + static_cast<std::ptrdiff_t>(n_in + n_out), a.end());
    std::vector<Tensor> all;
    if (h->options.gradient) {
      all = h->options.gradient(ins, outs, ups);
    } else {
      // Re-run fn eagerly under a tape and take the vector-Jacobian product.
      std::vector<Source> srcs;
      for (std::size_t i : diff) srcs.emplace_back(ins[i]);
      std::vector<Tensor> g = internal::vjp([&] { return h->fn(ins); }, srcs, ups);
      all.assign(n_in, Tensor());
      for (std::size_t k = 0; k < diff.size(); ++k) all[diff[k]] = g[k];
    }
    std::vector<Tensor> r;
    for (std::size_t i : diff) r.push_back(i < all.size() && all[i].defined() ? all[i] : zeros_like(ins[i]));
    return r;
  };
  std::vector<Tensor> g = host_function(grad_fn, args, specs, {.name = h->options.name + "_grad"});
  std::vector<Tensor> result(n_in);
  for (std::size_t k = 0; k < diff.size(); ++k) result[diff[k]] = g[k];
  return result;
}

const OpDef kHostFunction{.name = "HostFunction",
                          .public_name = "host_function",
                          .num_inputs = -1,
                          .infer = infer_host,
                          .kernel = host_kernel,
                          .grad = grad_host,
                          .traits = kStateful | kView | kRunsGraphs};

}  // namespace

const OpDef& graph::host_function_op() { return kHostFunction; }

namespace {

struct Registered {
  HostFn fn;
  HostGradFn gradient;
};
std::mutex g_registry_mu;
std::map<std::string, Registered>& registry() {
  static std::map<std::string, Registered> r;
  return r;
}

std::vector<Tensor> call_host(const std::shared_ptr<HostCallable>& h, const std::vector<Tensor>& inputs) {
  bool symbolic = false;
  for (const Tensor& t : inputs) {
    if (!t.defined())
      throw ValueError("[host_function '" + h->options.name + "'] an input is an undefined Tensor handle");
    symbolic = symbolic || t.is_symbolic();
  }
  // Eager without a custom gradient: just call it (its duet ops are recorded by any tape as usual).
  if (!symbolic && !graph::current_graph_tracer() && !h->options.gradient) return checked_call(*h, inputs);
  Tensors out = dispatch(kHostFunction, inputs, {{"fn", FnRef(h)}});
  return {out.begin(), out.end()};
}

}  // namespace

std::optional<std::string> graph::registered_host_name(const Node& n) {
  if (n.op != &kHostFunction) throw ValueError("[registered_host_name] " + n.name + " is not a host function");
  const auto& h = static_cast<const HostCallable&>(*n.attrs.fn("fn"));
  if (!h.registered) return std::nullopt;
  return h.options.name;
}

void register_host_function(const std::string& name, HostFn fn, HostGradFn gradient) {
  if (name.empty()) throw ValueError("[register_host_function] the name is empty");
  if (!fn) throw ValueError("[register_host_function '" + name + "'] needs a callable");
  std::lock_guard<std::mutex> lock(g_registry_mu);
  registry()[name] = Registered{std::move(fn), std::move(gradient)};
}

const std::vector<TensorSpec>* internal::host_output_specs() { return t_specs; }

bool host_function_registered(const std::string& name) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  return registry().count(name) != 0;
}

std::vector<Tensor> host_function(const std::string& name, const std::vector<Tensor>& inputs,
                                  const std::vector<TensorSpec>& output_specs) {
  auto h = std::make_shared<HostCallable>();
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    auto it = registry().find(name);
    if (it == registry().end()) {
      throw ValueError("[host_function] no host function is registered under the name '" + name +
                       "'; register it first: register_host_function(\"" + name + "\", fn)");
    }
    h->fn = it->second.fn;
    h->options.gradient = it->second.gradient;
  }
  h->options.name = name;
  h->registered = true;
  h->specs = output_specs;
  return call_host(h, inputs);
}

std::vector<Tensor> host_function(HostFn fn, const std::vector<Tensor>& inputs,
                                  const std::vector<TensorSpec>& output_specs, HostFunctionOptions options) {
  if (!fn) throw ValueError("[host_function '" + options.name + "'] needs a callable");
  auto h = std::make_shared<HostCallable>();
  h->fn = std::move(fn);
  h->specs = output_specs;
  h->options = std::move(options);
  return call_host(h, inputs);
}

}  // namespace duet
