#pragma once
// The graph IR: nodes in creation order (a valid topological order that also keeps program order of
// stateful ops), data edges (Value = node output), control edges, and subgraphs owned by control-flow
// nodes through their attrs.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ops/op_def.h"

namespace duet::graph {

struct Node;
class Graph;

struct Value {
  Node* node = nullptr;
  int index = 0;
  friend bool operator==(const Value& a, const Value& b) { return a.node == b.node && a.index == b.index; }
};

struct Node : std::enable_shared_from_this<Node> {
  const OpDef* op = nullptr;
  std::vector<Value> inputs;
  std::vector<Node*> control_inputs;  // must run before this node (stateful program order)
  Attrs attrs;
  std::vector<TensorSpec> outputs;
  std::string name;  // unique in its graph: "MatMul_3"
  Graph* graph = nullptr;
  Tensor constant;     // Const nodes: the captured value
  int arg_index = -1;  // Placeholder nodes: position among the graph's arguments
  std::string scope;   // the layer (path) whose call created it, "" outside layers
  // Set by rewriting passes: the name of the original node whose value each output stands for (a fused
  // group's outputs stand for members). Empty: the node is original.
  std::vector<std::string> origin;
  // Nodes built outside any Graph (functional models) own the nodes they read, so a tensor keeps its history.
  std::vector<std::shared_ptr<Node>> holds;
};

struct PassStat {
  std::string pass;
  std::string what;  // "removed 3 nodes"
};

class Graph {
 public:
  // reason: why tensors of this graph are symbolic, for error messages ("function 'f' is being traced").
  Graph(std::string name, std::string reason) : name_(std::move(name)), reason_(std::move(reason)) {}
  const std::string& name() const { return name_; }
  const std::string& reason() const { return reason_; }

  // Adds a node (outputs inferred by the caller) and returns it.
  Node* add(const OpDef* op, std::vector<Value> inputs, Attrs attrs, std::vector<TensorSpec> outputs);
  Node* add_placeholder(const TensorSpec& spec);
  Node* add_constant(const Tensor& value);
  // The symbolic tensor for a node output (shares ownership of the node).
  Tensor symbolic(Value v) const;

  const std::vector<std::shared_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<std::shared_ptr<Node>>& mutable_nodes() { return nodes_; }
  const std::vector<Node*>& placeholders() const { return placeholders_; }
  std::vector<Value>& outputs() { return outputs_; }
  const std::vector<Value>& outputs() const { return outputs_; }
  std::vector<PassStat>& stats() { return stats_; }
  const std::vector<PassStat>& stats() const { return stats_; }

  // Drops nodes for which keep(node) is false (the caller guarantees nothing live uses them).
  void remove_if(const std::function<bool(const Node*)>& drop);
  // Replaces every use of `from` (inputs and graph outputs) with `to`.
  void replace_uses(Value from, Value to);
  // Rewrites that replace a group of nodes by one new node (appended by add()) call this once at the end:
  // each new node moves to where its group's last member was (`at`: last member -> new node), and the
  // `removed` nodes are dropped.
  void place_replacements(const std::unordered_map<const Node*, Node*>& at,
                          const std::unordered_set<const Node*>& removed);

  // A deep copy (subgraphs and callables in attrs are shared: they are immutable once compiled).
  std::shared_ptr<Graph> clone() const;

  // Structural checks (edges point to earlier nodes of this graph, arities, specs); throws on failure.
  void verify() const;
  // Deterministic text dump, and Graphviz DOT.
  std::string text() const;
  std::string dot() const;

 private:
  std::string name_;
  std::string reason_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::vector<Node*> placeholders_;
  std::vector<Value> outputs_;
  std::map<std::string, int> name_counts_;
  std::vector<PassStat> stats_;
};

// OpDefs of the structural ops (defined in graph.cpp).
const OpDef& placeholder_op();
const OpDef& const_op();

}  // namespace duet::graph
