#pragma once
// The single definition of a primitive op (docs/architecture.md, "The op contract"): eager execution, tracing,
// gradients and the graph passes all read this one struct. Properties passes need are traits, never name lists.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/small_vec.h"
#include "duet/attrs.h"
#include "duet/error.h"
#include "duet/tensor.h"
#include "kernels/kernel.h"

namespace duet {

enum OpTrait : std::uint32_t {
  kElementwise = 1u << 0,     // output[i] depends only on input[i] (after broadcasting); fusable
  kStateful = 1u << 1,        // reads or writes state: never folded, merged or removed; keeps program order
  kRandom = 1u << 2,          // draws random numbers (also stateful)
  kView = 1u << 3,            // the kernel creates its outputs itself (may alias an input buffer)
  kCommutative = 1u << 4,     // f(a, b) == f(b, a)
  kNotFoldable = 1u << 5,     // constant folding must not run it (e.g. huge outputs from tiny inputs)
  kStructural = 1u << 6,      // only a record in a functional model's graph (LayerCall); never dispatched
  kRunsGraphs = 1u << 7,      // runs sub-graphs or user code that may keep its inputs past the call (cond,
                              // while_loop, host functions): execution plans never lend it planned memory
  kChecksIntegers = 1u << 8,  // on integer inputs the kernel checks values and may throw (division by zero):
                              // fusion leaves such nodes out of integer groups, so the error names the
                              // tensors' own shapes rather than a block of a fused group
};

struct OpDef;
using Specs = SmallVec<TensorSpec, 2>;
using Tensors = SmallVec<Tensor, 4>;

// Shape/dtype inference: validates inputs and attrs, fills outputs. Works on concrete and symbolic
// inputs alike (symbolic shapes may have unknown dims).
struct InferContext {
  const OpDef& op;
  std::span<const Tensor> inputs;
  const Attrs& attrs;
  Specs outputs;

  const Shape& shape(std::size_t i) const;
  DType dtype(std::size_t i) const;
  void set_output(DType d, Shape s) { outputs.push_back(TensorSpec{d, std::move(s)}); }
  // Errors start with the op's public name: "[matmul] ...".
  [[noreturn]] void shape_error(const std::string& msg) const;
  [[noreturn]] void dtype_error(const std::string& msg) const;
  [[noreturn]] void value_error(const std::string& msg) const;
};

struct GradContext {
  std::span<const Tensor> inputs;
  std::span<const Tensor> outputs;
  std::span<const Tensor> grads;  // one per output (zeros where the output got no gradient)
  const Attrs& attrs;
  std::uint64_t needed = ~std::uint64_t{0};  // bit i: the tape wants input i's gradient

  // Expensive gradients (matmul, conv) skip inputs nobody asked for.
  bool needs(std::size_t i) const { return i >= 64 || ((needed >> i) & 1u) != 0; }
};

using InferFn = void (*)(InferContext&);
using KernelFn = void (*)(KernelContext&);
// Returns one gradient per input (an undefined Tensor where the input gets none). Written with public
// ops only, so gradients are themselves differentiable and traceable.
using GradFn = std::vector<Tensor> (*)(const GradContext&);
// Float32 kernel over one contiguous block, the fast path of fused elementwise groups: in[j] points at n
// values, or at a single value broadcast to all n when scalar[j]. out never aliases an input.
using BlockF32Fn = void (*)(const float* const* in, const bool* scalar, float* out, std::int64_t n);

struct OpDef {
  const char* name;         // PascalCase, as in graph dumps: "MatMul"
  const char* public_name;  // the user-facing function, as in error messages: "matmul"
  int num_inputs;           // -1: variadic
  InferFn infer;
  KernelFn kernel;
  GradFn grad;  // nullptr: not differentiable (outputs are constants to the tape)
  std::uint32_t traits;
  BlockF32Fn block_f32 = nullptr;  // elementwise ops only; nullptr: fused groups use `kernel`

  bool has(OpTrait t) const { return (traits & t) != 0; }
};

// All registered ops, in a stable order.
const std::vector<const OpDef*>& all_ops();
// nullptr when unknown.
const OpDef* find_op(std::string_view name);

// Runs (eager) or records (tracing) one op call; the tape records it either way.
Tensors dispatch(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs);
Tensor dispatch1(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs);
inline Tensor call(const OpDef& op, std::initializer_list<Tensor> inputs, const Attrs& attrs = {}) {
  return dispatch1(op, std::span<const Tensor>(inputs.begin(), inputs.size()), attrs);
}
// Infers and runs the kernel now, bypassing tracing and tapes (constant folding, host steps).
Tensors run_kernel(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs);
// Runs the kernel with output specs known in advance (execution plans of fully static graphs).
Tensors run_kernel_with_specs(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                              std::span<const TensorSpec> specs);
// Runs the kernel into outputs the caller already allocated with exactly `specs` (the memory plan of an
// execution plan); not for kView ops, which create their outputs themselves.
void run_kernel_into(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                     std::span<const TensorSpec> specs, std::span<Tensor> outputs);

namespace internal {

// Graph mode plugs in here: while a tracer is current, dispatch appends nodes instead of computing.
class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual Tensors append(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Specs specs) = 0;
};
Tracer* current_tracer();
void set_current_tracer(Tracer* t);

// Tapes on this thread (autodiff keeps the count; dispatch only records when it is non-zero).
extern thread_local int g_active_tapes;

// The layers above ops plug their behaviour into dispatch at start-up (a lower layer cannot call up; the
// build enforces it). Each hook is set once, by a static initializer of the module that provides it.
struct DispatchHooks {
  // autodiff: records an op call on every active tape that watches one of its inputs.
  void (*record_on_tapes)(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                          std::span<const Tensor> outputs) = nullptr;
  // graph: whether a variable may be created now (with the reason when not), and the eager value of a
  // symbolic initializer that depends on no function input (undefined otherwise).
  bool (*variable_creation_allowed)(std::string* why_not) = nullptr;
  Tensor (*evaluate_if_constant)(const Tensor& t) = nullptr;
  // layers: records an op applied to functional-model tensors (Input) outside any trace; returns no tensors
  // when the inputs are symbolic for another reason.
  Tensors (*functional_call)(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs,
                             Specs specs) = nullptr;
};
DispatchHooks& dispatch_hooks();

// Names the layer whose call() is running on this thread: traced nodes record it (Node::scope), and dumps,
// check_eager and check_numerics say which layer an op came from. Scopes nest ("model/dense_1").
class NameScope {
 public:
  explicit NameScope(const std::string& name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

 private:
  std::size_t saved_size_;
};
const std::string& current_scope();

// config::enable_check_numerics: whether every op's float outputs are checked for NaN/Inf, and the check
// (throws NumericsError naming the op, where it ran, and the shapes).
bool numerics_checked();
void check_outputs_finite(const OpDef& op, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                          const std::string& where);

// Test hook: called with every op dispatched on this thread (coverage of the op table).
using OpObserver = void (*)(const OpDef&, void* user);
void set_op_observer(OpObserver f, void* user);
// Called with the outputs of every op computed eagerly by dispatch on this thread (check_eager).
using ResultObserver = void (*)(const OpDef&, std::span<const Tensor> outputs, void* user);
void set_result_observer(ResultObserver f, void* user);

}  // namespace internal
}  // namespace duet
