#include "graph/tracer.h"

#include <functional>
#include <set>
#include <unordered_set>

#include "core/symbolic_hook.h"
#include "core/tensor_impl.h"

namespace duet::graph {
namespace {
thread_local GraphTracer* t_graph_tracer = nullptr;
}

GraphTracer* current_graph_tracer() { return t_graph_tracer; }

GraphTracer::GraphTracer(Graph& g, GraphTracer* parent) : g_(g), parent_(parent), saved_(internal::current_tracer()) {
  internal::set_current_tracer(this);
  t_graph_tracer = this;
}

GraphTracer::~GraphTracer() {
  internal::set_current_tracer(saved_);
  t_graph_tracer = parent_;
}

Value GraphTracer::value_of(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (!impl->node) {
    auto it = consts_.find(impl);
    if (it != consts_.end()) return it->second;
    Value v{g_.add_constant(t), 0};
    consts_.emplace(impl, v);
    keep_alive_.push_back(t);
    return v;
  }
  Node* n = impl->node.get();
  if (n->graph == &g_) return {n, impl->out_index};
  auto key = std::make_pair(static_cast<const Node*>(n), impl->out_index);
  auto it = captures_.find(key);
  if (it != captures_.end()) return it->second;
  // Only tensors of an enclosing trace can be captured.
  bool enclosing = false;
  for (GraphTracer* p = parent_; p; p = p->parent_) enclosing = enclosing || &p->graph() == n->graph;
  if (!enclosing) {
    throw ValueError("[" + g_.name() + "] uses the symbolic tensor " + t.str() + " of '" + n->graph->name() +
                     "', which is not being traced any more; return it from that function instead of keeping it");
  }
  if (parent_ && n->graph != &parent_->graph()) parent_->value_of(t);  // capture through each level
  Value v{g_.add_placeholder(t.spec()), 0};
  captures_.emplace(key, v);
  captured_.push_back(t);
  return v;
}

Tensors GraphTracer::append(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Specs specs) {
  std::vector<Value> vals;
  vals.reserve(inputs.size());
  for (const Tensor& t : inputs) vals.push_back(value_of(t));
  Node* n = g_.add(&op, std::move(vals), attrs, std::vector<TensorSpec>(specs.begin(), specs.end()));
  n->scope = internal::current_scope();
  if (op.has(kStateful)) {
    if (last_stateful_) n->control_inputs.push_back(last_stateful_);  // program order of side effects
    last_stateful_ = n;
  }
  Tensors out;
  for (std::size_t i = 0; i < n->outputs.size(); ++i) out.push_back(g_.symbolic({n, static_cast<int>(i)}));
  return out;
}

void GraphTracer::rollback(const Checkpoint& c) {
  std::unordered_set<const Node*> dropped;
  const auto& nodes = g_.nodes();
  for (std::size_t i = c.nodes; i < nodes.size(); ++i)
    if (nodes[i]->op != &placeholder_op()) dropped.insert(nodes[i].get());
  if (dropped.empty()) return;
  for (auto it = consts_.begin(); it != consts_.end();)
    it = dropped.count(it->second.node) ? consts_.erase(it) : std::next(it);
  g_.remove_if([&](const Node* n) { return dropped.count(n) != 0; });
  last_stateful_ = c.last_stateful;
}

EagerScope::EagerScope() : saved_(internal::current_tracer()), saved_graph_(t_graph_tracer) {
  internal::set_current_tracer(nullptr);
  t_graph_tracer = nullptr;
}

EagerScope::~EagerScope() {
  internal::set_current_tracer(saved_);
  t_graph_tracer = saved_graph_;
}

Tensor try_evaluate(const Tensor& t) {
  if (!t.is_symbolic()) return t;
  std::map<std::pair<const Node*, int>, Tensor> memo;
  std::function<Tensor(const Value&)> eval = [&](const Value& v) -> Tensor {
    auto key = std::make_pair(static_cast<const Node*>(v.node), v.index);
    auto it = memo.find(key);
    if (it != memo.end()) return it->second;
    const Node* n = v.node;
    Tensor r;
    if (n->op == &const_op()) {
      r = n->constant;
    } else if (n->op == &placeholder_op()) {
      return Tensor();
    } else {
      std::vector<Tensor> ins;
      for (const Value& in : n->inputs) {
        Tensor x = eval(in);
        if (!x.defined()) return Tensor();
        ins.push_back(x);
      }
      Tensors outs = run_kernel(*n->op, ins, n->attrs);
      for (std::size_t i = 0; i < outs.size(); ++i) memo[{n, static_cast<int>(i)}] = outs[i];
      return outs[static_cast<std::size_t>(v.index)];
    }
    memo[key] = r;
    return r;
  };
  EagerScope eager;
  return eval({t.impl()->node.get(), t.impl()->out_index});
}

}  // namespace duet::graph

namespace duet::internal {
namespace {

[[noreturn]] void throw_symbolic_value_error(const Tensor& t, const char* what) {
  const graph::Node* n = t.impl()->node.get();
  throw SymbolicValueError(
      std::string("[") + what + "] cannot read the value of the symbolic tensor " + n->name + " (shape " +
      t.shape().str() + ", " + dtype_name(t.dtype()) + "): it is symbolic because " + n->graph->reason() +
      ", and values exist only when the graph runs. Instead: branch on it with duet::cond or duet::while_loop; "
      "run C++ code on its value with duet::host_function; or debug eagerly with config::run_functions_eagerly(true)");
}

std::string symbolic_op_name(const Tensor& t) { return t.impl()->node->name; }

bool variable_creation_allowed(std::string* why_not) {
  for (graph::GraphTracer* t = graph::current_graph_tracer(); t; t = t->parent()) {
    if (!t->allow_variable_creation) {
      if (why_not) *why_not = "while retracing '" + t->graph().name() + "'";
      return false;
    }
  }
  return true;
}

Tensor evaluate_if_constant(const Tensor& t) { return graph::try_evaluate(t); }

// Plugs the graph module into dispatch and into Tensor's value reads (lower layers cannot call up).
const bool kGraphHooked = [] {
  auto& h = dispatch_hooks();
  h.variable_creation_allowed = &variable_creation_allowed;
  h.evaluate_if_constant = &evaluate_if_constant;
  symbolic_hooks().throw_value_error = &throw_symbolic_value_error;
  symbolic_hooks().op_name = &symbolic_op_name;
  return true;
}();
}  // namespace

}  // namespace duet::internal
