#include "function/subgraph.h"

#include <unordered_map>

#include "autodiff/vjp.h"
#include "duet/ops.h"
#include "passes/pass.h"

namespace duet::graph {

Subgraph trace_subgraph(const std::string& name, const std::vector<TensorSpec>& arg_specs,
                        const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn) {
  GraphTracer* outer = current_graph_tracer();
  std::string reason = outer ? outer->graph().reason() : "'" + name + "' is being traced";
  Subgraph s;
  s.graph = std::make_shared<Graph>(name, reason);
  {
    GraphTracer tracer(*s.graph, outer);
    tracer.allow_variable_creation = outer ? outer->allow_variable_creation : true;
    std::vector<Tensor> args;
    for (const auto& spec : arg_specs) args.push_back(s.graph->symbolic({s.graph->add_placeholder(spec), 0}));
    std::vector<Tensor> outs = fn(args);
    for (const Tensor& o : outs) {
      if (!o.defined()) throw ValueError("[" + name + "] returned an undefined Tensor handle");
      s.graph->outputs().push_back(tracer.value_of(o));
      s.outputs.push_back(o.spec());
    }
    s.captured = tracer.captured();
  }
  return s;
}

void compile(Subgraph& s) {
  // No fusion in subgraphs: gradients replay them op by op through the tape.
  passes::optimize(*s.graph, PassOptions{.fusion = false}, false);
  s.plan = exec::Plan::build(s.graph);
}

std::vector<Tensor> replay(const Graph& g, const std::vector<Tensor>& args) {
  std::unordered_map<const Node*, std::vector<Tensor>> vals;
  auto get = [&](const Value& v) { return vals.at(v.node)[static_cast<std::size_t>(v.index)]; };
  for (const auto& sp : g.nodes()) {
    const Node* n = sp.get();
    if (n->op == &placeholder_op()) {
      vals[n] = {args.at(static_cast<std::size_t>(n->arg_index))};
    } else if (n->op == &const_op()) {
      vals[n] = {n->constant};
    } else {
      std::vector<Tensor> ins;
      for (const Value& v : n->inputs) ins.push_back(get(v));
      Tensors outs = dispatch(*n->op, ins, n->attrs);
      vals[n] = std::vector<Tensor>(outs.begin(), outs.end());
    }
  }
  std::vector<Tensor> outs;
  for (const Value& v : g.outputs()) outs.push_back(get(v));
  return outs;
}

std::vector<Tensor> graph_vjp(const Graph& g, const std::vector<Tensor>& args, const std::vector<Tensor>& out_grads,
                              const std::vector<bool>& want) {
  std::vector<Source> sources;
  for (std::size_t i = 0; i < args.size(); ++i)
    if (want[i]) sources.emplace_back(args[i]);
  auto grads = internal::vjp([&] { return replay(g, args); }, sources, out_grads);
  std::vector<Tensor> result(args.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < args.size(); ++i)
    if (want[i]) result[i] = grads[k++];
  return result;
}

}  // namespace duet::graph
