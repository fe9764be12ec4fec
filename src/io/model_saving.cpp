// Model::save / load_model: a model's architecture (layer configs, the functional graph) as JSON in the
// metadata of a safetensors file that also holds its weights and the constants of its graph. Loading rebuilds
// the layers through the registered factories and replays the graph; nothing in the file is run as code, and
// everything the file claims is checked (structure, indexes, nesting depth, allocations against the file size).
#include <sys/stat.h>

#include <map>
#include <unordered_map>

#include "core/allocator.h"
#include "duet/saving.h"
#include "function/function_core.h"
#include "graph/graph.h"
#include "graph/tracer.h"
#include "io/graph_io.h"
#include "io/weights_util.h"
#include "layers/functional.h"
#include "layers/loading.h"
#include "ops/op_def.h"
#include "train/model_impl.h"

namespace duet {
namespace {

using io::attr_json;
using io::json;
using io::shape_json;
constexpr const char* kFormat = "duet.model";
constexpr const char* kVersion = "1";
constexpr int kMaxNesting = 32;
// The class name of layers saved as their traced graphs.
constexpr const char* kGraphLayer = "GraphLayer";

// ---- values ----------------------------------------------------------------------------------------------

json config_json(const LayerConfig& c) {
  json o = json::object();
  for (const auto& item : c.items()) std::visit([&](const auto& x) { o[item.first] = x; }, item.second);
  return o;
}

// ---- saving ------------------------------------------------------------------------------------------------

struct Saver {
  saving::NamedTensors constants;
  int depth = 0;

  // in_specs: the layer's input specs, needed only when it has no config (it is then saved as a graph).
  json layer_entry(Layer& l, const std::function<std::vector<TensorSpec>()>& in_specs) {
    json e;
    if (auto* m = dynamic_cast<Model*>(&l)) {
      e["class_name"] = "Model";
      e["config"] = model_json(*m);
    } else if (std::optional<LayerConfig> c = l.get_config()) {
      c->set("name", l.name());
      e["class_name"] = l.type();
      e["config"] = config_json(*c);
    } else {
      e["class_name"] = kGraphLayer;
      e["config"] = io::layer_graph_config(l, in_specs(), constants);
      e["config"]["name"] = l.name();
    }
    e["trainable"] = l.trainable();
    e["dynamic"] = l.dynamic();
    return e;
  }

  json model_json(Model& m);
};

}  // namespace

json model_structure_json(Model& m, Saver& s);

namespace {
json Saver::model_json(Model& m) {
  if (++depth > kMaxNesting)
    throw ValueError("[save] models nested more than " + std::to_string(kMaxNesting) + " deep");
  json j = model_structure_json(m, *this);
  --depth;
  return j;
}
}  // namespace

// Model's structure, for the files that save it.
struct ModelFiles {
  static const Model::Structure& structure(const Model& m) { return *m.structure_; }
};

namespace {
// The input specs of each layer of a Sequential, from a trace of the model on its input spec.
std::vector<std::vector<TensorSpec>> sequential_input_specs(const Model& m, const Model::Structure& st) {
  const auto spec = st.input_spec();
  if (!spec) {
    throw ValueError("[save] model '" + m.name() +
                     "' has a layer without config, saved as its traced graph, which needs the model's input spec: "
                     "start the Sequential with an Input");
  }
  std::lock_guard<std::recursive_mutex> lock(internal::trace_mutex());
  graph::Graph g(m.name(), "model '" + m.name() + "' is being saved");
  graph::GraphTracer tracer(g, nullptr);
  tracer.allow_variable_creation = false;
  Tensor x = g.symbolic({g.add_placeholder(*spec), 0});
  std::vector<std::vector<TensorSpec>> out;
  for (const LayerRef& l : st.seq) {
    out.push_back({x.spec()});
    x = l(x);
  }
  return out;
}
}  // namespace

json model_structure_json(Model& m, Saver& s) {
  const Model::Structure& st = ModelFiles::structure(m);
  json j;
  j["name"] = m.name();
  if (st.functional) {
    j["class_name"] = "Functional";
    const functional::Program& p = st.program;
    std::unordered_map<const graph::Node*, std::size_t> id;
    std::vector<Layer*> layer_list;
    std::unordered_map<Layer*, std::size_t> layer_id;
    json nodes = json::array(), layers_json = json::array();
    auto value = [&](const graph::Value& v) { return json::array({id.at(v.node), v.index}); };
    for (const graph::Node* in : p.inputs) {
      id[in] = nodes.size();
      nodes.push_back({{"kind", "input"},
                       {"name", in->name},
                       {"shape", shape_json(in->outputs[0].shape)},
                       {"dtype", dtype_name(in->outputs[0].dtype)}});
    }
    for (const graph::Node* n : p.nodes) {
      json ins = json::array();
      for (const auto& v : n->inputs) ins.push_back(value(v));
      if (Layer* l = functional::layer_of(n)) {
        auto it = layer_id.find(l);
        if (it == layer_id.end()) {
          it = layer_id.emplace(l, layer_list.size()).first;
          layer_list.push_back(l);
          layers_json.push_back(s.layer_entry(*l, [&] {
            std::vector<TensorSpec> specs;
            for (const auto& v : n->inputs) specs.push_back(v.node->outputs[static_cast<std::size_t>(v.index)]);
            return specs;
          }));
        }
        nodes.push_back({{"kind", "layer"}, {"layer", it->second}, {"inputs", ins}, {"outputs", n->outputs.size()}});
      } else if (n->op == &graph::const_op()) {
        std::string key = "constants/" + std::to_string(s.constants.size());
        s.constants.emplace_back(key, n->constant);
        nodes.push_back({{"kind", "const"}, {"tensor", key}});
      } else {
        json attrs = json::object();
        for (const auto& [k, v] : n->attrs.items()) attrs[k] = attr_json(n->op->name, k, v);
        nodes.push_back({{"kind", "op"}, {"op", n->op->name}, {"attrs", attrs}, {"inputs", ins}});
      }
      id[n] = nodes.size() - 1;
    }
    json outs = json::array();
    for (const auto& v : p.outputs) outs.push_back(value(v));
    j["layers"] = layers_json;
    j["nodes"] = nodes;
    j["outputs"] = outs;
  } else if (!st.seq.empty()) {
    j["class_name"] = "Sequential";
    if (const auto spec = st.input_spec()) {
      j["input"] = {{"shape", shape_json(spec->shape)}, {"dtype", dtype_name(spec->dtype)}};
    }
    json layers_json = json::array();
    std::optional<std::vector<std::vector<TensorSpec>>> specs;  // per layer, traced when first needed
    for (std::size_t i = 0; i < st.seq.size(); ++i) {
      layers_json.push_back(s.layer_entry(*st.seq[i].ptr(), [&] {
        if (!specs) specs = sequential_input_specs(m, st);
        return (*specs)[i];
      }));
    }
    j["layers"] = layers_json;
  } else {
    throw ValueError("[save] model '" + m.name() +
                     "' is a subclassed model: its call() is C++ code, which a model file cannot hold. Save its "
                     "weights (save_weights) and rebuild it in code, or build it as a Sequential or functional model");
  }
  return j;
}

void Model::save(const std::string& path) {
  refuse_during_fit(*this, *training_, "save");
  if (!built_) {
    throw StateError("[" + name() +
                     "] save before the model is built: it has no weights yet (call it on data, fit "
                     "it, or start a Sequential with an Input)");
  }
  Saver s;
  json config = s.model_json(*this);
  saving::NamedTensors ts;
  for (auto& [n, t] : io::named_weights(*this)) ts.emplace_back("weights/" + n, t);
  for (auto& c : s.constants) ts.push_back(c);
  saving::save_safetensors(path, ts,
                           {{"format", kFormat}, {"format_version", kVersion}, {"model_config", config.dump()}});
}

// ---- loading -----------------------------------------------------------------------------------------------

namespace {

struct Loader : io::JsonReader {
  std::string path;
  const saving::TensorFile* file = nullptr;
  int depth = 0;

  // A per-example shape (the leading batch dim, unknown, dropped).
  std::vector<std::int64_t> example_shape(const json& o, const std::string& where) const {
    Shape s = shape(o, where);
    if (s.rank() == 0) fail(where + ": shape must have a batch dim");
    return std::vector<std::int64_t>(s.begin() + 1, s.end());
  }

  LayerConfig config(const json& o, const std::string& cls, const std::string& where) const {
    if (!o.is_object()) fail(where + ": config is not an object");
    LayerConfig c(cls);
    for (const auto& [k, v] : o.items()) {
      if (v.is_boolean()) {
        c.set(k, v.get<bool>());
      } else if (v.is_number_integer()) {
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
          fail(where + ": '" + k + "' is out of range");
        c.set(k, v.get<std::int64_t>());
      } else if (v.is_number_float()) {
        c.set(k, v.get<double>());
      } else if (v.is_string()) {
        c.set(k, v.get<std::string>());
      } else if (v.is_array()) {
        std::vector<std::int64_t> ints;
        for (const json& e : v) {
          if (!e.is_number_integer() ||
              (e.is_number_unsigned() && e.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
            fail(where + ": '" + k + "' holds a non-integer");
          ints.push_back(e.get<std::int64_t>());
        }
        c.set(k, std::move(ints));
      } else {
        fail(where + ": '" + k + "' has a value of an unsupported kind");
      }
    }
    return c;
  }

  LayerRef layer(const json& e, const std::string& where) {
    std::string cls = str(e, "class_name", where);
    LayerRef l;
    if (cls == "Model") {
      l = LayerRef(model(field(e, "config", where), where + " (nested model)"));
    } else if (cls == kGraphLayer) {
      const json& c = field(e, "config", where);
      l = io::graph_layer(*this, c, str(c, "name", where), *file, path, where);
    } else {
      try {
        l = layer_from_config(cls, config(field(e, "config", where), cls, where));
      } catch (const IOError&) {
        throw;
      } catch (const Error& err) {
        fail(where + " (" + cls.substr(0, 64) + "): " + err.what());
      }
    }
    if (e.contains("trainable")) {
      if (!e["trainable"].is_boolean()) fail(where + ": 'trainable' is not a bool");
      l->set_trainable(e["trainable"].get<bool>());
    }
    if (e.contains("dynamic")) {
      if (!e["dynamic"].is_boolean()) fail(where + ": 'dynamic' is not a bool");
      l->set_dynamic(e["dynamic"].get<bool>());
    }
    return l;
  }

  std::vector<LayerRef> layer_list(const json& m, const std::string& where) {
    const json& ls = field(m, "layers", where);
    if (!ls.is_array()) fail(where + ": 'layers' is not a list");
    std::vector<LayerRef> out;
    for (std::size_t i = 0; i < ls.size(); ++i) out.push_back(layer(ls[i], where + " layer " + std::to_string(i)));
    return out;
  }

  Tensor constant_tensor(const std::string& key, const std::string& where) const {
    const Tensor* t = file->find(key);
    if (key.rfind("constants/", 0) != 0 || !t)
      fail(where + ": constant '" + key.substr(0, 64) + "' is not in the file");
    return *t;
  }

  std::shared_ptr<Model> model(const json& m, const std::string& where) {
    if (++depth > kMaxNesting) fail("models are nested more than " + std::to_string(kMaxNesting) + " deep");
    std::string cls = str(m, "class_name", where);
    std::string name = str(m, "name", where);
    std::shared_ptr<Model> out;
    if (cls == "Sequential") {
      std::vector<LayerRef> ls = layer_list(m, where);
      if (m.contains("input") && !m["input"].is_null()) {
        const json& in = m["input"];
        out = std::make_shared<Sequential>(Input(example_shape(in, where + " input"), dtype(in, where + " input")), ls,
                                           name);
      } else {
        out = std::make_shared<Sequential>(ls, name);
      }
    } else if (cls == "Functional") {
      std::vector<LayerRef> ls = layer_list(m, where);
      const json& nodes = field(m, "nodes", where);
      if (!nodes.is_array()) fail(where + ": 'nodes' is not a list");
      std::vector<std::vector<Tensor>> vals;
      std::vector<Tensor> inputs;
      auto value = [&](const json& v, const std::string& w) -> Tensor {
        if (!v.is_array() || v.size() != 2) fail(w + ": an input is not a [node, output] pair");
        std::size_t n = index(v[0], vals.size(), w);
        std::size_t o = index(v[1], vals[n].size(), w);
        return vals[n][o];
      };
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const json& n = nodes[i];
        const std::string w = where + " node " + std::to_string(i);
        std::string kind = str(n, "kind", w);
        std::vector<Tensor> ins;
        if (kind != "input" && kind != "const") {
          const json& in = field(n, "inputs", w);
          if (!in.is_array()) fail(w + ": 'inputs' is not a list");
          for (const json& v : in) ins.push_back(value(v, w));
        }
        try {
          if (kind == "input") {
            Tensor t = Input(example_shape(n, w), dtype(n, w), str(n, "name", w));
            inputs.push_back(t);
            vals.push_back({t});
          } else if (kind == "layer") {
            LayerRef l = ls[index(field(n, "layer", w), ls.size(), w)];
            vals.push_back(ins.size() == 1 ? std::vector<Tensor>{l(ins[0])} : l(ins));
            std::size_t want = index(field(n, "outputs", w), 1u << 20, w);
            if (vals.back().size() != want) fail(w + ": layer '" + l->name() + "' gave a different number of outputs");
          } else if (kind == "const") {
            vals.push_back({constant_tensor(str(n, "tensor", w), w)});
          } else if (kind == "op") {
            std::string op_name = str(n, "op", w);
            const OpDef* op = find_op(op_name);
            if (!op || (op->traits & (kStateful | kStructural)) != 0) {
              fail(w + ": '" + op_name.substr(0, 64) + "' is not an op a model file may hold");
            }
            if (op->num_inputs >= 0 && static_cast<int>(ins.size()) != op->num_inputs) {
              fail(w + ": op '" + op_name + "' takes " + std::to_string(op->num_inputs) + " inputs, the file gives " +
                   std::to_string(ins.size()));
            }
            Tensors outs = dispatch(*op, ins, attrs(field(n, "attrs", w), w));
            vals.emplace_back(outs.begin(), outs.end());
          } else {
            fail(w + ": unknown node kind '" + kind.substr(0, 32) + "'");
          }
        } catch (const IOError&) {
          throw;
        } catch (const Error& err) {
          fail(w + ": " + err.what());
        }
      }
      const json& outs_json = field(m, "outputs", where);
      if (!outs_json.is_array() || outs_json.empty()) fail(where + ": 'outputs' is not a non-empty list");
      std::vector<Tensor> outs;
      for (const json& v : outs_json) outs.push_back(value(v, where + " outputs"));
      if (inputs.empty()) fail(where + ": the model has no inputs");
      try {
        out = std::make_shared<Model>(inputs, outs, name);
      } catch (const Error& err) {
        fail(where + ": " + err.what());
      }
    } else {
      fail(where + ": unknown model class '" + cls.substr(0, 64) + "'");
    }
    --depth;
    return out;
  }
};

struct OpenedModel {
  saving::TensorFile file;
  json config;
};

OpenedModel open_model(const std::string& path) {
  OpenedModel m{saving::load_safetensors(path), {}};
  auto fmt = m.file.metadata.find("format");
  if (fmt == m.file.metadata.end() || fmt->second != kFormat) {
    throw IOError("[load_model] " + path + " is not a duet model file (format '" +
                  (fmt == m.file.metadata.end() ? std::string("none") : fmt->second.substr(0, 64)) +
                  "'); weights files load with Model::load_weights, checkpoints with Checkpoint::restore");
  }
  if (m.file.metadata["format_version"] != kVersion) {
    throw IOError("[load_model] " + path + " has format version '" + m.file.metadata["format_version"].substr(0, 32) +
                  "'; this duet reads version " + kVersion);
  }
  try {
    m.config = json::parse(m.file.metadata["model_config"]);
  } catch (const json::exception& e) {
    throw IOError("[load_model] " + path + ": its model_config is not valid JSON (" + e.what() + ")");
  }
  if (!m.config.is_object()) throw IOError("[load_model] " + path + ": its model_config is not a JSON object");
  return m;
}

}  // namespace

std::shared_ptr<Model> load_model(const std::string& path) {
  OpenedModel opened = open_model(path);
  struct stat st;
  const std::size_t file_bytes = ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
  Loader loader;
  loader.prefix = "[load_model] " + path + ": ";
  loader.path = path;
  loader.file = &opened.file;
  std::shared_ptr<Model> m;
  {
    // Building the layers allocates their weights: never more than the file's weights justify.
    AllocationBudget budget(8 * file_bytes + (64u << 20), "load_model " + path);
    internal::SkipInitializers skip;  // every weight is assigned from the file below
    try {
      m = loader.model(opened.config, "model");
    } catch (const json::exception& e) {
      throw IOError("[load_model] " + path + ": malformed model_config (" + e.what() + ")");
    }
  }
  if (!m->built()) throw IOError("[load_model] " + path + ": the saved model was not built");
  saving::NamedTensors weights;
  for (const auto& [n, t] : opened.file.tensors)
    if (n.rfind("weights/", 0) == 0) weights.emplace_back(n.substr(8), t);
  std::vector<std::pair<Variable, Tensor>> assign;
  io::match_weights("load_model", path, m->weights(), weights, {}, assign);
  graph::EagerScope eager;
  for (auto& [v, t] : assign) v.assign(t);
  return m;
}

std::string saved_model_config(const std::string& path) { return open_model(path).config.dump(2); }

}  // namespace duet
