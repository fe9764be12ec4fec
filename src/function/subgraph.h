#pragma once
// Helpers shared by cond, while_loop and host functions: tracing a callable into a subgraph of the
// current trace, compiling it, and replaying a subgraph's ops (to differentiate through it).
#include <functional>
#include <optional>

#include "exec/plan.h"
#include "graph/tracer.h"

namespace duet::graph {

struct Subgraph {
  std::shared_ptr<Graph> graph;
  std::shared_ptr<exec::Plan> plan;
  std::vector<Tensor> captured;  // outer tensors fed after the explicit arguments
  std::vector<TensorSpec> outputs;
};

// Traces fn(args) into a new graph nested in the current trace; args get placeholders of the given specs.
Subgraph trace_subgraph(const std::string& name, const std::vector<TensorSpec>& arg_specs,
                        const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn);
// Optimizes and compiles (after the caller is done editing the graph).
void compile(Subgraph& s);

// Re-emits g's ops through dispatch on the given argument values (placeholders in order), returning its
// outputs: inside a trace this inlines g, and tapes record every op.
std::vector<Tensor> replay(const Graph& g, const std::vector<Tensor>& args);

// Vector-Jacobian product of a graph: d(sum_k outputs_k * out_grads_k)/d args for the args flagged in
// `want` (zeros where unconnected; undefined for the others).
std::vector<Tensor> graph_vjp(const Graph& g, const std::vector<Tensor>& args, const std::vector<Tensor>& out_grads,
                              const std::vector<bool>& want);

// What a saved graph needs to know of a control-flow node (defined with cond/while_loop): Cond has {then,
// else}; While has {cond, body}, its loop-variable count and maximum_iterations. nullopt for other nodes.
// The control-flow and host-function ops (saved graphs name them; passes read their traits).
const OpDef& cond_op();
const OpDef& while_op();
const OpDef& host_function_op();

struct ControlFlowParts {
  const Subgraph* first = nullptr;
  const Subgraph* second = nullptr;
  std::size_t n_vars = 0;
  std::int64_t max_iterations = 0;
};
std::optional<ControlFlowParts> control_flow_parts(const Node& n);

// The registered name of a HostFunction node's callable (register_host_function), nullopt when the node
// was built from a C++ callable; throws for other nodes.
std::optional<std::string> registered_host_name(const Node& n);

}  // namespace duet::graph
