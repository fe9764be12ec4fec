#include "graph/graph.h"

#include <functional>
#include <set>
#include <sstream>
#include <unordered_map>

#include <algorithm>
#include "core/tensor_impl.h"

#include "ops/registry.h"

namespace duet::graph {
namespace {

void infer_none(InferContext&) {}
void no_kernel(KernelContext& k) {
  throw StateError(std::string("[") + k.op.public_name + "] is fed by the executor and has no kernel");
}

const OpDef kPlaceholder{.name = "Placeholder",
                         .public_name = "placeholder",
                         .num_inputs = 0,
                         .infer = infer_none,
                         .kernel = no_kernel,
                         .grad = nullptr,
                         .traits = 0};
const OpDef kConst{.name = "Const",
                   .public_name = "constant",
                   .num_inputs = 0,
                   .infer = infer_none,
                   .kernel = no_kernel,
                   .grad = nullptr,
                   .traits = 0};

std::string spec_str(const TensorSpec& s) { return std::string(dtype_name(s.dtype)) + " " + s.shape.str(); }

}  // namespace

const OpDef& placeholder_op() { return kPlaceholder; }
const OpDef& const_op() { return kConst; }

Node* Graph::add(const OpDef* op, std::vector<Value> inputs, Attrs attrs, std::vector<TensorSpec> outputs) {
  auto n = std::make_shared<Node>();
  n->op = op;
  n->inputs = std::move(inputs);
  n->attrs = std::move(attrs);
  n->outputs = std::move(outputs);
  n->graph = this;
  int k = name_counts_[op->name]++;
  n->name = k == 0 ? std::string(op->name) : std::string(op->name) + "_" + std::to_string(k);
  nodes_.push_back(n);
  return n.get();
}

Node* Graph::add_placeholder(const TensorSpec& spec) {
  Node* n = add(&kPlaceholder, {}, {}, {spec});
  n->arg_index = static_cast<int>(placeholders_.size());
  placeholders_.push_back(n);
  return n;
}

Node* Graph::add_constant(const Tensor& value) {
  Node* n = add(&kConst, {}, {}, {value.spec()});
  n->constant = value;
  return n;
}

Tensor Graph::symbolic(Value v) const {
  const TensorSpec& s = v.node->outputs[static_cast<std::size_t>(v.index)];
  return make_symbolic(s.dtype, s.shape, v.node->shared_from_this(), v.index);
}

void Graph::remove_if(const std::function<bool(const Node*)>& drop) {
  std::vector<std::shared_ptr<Node>> kept;
  for (auto& n : nodes_)
    if (!drop(n.get())) kept.push_back(n);
  nodes_.swap(kept);
  std::set<const Node*> alive;
  for (auto& n : nodes_) alive.insert(n.get());
  for (auto& n : nodes_) {
    auto& ci = n->control_inputs;
    ci.erase(std::remove_if(ci.begin(), ci.end(), [&](Node* c) { return !alive.count(c); }), ci.end());
  }
}

std::shared_ptr<Graph> Graph::clone() const {
  auto g = std::make_shared<Graph>(name_, reason_);
  std::unordered_map<const Node*, Node*> map;
  for (const auto& n : nodes_) {
    auto c = std::make_shared<Node>(*n);  // copies op, attrs, specs, name, constant, scope, origin
    c->graph = g.get();
    for (auto& v : c->inputs) v.node = map.at(v.node);
    for (auto& ci : c->control_inputs) ci = map.at(ci);
    map[n.get()] = c.get();
    g->nodes_.push_back(c);
  }
  for (const Node* p : placeholders_) g->placeholders_.push_back(map.at(p));
  for (const auto& v : outputs_) g->outputs_.push_back({map.at(v.node), v.index});
  g->name_counts_ = name_counts_;
  g->stats_ = stats_;
  return g;
}

void Graph::place_replacements(const std::unordered_map<const Node*, Node*>& at,
                               const std::unordered_set<const Node*>& removed) {
  std::unordered_set<const Node*> fresh;
  for (const auto& [last, f] : at) fresh.insert(f);
  std::vector<std::shared_ptr<Node>> order;
  for (const auto& sp : nodes_) {
    if (fresh.count(sp.get())) continue;
    if (!removed.count(sp.get())) order.push_back(sp);
    auto it = at.find(sp.get());
    if (it != at.end()) order.push_back(it->second->shared_from_this());
  }
  nodes_.swap(order);
}

void Graph::replace_uses(Value from, Value to) {
  for (auto& n : nodes_)
    for (auto& in : n->inputs)
      if (in == from) in = to;
  for (auto& o : outputs_)
    if (o == from) o = to;
}

void Graph::verify() const {
  std::unordered_map<const Node*, std::size_t> pos;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node* n = nodes_[i].get();
    auto fail = [&](const std::string& why) {
      throw StateError("[graph verifier] graph '" + name_ + "', node " + n->name + ": " + why);
    };
    if (n->graph != this) fail("belongs to another graph");
    if (n->op->num_inputs >= 0 && n->op != &kPlaceholder && n->op != &kConst &&
        static_cast<int>(n->inputs.size()) != n->op->num_inputs) {
      fail("has " + std::to_string(n->inputs.size()) + " inputs, op expects " + std::to_string(n->op->num_inputs));
    }
    for (const Value& v : n->inputs) {
      auto it = pos.find(v.node);
      if (it == pos.end()) fail("uses a value of a node that is not earlier in the graph");
      if (v.index < 0 || v.index >= static_cast<int>(v.node->outputs.size()))
        fail("uses a missing output of " + v.node->name);
    }
    for (const Node* c : n->control_inputs)
      if (!pos.count(c)) fail("has a control input that is not earlier in the graph");
    if (n->op == &kConst && !n->constant.defined()) fail("is a Const without a value");
    pos[n] = i;
  }
  for (const Value& v : outputs_)
    if (!pos.count(v.node))
      throw StateError("[graph verifier] graph '" + name_ + "' returns a value of a removed node");
}

std::string Graph::text() const {
  std::unordered_map<const Node*, int> id;
  for (std::size_t i = 0; i < nodes_.size(); ++i) id[nodes_[i].get()] = static_cast<int>(i);
  auto ref = [&](const Value& v) {
    std::string s = "%" + std::to_string(id.at(v.node));
    if (v.node->outputs.size() > 1) s += ":" + std::to_string(v.index);
    return s;
  };
  std::ostringstream os;
  os << "graph " << name_ << " (" << nodes_.size() << " nodes)\n";
  for (const auto& st : stats_) os << "  # " << st.pass << ": " << st.what << "\n";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node* n = nodes_[i].get();
    os << "  %" << i << " = " << n->name << "(";
    bool first = true;
    for (const Value& v : n->inputs) {
      os << (first ? "" : ", ") << ref(v);
      first = false;
    }
    if (!n->attrs.empty()) os << (first ? "" : "; ") << n->attrs.str();
    if (n->op == &kPlaceholder) os << "arg " << n->arg_index;
    if (n->op == &kConst)
      os << (n->constant.num_elements() <= 4 ? n->constant.str() : "<" + n->constant.shape().str() + ">");
    os << ")";
    if (!n->control_inputs.empty()) {
      os << " after";
      for (const Node* c : n->control_inputs) os << " %" << id.at(c);
    }
    os << " :";
    for (const auto& s : n->outputs) os << " " << spec_str(s);
    os << "\n";
  }
  os << "  return";
  for (const Value& v : outputs_) os << " " << ref(v);
  os << "\n";
  return os.str();
}

std::string Graph::dot() const {
  std::unordered_map<const Node*, int> id;
  for (std::size_t i = 0; i < nodes_.size(); ++i) id[nodes_[i].get()] = static_cast<int>(i);
  std::ostringstream os;
  os << "digraph \"" << name_ << "\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node* n = nodes_[i].get();
    std::string shape = n->op == &kPlaceholder  ? "ellipse"
                        : n->op == &kConst      ? "note"
                        : n->op->has(kStateful) ? "box3d"
                                                : "box";
    os << "  n" << i << " [label=\"" << n->name << "\\n";
    for (const auto& s : n->outputs) os << spec_str(s) << " ";
    os << "\", shape=" << shape << "];\n";
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node* n = nodes_[i].get();
    for (const Value& v : n->inputs) os << "  n" << id.at(v.node) << " -> n" << i << ";\n";
    for (const Node* c : n->control_inputs) os << "  n" << id.at(c) << " -> n" << i << " [style=dashed];\n";
  }
  for (std::size_t k = 0; k < outputs_.size(); ++k) {
    os << "  out" << k << " [label=\"output " << k << "\", shape=plaintext];\n";
    os << "  n" << id.at(outputs_[k].node) << " -> out" << k << ";\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace duet::graph

namespace duet {
static void register_graph_structural_ops(std::vector<const OpDef*>& r) {
  r.push_back(&graph::placeholder_op());
  r.push_back(&graph::const_op());
}
const OpRegistration kRegisterGraphStructuralOps{register_graph_structural_ops};
}  // namespace duet
