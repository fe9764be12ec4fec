// Layers without a config (a Lambda, a custom layer without get_config) in model files: saved as their traced
// graphs, one for inference and one for training, whose variables are the layer's weights; loaded as a
// layer that replays those graphs (GraphLayer), so the file holds no code and the model predicts and trains
// as before. summary() shows the original class name.
#include <mutex>

#include "function/function_core.h"
#include "graph/tracer.h"
#include "io/graph_io.h"
#include "ops/variable_impl.h"

namespace duet::io {
namespace {

// Constant keys a graph (and its subgraphs) refers to.
void constant_keys(const json& g, std::vector<std::string>& out, int depth) {
  if (depth > kMaxGraphNesting || !g.is_object() || !g.contains("nodes") || !g["nodes"].is_array()) return;
  for (const json& n : g["nodes"]) {
    if (!n.is_object()) continue;
    if (n.contains("const") && n["const"].is_string()) out.push_back(n["const"].get<std::string>());
    if (n.contains("subgraphs") && n["subgraphs"].is_array())
      for (const json& s : n["subgraphs"]) constant_keys(s, out, depth + 1);
  }
}

class GraphLayer : public Layer {
 public:
  GraphLayer(const std::string& type, const std::string& name, json inference, json training,
             std::vector<WeightSpec> weights, saving::TensorFile constants, const std::string& path)
      : Layer(type, name),
        inference_(std::move(inference)),
        training_(std::move(training)),
        weight_specs_(std::move(weights)),
        constants_(std::move(constants)) {
    reader_.prefix = "[" + name + "] (" + type + " loaded from " + path + "): ";
    reader_.file = &constants_;
  }

  void build(const std::vector<Shape>&) override {
    for (const WeightSpec& w : weight_specs_) {
      Variable v =
          add_weight(w.name, w.spec.shape, {.initializer = "zeros", .trainable = w.trainable, .dtype = w.spec.dtype});
      reader_.variables.push_back(v.ref());
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override {
    return reader_.run(training ? training_ : inference_, xs);
  }

  // Saved again as a graph (its get_config is empty): retraced from these graphs.

 private:
  json inference_, training_;
  std::vector<WeightSpec> weight_specs_;
  saving::TensorFile constants_;
  GraphReader reader_;
};

}  // namespace

json layer_graph_config(Layer& l, const std::vector<TensorSpec>& in_specs, saving::NamedTensors& constants) {
  const std::string who = "[save] layer '" + l.name() + "' (" + l.type() + ")";
  const std::vector<Variable> weights = l.weights();
  GraphWriter w;
  w.tensors = &constants;
  w.who = who;
  w.variable = [&](const VarRef& v) -> std::size_t {
    for (std::size_t i = 0; i < weights.size(); ++i)
      if (weights[i].ref() == v) return i;
    throw ValueError(who + " uses the variable '" + v->name +
                     "', which is not one of its weights, so a model file cannot hold it: create it with add_weight "
                     "in the layer, or pass its value as an input");
  };
  std::lock_guard<std::recursive_mutex> lock(internal::trace_mutex());
  auto trace = [&](bool training) {
    graph::Graph g(l.name(), "layer '" + l.name() + "' is being saved as a graph");
    {
      graph::GraphTracer tracer(g, nullptr);
      tracer.allow_variable_creation = false;
      std::vector<Tensor> sym;
      for (const auto& s : in_specs) sym.push_back(g.symbolic({g.add_placeholder(s), 0}));
      try {
        for (const Tensor& o : l.call(sym, training)) g.outputs().push_back(tracer.value_of(o));
      } catch (const Error& e) {
        throw ValueError(who + " has no config and could not be traced to save it as a graph (" + e.what() +
                         "); give it get_config() and register it (register_layer), or save only the weights");
      }
    }
    return w.write(g);
  };
  json ws = json::array();
  for (const Variable& v : weights) {
    ws.push_back({{"name", v.name()},
                  {"dtype", dtype_name(v.dtype())},
                  {"shape", shape_json(v.shape())},
                  {"trainable", v.trainable()}});
  }
  json inference = trace(false), training = trace(true);
  return {{"type", l.type()}, {"weights", ws}, {"inference", inference}, {"training", training}};
}

LayerRef graph_layer(const JsonReader& r, const json& c, const std::string& name, const saving::TensorFile& file,
                     const std::string& path, const std::string& where) {
  const std::string type = r.str(c, "type", where);
  std::vector<WeightSpec> ws;
  const json& weights = r.list(c, "weights", where);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const std::string w = where + " weight " + std::to_string(i);
    std::string full = r.str(weights[i], "name", w);
    const json& tr = r.field(weights[i], "trainable", w);
    if (!tr.is_boolean()) r.fail(w + ": 'trainable' is not a bool");
    Shape shape = r.shape(weights[i], w);
    if (!shape.is_fully_known()) r.fail(w + ": its shape is not fully known");
    // add_weight prefixes the layer's name again.
    std::string local = full.rfind(name + "/", 0) == 0 ? full.substr(name.size() + 1) : full;
    ws.push_back({local, {r.dtype(weights[i], w), shape}, tr.get<bool>()});
  }
  const json& inference = r.field(c, "inference", where);
  const json& training = r.field(c, "training", where);
  std::vector<std::string> keys;
  constant_keys(inference, keys, 0);
  constant_keys(training, keys, 0);
  saving::TensorFile constants;
  for (const std::string& k : keys) {
    const Tensor* t = file.find(k);
    if (k.rfind("constants/", 0) != 0 || !t) r.fail(where + ": constant '" + k.substr(0, 64) + "' is not in the file");
    constants.tensors.emplace_back(k, *t);
  }
  return LayerRef(
      std::make_shared<GraphLayer>(type, name, inference, training, std::move(ws), std::move(constants), path));
}

}  // namespace duet::io
