#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "core/tensor_impl.h"
#include "duet/config.h"
#include "kernels/kernels.h"
#include "ops/op_def.h"
#include "ops/registry.h"

namespace duet {

const Shape& InferContext::shape(std::size_t i) const { return inputs[i].shape(); }
DType InferContext::dtype(std::size_t i) const { return inputs[i].dtype(); }
void InferContext::shape_error(const std::string& msg) const {
  throw ShapeError(std::string("[") + op.public_name + "] " + msg);
}
void InferContext::dtype_error(const std::string& msg) const {
  throw DTypeError(std::string("[") + op.public_name + "] " + msg);
}
void InferContext::value_error(const std::string& msg) const {
  throw ValueError(std::string("[") + op.public_name + "] " + msg);
}

namespace {
std::mutex g_registry_mu;
std::vector<const OpDef*>& registry() {
  static std::vector<const OpDef*> r;
  return r;
}
}  // namespace

OpRegistration::OpRegistration(void (*add)(std::vector<const OpDef*>& registry)) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  add(registry());
}

// Sorted by name: the order does not depend on the order static initializers ran in.
const std::vector<const OpDef*>& all_ops() {
  static std::vector<const OpDef*> sorted;
  static std::size_t seen = 0;
  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (seen != registry().size()) {
    sorted = registry();
    std::sort(sorted.begin(), sorted.end(),
              [](const OpDef* a, const OpDef* b) { return std::string_view(a->name) < b->name; });
    seen = sorted.size();
  }
  return sorted;
}

const OpDef* find_op(std::string_view name) {
  const auto& ops = all_ops();
  auto it = std::lower_bound(ops.begin(), ops.end(), name,
                             [](const OpDef* d, std::string_view n) { return std::string_view(d->name) < n; });
  return it != ops.end() && (*it)->name == name ? *it : nullptr;
}

namespace internal {
namespace {
thread_local Tracer* t_tracer = nullptr;
thread_local OpObserver t_observer = nullptr;
thread_local void* t_observer_user = nullptr;
thread_local ResultObserver t_result_observer = nullptr;
thread_local void* t_result_observer_user = nullptr;
}  // namespace
thread_local int g_active_tapes = 0;

DispatchHooks& dispatch_hooks() {
  static DispatchHooks h;
  return h;
}

namespace {
thread_local std::string t_scope;
std::atomic<bool> g_check_numerics{false};
}  // namespace

NameScope::NameScope(const std::string& name) : saved_size_(t_scope.size()) {
  if (!t_scope.empty()) t_scope += '/';
  t_scope += name;
}
NameScope::~NameScope() { t_scope.resize(saved_size_); }
const std::string& current_scope() { return t_scope; }

bool numerics_checked() { return g_check_numerics.load(std::memory_order_relaxed); }

void check_outputs_finite(const OpDef& op, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                          const std::string& where) {
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& t = outputs[k];
    if (!t.defined() || !is_floating(t.dtype())) continue;
    kernels::NonFinite bad = kernels::count_nonfinite(t);
    if (bad.nan + bad.inf == 0) continue;
    std::string ins;
    bool input_bad = false;
    for (const Tensor& x : inputs) {
      if (!x.defined()) continue;
      ins += (ins.empty() ? "" : ", ") + std::string(dtype_name(x.dtype())) + " " + x.shape().str();
      if (is_floating(x.dtype())) {
        auto b = kernels::count_nonfinite(x);
        input_bad = input_bad || b.nan + b.inf > 0;
      }
    }
    throw NumericsError(
        "[" + std::string(op.public_name) + "] produced " + (bad.nan ? std::to_string(bad.nan) + " NaN" : "") +
        (bad.nan && bad.inf ? " and " : "") + (bad.inf ? std::to_string(bad.inf) + " infinite" : "") + " value" +
        (bad.nan + bad.inf > 1 ? "s" : "") + " (first at element " + std::to_string(bad.first) + ") in output " +
        std::to_string(k) + " (" + dtype_name(t.dtype()) + " " + t.shape().str() + ")" +
        (where.empty() ? "" : ", " + where) + "; inputs: " + (ins.empty() ? "none" : ins) +
        (input_bad
             ? ". An input already held NaN/Inf: it came from outside the checked ops (the data or a variable)"
             : ". Its inputs were finite, so this op made it: check its inputs' range (log of 0, exp overflow, 0/0)") +
        " (config::enable_check_numerics)");
  }
}
}  // namespace internal

namespace config {
void enable_check_numerics() { internal::g_check_numerics = true; }
void disable_check_numerics() { internal::g_check_numerics = false; }
bool check_numerics_enabled() { return internal::g_check_numerics.load(); }
}  // namespace config

namespace internal {
Tracer* current_tracer() { return t_tracer; }
void set_current_tracer(Tracer* t) { t_tracer = t; }
void set_op_observer(OpObserver f, void* user) {
  t_observer = f;
  t_observer_user = user;
}
void set_result_observer(ResultObserver f, void* user) {
  t_result_observer = f;
  t_result_observer_user = user;
}
}  // namespace internal

static void check_inputs(const OpDef& op, std::span<const Tensor> inputs) {
  if (op.num_inputs >= 0 && static_cast<int>(inputs.size()) != op.num_inputs) {
    throw ValueError(std::string("[") + op.public_name + "] expects " + std::to_string(op.num_inputs) +
                     " inputs, got " + std::to_string(inputs.size()));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      throw ValueError(std::string("[") + op.public_name + "] input " + std::to_string(i) +
                       " is an undefined (empty) Tensor handle");
    }
  }
}

// Runs op's kernel. Every error leaves as a duet::Error naming the op: out of memory (std::bad_alloc, as from a
// container) becomes ResourceExhaustedError, and anything else a library throws (oneDNN's dnnl::error) an
// Error with its message.
static void invoke_kernel(const OpDef& op, KernelContext& k) {
  try {
    op.kernel(k);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw ResourceExhaustedError(std::string("[") + op.public_name +
                                 "] out of memory while computing the op; use smaller inputs");
  } catch (const std::length_error& e) {
    throw ResourceExhaustedError(std::string("[") + op.public_name + "] a buffer would be too large (" + e.what() +
                                 ")");
  } catch (const std::exception& e) {
    throw Error(std::string("[") + op.public_name + "] failed inside its kernel: " + e.what() +
                " (please report this)");
  }
}

// Allocates an output, naming the op and the output when memory runs out.
static Tensor allocate_output(const OpDef& op, const TensorSpec& s) {
  try {
    return make_concrete(s.dtype, s.shape);
  } catch (const ResourceExhaustedError& e) {
    e.rethrow_with_context("[" + std::string(op.public_name) + "] output " + dtype_name(s.dtype) + " " + s.shape.str() +
                           ": ");
  }
  throw;  // not reached: rethrow_with_context throws
}

static void run_into(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, const Specs& specs,
                     Tensors& out) {
  if (!op.has(kView)) {
    for (auto& s : specs) out.push_back(allocate_output(op, s));
  } else {
    out.resize(specs.size());
  }
  KernelContext k{op, inputs, attrs, std::span<const TensorSpec>(specs.data(), specs.size()),
                  std::span<Tensor>(out.data(), out.size())};
  invoke_kernel(op, k);
}

Tensors run_kernel_with_specs(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                              std::span<const TensorSpec> specs) {
  Tensors out;
  if (!op.has(kView)) {
    for (auto& s : specs) out.push_back(allocate_output(op, s));
  } else {
    out.resize(specs.size());
  }
  KernelContext k{op, inputs, attrs, specs, std::span<Tensor>(out.data(), out.size())};
  invoke_kernel(op, k);
  return out;
}

void run_kernel_into(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                     std::span<const TensorSpec> specs, std::span<Tensor> outputs) {
  KernelContext k{op, inputs, attrs, specs, outputs};
  invoke_kernel(op, k);
}

Tensors run_kernel(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  check_inputs(op, inputs);
  InferContext ic{op, inputs, attrs, {}};
  op.infer(ic);
  Tensors out;
  run_into(op, inputs, attrs, ic.outputs, out);
  return out;
}

Tensors dispatch(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  check_inputs(op, inputs);
  if (internal::t_observer) internal::t_observer(op, internal::t_observer_user);
  InferContext ic{op, inputs, attrs, {}};
  op.infer(ic);
  Tensors out;
  if (internal::Tracer* tr = internal::t_tracer) {
    out = tr->append(op, inputs, attrs, ic.outputs);
  } else {
    bool any_symbolic = false;
    for (auto& t : inputs) any_symbolic = any_symbolic || t.is_symbolic();
    if (any_symbolic) {
      auto& hooks = internal::dispatch_hooks();
      Tensors f = hooks.functional_call ? hooks.functional_call(op, inputs, attrs, ic.outputs) : Tensors();
      if (!f.empty()) {
        if (internal::g_active_tapes && op.grad) hooks.record_on_tapes(op, inputs, attrs, f);
        return f;
      }
    }
    for (auto& t : inputs) {
      if (t.is_symbolic()) {
        throw ValueError(std::string("[") + op.public_name + "] got a symbolic tensor (" + t.str() +
                         ") outside the trace that produced it; symbolic tensors only exist while a function "
                         "or model is being traced: call the traced function or model instead of using its "
                         "inner tensors");
      }
    }
    for (auto& s : ic.outputs) {
      if (!s.shape.is_fully_known()) {
        throw ShapeError(std::string("[") + op.public_name + "] inferred output shape " + s.shape.str() +
                         " has unknown dims for concrete inputs (an op inference bug)");
      }
    }
    run_into(op, inputs, attrs, ic.outputs, out);
    if (internal::t_result_observer)
      internal::t_result_observer(op, std::span<const Tensor>(out.data(), out.size()),
                                  internal::t_result_observer_user);
    if (internal::numerics_checked()) {
      const std::string& scope = internal::current_scope();
      internal::check_outputs_finite(op, inputs, std::span<const Tensor>(out.data(), out.size()),
                                     scope.empty() ? "run eagerly" : "in layer '" + scope + "', run eagerly");
    }
  }
  if (internal::g_active_tapes && op.grad) internal::dispatch_hooks().record_on_tapes(op, inputs, attrs, out);
  return out;
}

Tensor dispatch1(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  Tensors out = dispatch(op, inputs, attrs);
  return std::move(out[0]);
}

}  // namespace duet
