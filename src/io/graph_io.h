#pragma once
// Graphs as JSON, for the files that hold computation without code: traced functions (Function::save) and
// the layers of a model that have no config (a Lambda, a custom layer without get_config). A graph is
// written from its unoptimized trace; reading replays it op by op through dispatch (eagerly, or into the
// trace in progress), so control flow goes back through cond/while_loop and host functions through their
// registered names. Nothing in a file is run as code, and every index, op, attr and nesting is checked.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "duet/layers.h"
#include "duet/saving.h"
#include "graph/graph.h"

namespace duet::io {

using json = nlohmann::json;

// Checked reads of a parsed JSON document; every failure throws IOError(prefix + what).
struct JsonReader {
  std::string prefix;  // "[load_model] path: "

  [[noreturn]] void fail(const std::string& what) const;
  const json& field(const json& o, const char* key, const std::string& where) const;
  const json& list(const json& o, const char* key, const std::string& where) const;
  std::string str(const json& o, const char* key, const std::string& where) const;
  // An unsigned integer below `limit`.
  std::size_t index(const json& v, std::size_t limit, const std::string& where) const;
  DType dtype(const json& o, const std::string& where) const;  // o["dtype"]
  // o["shape"]: dims as integers, null for unknown.
  Shape shape(const json& o, const std::string& where) const;
  // Plain attrs (no variables or callables).
  Attrs attrs(const json& o, const std::string& where) const;
};

json shape_json(const Shape& s);
json spec_json(const TensorSpec& s);
// A plain attr value ({"int": 3}); variables and callables throw ValueError naming the op and the key.
json attr_json(const std::string& op, const std::string& key, const AttrValue& v);

// Writes graphs. Constants go to `tensors` as "<const_prefix><n>"; each variable a graph reads or writes is
// replaced by the index `variable` gives it (which throws when the variable may not be saved).
struct GraphWriter {
  saving::NamedTensors* tensors = nullptr;
  std::string const_prefix = "constants/";
  std::function<std::size_t(const VarRef&)> variable;
  std::string who;  // "[save] function 'f'"

  json write(const graph::Graph& g, int depth = 0);
};

// Replays graphs written by GraphWriter.
struct GraphReader : JsonReader {
  const saving::TensorFile* file = nullptr;
  std::vector<VarRef> variables;  // by the index the writer gave

  // The graph's argument specs.
  std::vector<TensorSpec> input_specs(const json& g) const;
  // Runs the graph on `args` (checked against its input specs); returns its outputs.
  std::vector<Tensor> run(const json& g, const std::vector<Tensor>& args, int depth = 0) const;
};

inline constexpr int kMaxGraphNesting = 32;

// Model files: a layer without a config saved as its traced graphs (inference and training) over `in_specs`,
// its weights as the graphs' variables (a variable that is not one of its weights is refused). Constants go to
// `constants`. Loading gives a layer of the same type and name that replays them.
json layer_graph_config(Layer& l, const std::vector<TensorSpec>& in_specs, saving::NamedTensors& constants);
struct WeightSpec {
  std::string name;  // without the layer's prefix
  TensorSpec spec;
  bool trainable = true;
};
LayerRef graph_layer(const JsonReader& r, const json& config, const std::string& name, const saving::TensorFile& file,
                     const std::string& path, const std::string& where);

}  // namespace duet::io
