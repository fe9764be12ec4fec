#include "layers/functional.h"

#include <set>
#include <unordered_map>

#include "core/tensor_impl.h"
#include "graph/tracer.h"
#include "ops/op_def.h"
#include "ops/registry.h"

namespace duet {
struct LayerCallAccess {
  static void build(Layer& l, const std::vector<Tensor>& xs) { l.ensure_built(xs); }
};
}  // namespace duet

namespace duet::functional {
namespace {

struct LayerHolder : Callable {
  std::shared_ptr<Layer> layer;
  bool training = false;
  std::string describe() const override { return "layer:" + layer->name(); }
};

void infer_layer_call(InferContext&) {}
void layer_call_kernel(KernelContext& k) {
  throw StateError("[" + k.attrs.fn("layer")->describe() + "] a LayerCall node is run by its model, not by an executor");
}
const OpDef kLayerCall{"LayerCall", "layer call", -1, infer_layer_call, layer_call_kernel, nullptr, kNotFoldable | kStructural};

graph::Graph& the_graph() {
  // Never destroyed: symbolic model tensors may outlive static destruction order.
  static auto* g = new graph::Graph("functional", "it comes from a functional Input (the model is being built)");
  return *g;
}

graph::Value value_in_graph(const Tensor& t, const std::string& who) {
  const graph::Node* n = t.impl()->node.get();
  if (!n || n->graph != &the_graph()) {
    throw ValueError("[" + who + "] mixes a functional-model tensor with " + t.str() +
                     ", which is symbolic for another reason; build models from Input tensors only");
  }
  return {const_cast<graph::Node*>(n), t.impl()->out_index};
}

}  // namespace

bool is_functional(const Tensor& t) { return t.defined() && t.impl()->node && t.impl()->node->graph == &the_graph(); }

Layer* layer_of(const graph::Node* n) {
  if (n->op != &kLayerCall) return nullptr;
  return static_cast<const LayerHolder&>(*n->attrs.fn("layer")).layer.get();
}

Tensor new_input(const TensorSpec& spec, const std::string& name) {
  graph::Graph& g = the_graph();
  graph::Node* n = g.add_placeholder(spec);
  if (!name.empty()) n->name = name;
  return g.symbolic({n, 0});
}

std::vector<Tensor> record_call(Layer& layer, const std::vector<Tensor>& xs, bool training) {
  std::vector<graph::Value> vals;
  for (const Tensor& x : xs) {
    if (x.is_symbolic()) {
      vals.push_back(value_in_graph(x, layer.name()));
    } else {
      vals.push_back({the_graph().add_constant(x), 0});
    }
  }
  auto self = layer.weak_from_this().lock();
  if (!self) {
    throw StateError("[" + layer.name() + "] was called on symbolic Input tensors but is not held by a shared pointer; "
                     "create layers with the duet::layers factories or make_layer<T>(...)");
  }
  // Output specs: compute_output_shape when the layer has one (after building it), else trace the call
  // once on placeholders of the input specs (which also builds it).
  std::vector<TensorSpec> specs;
  std::optional<std::vector<Shape>> declared;
  {
    std::vector<Shape> in_shapes;
    for (const Tensor& x : xs) in_shapes.push_back(x.shape());
    declared = layer.compute_output_shape(in_shapes);
  }
  if (declared) {
    LayerCallAccess::build(layer, xs);
    for (const auto& s : *declared) specs.push_back({xs[0].dtype(), s});
  } else {
    graph::Graph scratch(layer.name(), "layer '" + layer.name() + "' is being called on symbolic model inputs");
    graph::GraphTracer tracer(scratch, nullptr);
    std::vector<Tensor> sym;
    for (const Tensor& x : xs) sym.push_back(scratch.symbolic({scratch.add_placeholder(x.spec()), 0}));
    for (const Tensor& o : layer(sym, training)) specs.push_back(o.spec());
  }
  auto holder = std::make_shared<LayerHolder>();
  holder->layer = self;
  holder->training = training;
  graph::Node* n = the_graph().add(&kLayerCall, vals, {{"layer", FnRef(holder)}}, specs);
  n->name = layer.name();
  std::vector<Tensor> outs;
  for (std::size_t i = 0; i < specs.size(); ++i) outs.push_back(the_graph().symbolic({n, static_cast<int>(i)}));
  return outs;
}

Program extract(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, const std::string& model) {
  Program p;
  for (const Tensor& t : inputs) {
    graph::Value v = value_in_graph(t, model);
    if (v.node->op != &graph::placeholder_op()) {
      throw ValueError("[" + model + "] model inputs must be Input tensors, got " + t.str());
    }
    p.inputs.push_back(v.node);
  }
  std::set<const graph::Node*> needed;
  std::vector<const graph::Node*> work;
  for (const Tensor& t : outputs) {
    graph::Value v = value_in_graph(t, model);
    p.outputs.push_back(v);
    work.push_back(v.node);
  }
  std::set<const graph::Node*> input_set(p.inputs.begin(), p.inputs.end());
  while (!work.empty()) {
    const graph::Node* n = work.back();
    work.pop_back();
    if (!needed.insert(n).second) continue;
    if (n->op == &graph::placeholder_op() && !input_set.count(n)) {
      throw ValueError("[" + model + "] the outputs depend on the Input '" + n->name +
                       "', which is not among the model's inputs; pass it in Model(inputs, outputs)");
    }
    for (const auto& v : n->inputs) work.push_back(v.node);
  }
  for (const auto& sp : the_graph().nodes()) {
    if (!needed.count(sp.get())) continue;
    p.keep.push_back(sp);
    if (sp->op != &graph::placeholder_op()) p.nodes.push_back(sp.get());
  }
  return p;
}

std::vector<Tensor> run(const Program& p, const std::vector<Tensor>& xs, bool training, const std::string& model) {
  if (xs.size() != p.inputs.size()) {
    throw ValueError("[" + model + "] expects " + std::to_string(p.inputs.size()) + " inputs, got " + std::to_string(xs.size()));
  }
  std::unordered_map<const graph::Node*, std::vector<Tensor>> vals;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const TensorSpec& want = p.inputs[i]->outputs[0];
    if (xs[i].dtype() != want.dtype || !want.shape.compatible_with(xs[i].shape())) {
      throw ShapeError("[" + model + "] input " + std::to_string(i) + " ('" + p.inputs[i]->name + "') expects " +
                       dtype_name(want.dtype) + " " + want.shape.str() + ", got " + dtype_name(xs[i].dtype()) + " " +
                       xs[i].shape().str());
    }
    vals[p.inputs[i]] = {xs[i]};
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
          auto err = std::string("[") + model + "] layer '" + l->name() + "' returned " + dtype_name(outs[i].dtype()) + " " +
                     outs[i].shape().str() + " for output " + std::to_string(i) + ", but when the model was built it returned " +
                     dtype_name(want.dtype) + " " + want.shape.str();
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

// Ops applied directly to functional tensors (x * 2 between layers) are recorded in the functional graph.
namespace internal {
Tensors append_to_functional_graph(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs, Specs specs) {
  graph::Graph& g = functional::the_graph();
  for (const Tensor& t : inputs)
    if (t.is_symbolic() && !functional::is_functional(t)) return {};
  graph::GraphTracer tracer(g, nullptr);
  return tracer.append(op, inputs, attrs, std::move(specs));
}
}  // namespace internal

void register_layer_ops(std::vector<const OpDef*>& r) { r.push_back(&functional::kLayerCall); }

}  // namespace duet
