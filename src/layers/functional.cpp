#include "layers/functional.h"

#include <atomic>
#include <set>
#include <unordered_map>

#include "core/tensor_impl.h"
#include "duet/ops.h"
#include "graph/tracer.h"
#include "ops/op_def.h"
#include "ops/registry.h"

namespace duet {
struct LayerAccess {
  static void build(Layer& l, const std::vector<Tensor>& xs) { l.ensure_built(xs); }
};
}  // namespace duet

namespace duet::functional {
namespace {

// Holds the layer of a LayerCall node: shared when the layer is (a dropped model frees it), borrowed for a
// layer on the stack (it outlives the models built from it, as it must in C++).
struct LayerHolder : Callable {
  std::shared_ptr<Layer> layer;
  bool training = false;
  std::string describe() const override { return "layer:" + layer->name(); }
};

void infer_layer_call(InferContext&) {}
void layer_call_kernel(KernelContext& k) {
  throw StateError("[" + k.attrs.fn("layer")->describe() +
                   "] a LayerCall node is run by its model, not by an executor");
}
const OpDef kLayerCall{.name = "LayerCall",
                       .public_name = "layer call",
                       .num_inputs = -1,
                       .infer = infer_layer_call,
                       .kernel = layer_call_kernel,
                       .grad = nullptr,
                       .traits = kNotFoldable | kStructural};

// Functional nodes point here (Node::graph) so their tensors say why they are symbolic; it stores no nodes.
graph::Graph& marker() {
  static auto* g = new graph::Graph("functional", "it comes from a functional Input (the model is being built)");
  return *g;
}

std::atomic<std::int64_t> g_inputs{0}, g_ops{0};
thread_local int t_building = 0;

struct NodeInputs {
  std::vector<graph::Value> values;
  std::vector<std::shared_ptr<graph::Node>> holds;
};

void add_input(NodeInputs& in, const Tensor& t, const std::string& who) {
  if (!t.is_symbolic()) {
    auto c = std::make_shared<graph::Node>();
    c->op = &graph::const_op();
    c->graph = &marker();
    c->constant = t;
    c->outputs = {t.spec()};
    c->name = "Const_" + std::to_string(++g_ops);
    in.values.push_back({c.get(), 0});
    in.holds.push_back(std::move(c));
    return;
  }
  const std::shared_ptr<graph::Node>& n = t.impl()->node;
  if (n->graph != &marker()) {
    throw ValueError("[" + who + "] mixes a functional-model tensor with " + t.str() +
                     ", which is symbolic for another reason; build models from Input tensors only");
  }
  in.values.push_back({n.get(), t.impl()->out_index});
  if (std::find(in.holds.begin(), in.holds.end(), n) == in.holds.end()) in.holds.push_back(n);
}

std::vector<Tensor> add_node(const OpDef* op, NodeInputs in, Attrs attrs, std::vector<TensorSpec> specs,
                             std::string name) {
  auto n = std::make_shared<graph::Node>();
  n->op = op;
  n->graph = &marker();
  n->inputs = std::move(in.values);
  n->holds = std::move(in.holds);
  n->attrs = std::move(attrs);
  n->outputs = std::move(specs);
  n->name = std::move(name);
  std::vector<Tensor> outs;
  for (std::size_t i = 0; i < n->outputs.size(); ++i)
    outs.push_back(make_symbolic(n->outputs[i].dtype, n->outputs[i].shape, n, static_cast<int>(i)));
  return outs;
}

}  // namespace

bool is_functional(const Tensor& t) { return t.defined() && t.impl()->node && t.impl()->node->graph == &marker(); }
bool building() { return t_building > 0; }

Layer* layer_of(const graph::Node* n) {
  if (n->op != &kLayerCall) return nullptr;
  return static_cast<const LayerHolder&>(*n->attrs.fn("layer")).layer.get();
}

Tensor new_input(const TensorSpec& spec, const std::string& name) {
  auto n = std::make_shared<graph::Node>();
  n->op = &graph::placeholder_op();
  n->graph = &marker();
  n->outputs = {spec};
  n->name = name.empty() ? "input_" + std::to_string(++g_inputs) : name;
  return make_symbolic(spec.dtype, spec.shape, n, 0);
}

std::vector<Tensor> record_call(Layer& layer, const std::vector<Tensor>& xs, bool training) {
  NodeInputs in;
  for (const Tensor& x : xs) add_input(in, x, layer.name());
  // Output specs: compute_output_shape when the layer has one (after building it), else trace the call
  // once on placeholders of the input specs (which also builds it).
  std::vector<TensorSpec> specs;
  std::vector<Shape> in_shapes;
  for (const Tensor& x : xs) in_shapes.push_back(x.shape());
  if (auto declared = layer.compute_output_shape(in_shapes)) {
    LayerAccess::build(layer, xs);
    for (const auto& s : *declared) specs.push_back({xs[0].dtype(), s});
  } else {
    graph::Graph scratch(layer.name(), "a model is being built from Input tensors (layer '" + layer.name() +
                                           "' is traced once to find its output shapes)");
    graph::GraphTracer tracer(scratch, nullptr);
    struct Building {
      Building() { ++t_building; }
      ~Building() { --t_building; }
    } building;
    std::vector<Tensor> sym;
    for (const Tensor& x : xs) sym.push_back(scratch.symbolic({scratch.add_placeholder(x.spec()), 0}));
    for (const Tensor& o : layer(sym, training)) specs.push_back(o.spec());
  }
  auto holder = std::make_shared<LayerHolder>();
  holder->layer = layer.weak_from_this().lock();
  if (!holder->layer)
    holder->layer = std::shared_ptr<Layer>(std::shared_ptr<Layer>(), &layer);  // on the stack: borrowed
  holder->training = training;
  return add_node(&kLayerCall, std::move(in), {{"layer", FnRef(holder)}}, std::move(specs), layer.name());
}

Program extract(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& model) {
  Program p;
  std::set<const graph::Node*> input_set;
  for (const Tensor& t : inputs) {
    if (!is_functional(t) || t.impl()->node->op != &graph::placeholder_op()) {
      throw ValueError("[" + model + "] model inputs must be Input tensors, got " + t.str());
    }
    p.inputs.push_back(t.impl()->node.get());
    input_set.insert(t.impl()->node.get());
  }
  // Post-order walk back from the outputs: every node comes after the nodes it reads.
  std::set<const graph::Node*> done;
  std::vector<std::pair<const graph::Node*, std::size_t>> stack;
  for (const Tensor& t : outputs) {
    if (!is_functional(t))
      throw ValueError("[" + model + "] outputs must be computed from Input tensors, got " + t.str());
    const graph::Node* root = t.impl()->node.get();
    p.outputs.push_back({const_cast<graph::Node*>(root), t.impl()->out_index});
    if (!done.count(root)) stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->inputs.size()) {
        const graph::Node* in = n->inputs[next++].node;
        if (!done.count(in)) stack.emplace_back(in, 0);
        continue;
      }
      const graph::Node* finished = n;
      stack.pop_back();
      if (!done.insert(finished).second) continue;
      if (finished->op == &graph::placeholder_op() && !input_set.count(finished)) {
        throw ValueError("[" + model + "] the outputs depend on the Input '" + finished->name +
                         "', which is not among the model's inputs; pass it in Model(inputs, outputs)");
      }
      p.keep.push_back(const_cast<graph::Node*>(finished)->shared_from_this());
      if (finished->op != &graph::placeholder_op()) p.nodes.push_back(finished);
    }
  }
  return p;
}

std::vector<Tensor> run(const Program& p, const std::vector<Tensor>& xs, bool training, const std::string& model) {
  if (xs.size() != p.inputs.size()) {
    throw ValueError("[" + model + "] expects " + std::to_string(p.inputs.size()) + " inputs, got " +
                     std::to_string(xs.size()));
  }
  std::unordered_map<const graph::Node*, std::vector<Tensor>> vals;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const TensorSpec& want = p.inputs[i]->outputs[0];
    if ((xs[i].dtype() != want.dtype && !is_floating(want.dtype)) || !want.shape.compatible_with(xs[i].shape())) {
      throw ShapeError("[" + model + "] input " + std::to_string(i) + " ('" + p.inputs[i]->name + "') expects " +
                       dtype_name(want.dtype) + " " + want.shape.str() + ", got " + dtype_name(xs[i].dtype()) + " " +
                       xs[i].shape().str());
    }
    // As Keras: an input is converted to a floating Input's dtype.
    vals[p.inputs[i]] = {xs[i].dtype() == want.dtype ? xs[i] : cast(xs[i], want.dtype)};
  }
  auto get = [&](const graph::Value& v) { return vals.at(v.node)[static_cast<std::size_t>(v.index)]; };
  for (const graph::Node* n : p.nodes) {
    std::vector<Tensor> ins;
    for (const auto& v : n->inputs) ins.push_back(get(v));
    if (Layer* l = layer_of(n)) {
      std::vector<Tensor> outs = (*l)(ins, training);
      if (outs.size() != n->outputs.size()) {
        throw ValueError("[" + model + "] layer '" + l->name() + "' returned " + std::to_string(outs.size()) +
                         " tensors; when the model was built it returned " + std::to_string(n->outputs.size()));
      }
      for (std::size_t i = 0; i < outs.size(); ++i) {
        const TensorSpec& want = n->outputs[i];
        if (outs[i].dtype() != want.dtype || !want.shape.compatible_with(outs[i].shape())) {
          auto err = std::string("[") + model + "] layer '" + l->name() + "' returned " + dtype_name(outs[i].dtype()) +
                     " " + outs[i].shape().str() + " for output " + std::to_string(i) +
                     ", but when the model was built it returned " + dtype_name(want.dtype) + " " + want.shape.str();
          if (outs[i].dtype() != want.dtype) throw DTypeError(err + "; cast() inside the layer to keep one dtype");
          throw ShapeError(err);
        }
      }
      vals[n] = std::move(outs);
    } else if (n->op == &graph::const_op()) {
      vals[n] = {n->constant};
    } else {
      Tensors outs = dispatch(*n->op, ins, n->attrs);
      vals[n] = std::vector<Tensor>(outs.begin(), outs.end());
    }
  }
  std::vector<Tensor> outs;
  for (const auto& v : p.outputs) outs.push_back(get(v));
  return outs;
}

}  // namespace duet::functional

namespace duet {

// Ops applied directly to functional tensors (x * 2 between layers) become nodes of the model.
namespace {
Tensors append_to_functional_graph(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Specs specs) {
  for (const Tensor& t : inputs)
    if (t.is_symbolic() && !functional::is_functional(t)) return {};
  functional::NodeInputs in;
  for (const Tensor& t : inputs) functional::add_input(in, t, op.public_name);
  auto outs = functional::add_node(&op, std::move(in), attrs, std::vector<TensorSpec>(specs.begin(), specs.end()),
                                   std::string(op.name) + "_" + std::to_string(++functional::g_ops));
  Tensors r;
  for (auto& t : outs) r.push_back(std::move(t));
  return r;
}

const bool kFunctionalHooked = [] {
  internal::dispatch_hooks().functional_call = &append_to_functional_graph;
  return true;
}();
}  // namespace

static void register_layer_ops(std::vector<const OpDef*>& r) { r.push_back(&functional::kLayerCall); }
const OpRegistration kRegisterLayerOps{register_layer_ops};

}  // namespace duet
