#pragma once
// The tracer: while it is current, dispatch appends nodes to its graph instead of computing. Tensors
// from outside become inputs: concrete ones are captured as constants, symbolic ones of an enclosing
// graph (a cond branch reading a tensor of its function) become extra placeholders ("captures").
#include <unordered_map>

#include "graph/graph.h"

namespace duet::graph {

class GraphTracer : public internal::Tracer {
 public:
  GraphTracer(Graph& g, GraphTracer* parent);
  ~GraphTracer() override;
  GraphTracer(const GraphTracer&) = delete;
  GraphTracer& operator=(const GraphTracer&) = delete;

  Tensors append(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Specs specs) override;
  // The value of t inside this graph (capturing it when it comes from outside).
  Value value_of(const Tensor& t);
  Graph& graph() { return g_; }
  // Symbolic tensors of the enclosing graph captured by this one, in placeholder order after the
  // explicit arguments.
  const std::vector<Tensor>& captured() const { return captured_; }
  GraphTracer* parent() const { return parent_; }

  // Variables may be created only on a function's first trace (TensorFlow's rule).
  bool allow_variable_creation = true;

  // A point in the trace to return to when a partial trace is abandoned (a layer's call() that turned out
  // to read values): rollback drops every node appended since, so none of its side effects stay in the
  // graph. Placeholders for captured outer values stay (they are arguments by then).
  struct Checkpoint {
    std::size_t nodes;
    Node* last_stateful;
  };
  Checkpoint checkpoint() const { return {g_.nodes().size(), last_stateful_}; }
  void rollback(const Checkpoint& c);

 private:
  Graph& g_;
  GraphTracer* parent_;
  internal::Tracer* saved_;
  std::unordered_map<const TensorImpl*, Value> consts_;
  std::map<std::pair<const Node*, int>, Value> captures_;
  std::vector<Tensor> captured_;
  std::vector<Tensor> keep_alive_;
  Node* last_stateful_ = nullptr;
};

// Thrown while tracing when the trace cannot go on without running the call on real data first (a host-step
// layer without compute_output_shape learns its output shapes from its first real call): the function runs
// that call eagerly and traces on the next one.
struct ConcreteRunNeeded : std::exception {
  explicit ConcreteRunNeeded(std::string w) : why(std::move(w)) {}
  const char* what() const noexcept override { return why.c_str(); }
  std::string why;
};

// The innermost graph tracer on this thread, or nullptr.
GraphTracer* current_graph_tracer();

// Suspends tracing (the TensorFlow init_scope): ops run eagerly while it lives.
class EagerScope {
 public:
  EagerScope();
  ~EagerScope();
  EagerScope(const EagerScope&) = delete;
  EagerScope& operator=(const EagerScope&) = delete;

 private:
  internal::Tracer* saved_;
  GraphTracer* saved_graph_;
};

// Evaluates a symbolic tensor eagerly when it depends on no placeholder (e.g. a variable initializer
// written inside a traced function); returns an undefined tensor otherwise.
Tensor try_evaluate(const Tensor& t);

}  // namespace duet::graph
