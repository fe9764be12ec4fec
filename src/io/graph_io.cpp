// Graphs as JSON (see graph_io.h): the writer walks an unoptimized trace; the reader replays it through
// dispatch, cond, while_loop and registered host functions, checking everything the file claims.
#include "io/graph_io.h"

#include <algorithm>
#include <unordered_map>

#include "duet/function.h"
#include "function/subgraph.h"
#include "ops/op_def.h"

namespace duet::io {

// ---- reading values -----------------------------------------------------------------------------------------

void JsonReader::fail(const std::string& what) const { throw IOError(prefix + what); }

const json& JsonReader::field(const json& o, const char* key, const std::string& where) const {
  if (!o.is_object() || !o.contains(key)) fail(where + " has no '" + key + "'");
  return o[key];
}

const json& JsonReader::list(const json& o, const char* key, const std::string& where) const {
  const json& v = field(o, key, where);
  if (!v.is_array()) fail(where + ": '" + key + "' is not a list");
  return v;
}

std::string JsonReader::str(const json& o, const char* key, const std::string& where) const {
  const json& v = field(o, key, where);
  if (!v.is_string()) fail(where + ": '" + key + "' is not a string");
  return v.get<std::string>();
}

std::size_t JsonReader::index(const json& v, std::size_t limit, const std::string& where) const {
  if (!v.is_number_unsigned() || v.get<std::uint64_t>() >= limit) {
    fail(where + ": index " + v.dump().substr(0, 32) + " is out of range (" + std::to_string(limit) + " entries)");
  }
  return static_cast<std::size_t>(v.get<std::uint64_t>());
}

DType JsonReader::dtype(const json& o, const std::string& where) const {
  std::string n = str(o, "dtype", where);
  for (DType d : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool})
    if (n == dtype_name(d)) return d;
  fail(where + ": unknown dtype '" + n.substr(0, 32) + "'");
}

Shape JsonReader::shape(const json& o, const std::string& where) const {
  const json& s = list(o, "shape", where);
  if (s.size() > static_cast<std::size_t>(Shape::kMaxRank))
    fail(where + ": shape has more than " + std::to_string(Shape::kMaxRank) + " dims");
  Shape out;
  for (const json& d : s) {
    if (d.is_null()) {
      out.push_back(Shape::kUnknown);
    } else if (d.is_number_unsigned() && d.get<std::uint64_t>() <= (1ull << 40)) {
      out.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    } else {
      fail(where + ": shape dim " + d.dump().substr(0, 32) + " is not a size");
    }
  }
  return out;
}

Attrs JsonReader::attrs(const json& o, const std::string& where) const {
  if (!o.is_object()) fail(where + ": attrs is not an object");
  Attrs a;
  for (const auto& item : o.items()) {
    const std::string& k = item.key();
    const json& v = item.value();
    if (!v.is_object() || v.size() != 1) fail(where + ": attr '" + k + "' is malformed");
    const std::string kind = v.begin().key();
    const json& x = v.begin().value();
    auto bad = [&] { fail(where + ": attr '" + k + "' is not a valid " + kind); };
    if (kind == "int") {
      if (!x.is_number_integer()) bad();
      a.set(k, x.get<std::int64_t>());
    } else if (kind == "float") {
      if (!x.is_number()) bad();
      a.set(k, x.get<double>());
    } else if (kind == "bool") {
      if (!x.is_boolean()) bad();
      a.set(k, x.get<bool>());
    } else if (kind == "str") {
      if (!x.is_string()) bad();
      a.set(k, x.get<std::string>());
    } else if (kind == "ints" || kind == "shape") {
      if (!x.is_array() || (kind == "shape" && x.size() > static_cast<std::size_t>(Shape::kMaxRank))) bad();
      std::vector<std::int64_t> ints;
      for (const json& e : x) {
        if (!e.is_number_integer()) bad();
        ints.push_back(e.get<std::int64_t>());
      }
      if (kind == "ints") {
        a.set(k, std::move(ints));
      } else {
        for (std::int64_t d : ints)
          if (d < Shape::kUnknown) bad();
        a.set(k, Shape(ints));
      }
    } else if (kind == "dtype") {
      json wrap = {{"dtype", x}};
      a.set(k, dtype(wrap, where + " attr '" + k + "'"));
    } else {
      fail(where + ": attr '" + k + "' has an unknown kind '" + kind.substr(0, 32) + "'");
    }
  }
  return a;
}

// ---- writing values -----------------------------------------------------------------------------------------

json shape_json(const Shape& s) {
  json a = json::array();
  for (std::int64_t d : s) a.push_back(d < 0 ? json(nullptr) : json(d));
  return a;
}

json spec_json(const TensorSpec& s) { return {{"dtype", dtype_name(s.dtype)}, {"shape", shape_json(s.shape)}}; }

json attr_json(const std::string& op, const std::string& key, const AttrValue& v) {
  return std::visit(
      [&](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          return {{"int", x}};
        } else if constexpr (std::is_same_v<T, double>) {
          return {{"float", x}};
        } else if constexpr (std::is_same_v<T, bool>) {
          return {{"bool", x}};
        } else if constexpr (std::is_same_v<T, std::string>) {
          return {{"str", x}};
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          return {{"ints", x}};
        } else if constexpr (std::is_same_v<T, DType>) {
          return {{"dtype", dtype_name(x)}};
        } else if constexpr (std::is_same_v<T, Shape>) {
          return {{"shape", std::vector<std::int64_t>(x.begin(), x.end())}};
        } else {
          throw ValueError("[save] op '" + op + "' has attribute '" + key +
                           "' that refers to a variable or a function, which this file cannot hold");
        }
      },
      v);
}

// ---- graphs -------------------------------------------------------------------------------------------------

json GraphWriter::write(const graph::Graph& g, int depth) {
  if (depth > kMaxGraphNesting)
    throw ValueError(who + ": control flow nested more than " + std::to_string(kMaxGraphNesting) + " deep");
  std::unordered_map<const graph::Node*, std::size_t> id;
  auto value = [&](const graph::Value& v) { return json::array({id.at(v.node), v.index}); };
  std::vector<const graph::Node*> args(g.placeholders().size());
  for (const graph::Node* p : g.placeholders()) args.at(static_cast<std::size_t>(p->arg_index)) = p;
  json inputs = json::array();
  for (const graph::Node* p : args) inputs.push_back(spec_json(p->outputs[0]));
  // While nodes whose extra outputs (the iteration history kept for gradients) are read.
  std::unordered_map<const graph::Node*, int> max_output;
  for (const auto& n : g.nodes())
    for (const auto& v : n->inputs) max_output[v.node] = std::max(max_output[v.node], v.index);
  for (const auto& v : g.outputs()) max_output[v.node] = std::max(max_output[v.node], v.index);

  json nodes = json::array();
  for (const auto& sp : g.nodes()) {
    const graph::Node* n = sp.get();
    const std::string op = n->op->name;
    json e;
    if (n->op == &graph::placeholder_op()) {
      e = {{"arg", n->arg_index}};
    } else if (n->op == &graph::const_op()) {
      if (n->constant.is_symbolic()) throw ValueError(who + ": constant " + n->name + " has no value");
      std::string key = const_prefix + std::to_string(tensors->size());
      tensors->emplace_back(key, n->constant);
      e = {{"const", key}};
    } else {
      if (n->op->has(kStructural)) throw ValueError(who + ": " + n->name + " (" + op + ") cannot be saved");
      json ins = json::array(), outs = json::array(), attrs = json::object();
      for (const auto& v : n->inputs) ins.push_back(value(v));
      for (const auto& s : n->outputs) outs.push_back(spec_json(s));
      e = {{"op", op}, {"inputs", ins}, {"outputs", outs}};
      if (auto cf = graph::control_flow_parts(*n)) {
        e["subgraphs"] = json::array({write(*cf->first->graph, depth + 1), write(*cf->second->graph, depth + 1)});
        if (n->op == &graph::while_op()) {
          if (max_output[n] >= static_cast<int>(cf->n_vars)) {
            throw ValueError(who + ": the while_loop " + n->name +
                             " is differentiated inside the traced function; saving a gradient through a "
                             "while_loop is not supported (save the forward function instead)");
          }
          e["n_vars"] = cf->n_vars;
          e["maximum_iterations"] = cf->max_iterations;
        }
      } else if (n->op == &graph::host_function_op()) {
        std::optional<std::string> name = graph::registered_host_name(*n);
        if (!name) {
          throw ValueError(who + ": host function '" + n->attrs.fn("fn")->describe().substr(5) +
                           "' runs a C++ callable, which a file cannot hold: register it "
                           "(register_host_function(\"name\", fn)) and call host_function(\"name\", inputs, specs); a "
                           "layer that runs as a host step (a graph break) is one too: rewrite it with duet ops "
                           "(cond/where) so it traces");
        }
        e["host"] = *name;
      } else {
        for (const auto& [k, v] : n->attrs.items()) {
          if (const auto* var = std::get_if<VarRef>(&v)) {
            attrs[k] = {{"variable", variable(*var)}};
          } else {
            attrs[k] = attr_json(op, k, v);
          }
        }
        e["attrs"] = attrs;
      }
    }
    id[n] = nodes.size();
    nodes.push_back(std::move(e));
  }
  json outs = json::array();
  for (const auto& v : g.outputs()) outs.push_back(value(v));
  return {{"inputs", inputs}, {"nodes", nodes}, {"outputs", outs}};
}

std::vector<TensorSpec> GraphReader::input_specs(const json& g) const {
  std::vector<TensorSpec> specs;
  const json& ins = list(g, "inputs", "graph");
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::string w = "graph input " + std::to_string(i);
    specs.push_back({dtype(ins[i], w), shape(ins[i], w)});
  }
  return specs;
}

std::vector<Tensor> GraphReader::run(const json& g, const std::vector<Tensor>& args, int depth) const {
  if (depth > kMaxGraphNesting) fail("graphs are nested more than " + std::to_string(kMaxGraphNesting) + " deep");
  const std::vector<TensorSpec> specs = input_specs(g);
  if (specs.size() != args.size()) {
    fail("the graph takes " + std::to_string(specs.size()) + " inputs, it was given " + std::to_string(args.size()));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (args[i].dtype() != specs[i].dtype || !specs[i].shape.compatible_with(args[i].shape())) {
      fail("graph input " + std::to_string(i) + " is " + dtype_name(specs[i].dtype) + " " + specs[i].shape.str() +
           ", it was given " + dtype_name(args[i].dtype()) + " " + args[i].shape().str());
    }
  }
  const json& nodes = list(g, "nodes", "graph");
  std::vector<std::vector<Tensor>> vals;
  vals.reserve(nodes.size());
  auto value = [&](const json& v, const std::string& w) -> Tensor {
    if (!v.is_array() || v.size() != 2) fail(w + ": an input is not a [node, output] pair");
    std::size_t n = index(v[0], vals.size(), w);  // only earlier nodes: a graph in a file has no cycle
    return vals[n][index(v[1], vals[n].size(), w)];
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const json& n = nodes[i];
    const std::string w = "graph node " + std::to_string(i);
    if (!n.is_object()) fail(w + " is not an object");
    if (n.contains("arg")) {
      vals.push_back({args[index(n["arg"], args.size(), w)]});
      continue;
    }
    if (n.contains("const")) {
      std::string key = str(n, "const", w);
      const Tensor* t = file->find(key);
      if (key.rfind("constants/", 0) != 0 || !t) fail(w + ": constant '" + key.substr(0, 64) + "' is not in the file");
      vals.push_back({*t});
      continue;
    }
    const std::string op_name = str(n, "op", w);
    std::vector<Tensor> ins;
    for (const json& v : list(n, "inputs", w)) ins.push_back(value(v, w));
    const json& out_specs = list(n, "outputs", w);
    std::vector<Tensor> outs;
    try {
      const bool is_cond = op_name == graph::cond_op().name, is_while = op_name == graph::while_op().name;
      if (is_cond || is_while) {
        const json& subs = list(n, "subgraphs", w);
        if (subs.size() != 2) fail(w + ": " + op_name + " needs 2 subgraphs");
        const std::size_t n_first = input_specs(subs[0]).size();
        if (is_cond) {
          const std::size_t n_second = input_specs(subs[1]).size();
          if (ins.size() != 1 + n_first + n_second) fail(w + ": Cond's inputs do not match its branches");
          std::vector<Tensor> then_caps(ins.begin() + 1, ins.begin() + 1 + static_cast<std::ptrdiff_t>(n_first));
          std::vector<Tensor> else_caps(ins.begin() + 1 + static_cast<std::ptrdiff_t>(n_first), ins.end());
          using Branch = std::function<std::vector<Tensor>()>;
          outs = cond(ins[0], Branch([&] { return run(subs[0], then_caps, depth + 1); }),
                      Branch([&] { return run(subs[1], else_caps, depth + 1); }));
        } else {
          const std::size_t n_vars = index(field(n, "n_vars", w), ins.size() + 1, w);
          const json& max_it = field(n, "maximum_iterations", w);
          if (!max_it.is_number_integer()) fail(w + ": 'maximum_iterations' is not an integer");
          if (n_first < n_vars || n_first > ins.size()) fail(w + ": While's inputs do not match its subgraphs");
          const std::size_t n_cond = n_first - n_vars;
          auto part = [&](std::size_t from, std::size_t to) {
            return std::vector<Tensor>(ins.begin() + static_cast<std::ptrdiff_t>(from),
                                       ins.begin() + static_cast<std::ptrdiff_t>(to));
          };
          const std::vector<Tensor> cond_caps = part(n_vars, n_vars + n_cond);
          const std::vector<Tensor> body_caps = part(n_vars + n_cond, ins.size());
          auto with = [](std::vector<Tensor> v, const std::vector<Tensor>& caps) {
            v.insert(v.end(), caps.begin(), caps.end());
            return v;
          };
          outs = while_loop(
              [&](const std::vector<Tensor>& v) {
                std::vector<Tensor> r = run(subs[0], with(v, cond_caps), depth + 1);
                if (r.size() != 1) fail(w + ": the loop condition must return one tensor");
                return r[0];
              },
              [&](const std::vector<Tensor>& v) { return run(subs[1], with(v, body_caps), depth + 1); },
              part(0, n_vars), {.maximum_iterations = max_it.get<std::int64_t>()});
        }
      } else if (op_name == graph::host_function_op().name) {
        std::string name = str(n, "host", w);
        if (!host_function_registered(name)) {
          fail(w + ": the graph calls the host function '" + name.substr(0, 64) +
               "', which this program has not registered: call register_host_function(\"" + name.substr(0, 64) +
               "\", fn) before loading");
        }
        std::vector<TensorSpec> specs;
        for (std::size_t k = 0; k < out_specs.size(); ++k) {
          const std::string wk = w + " output " + std::to_string(k);
          specs.push_back({dtype(out_specs[k], wk), shape(out_specs[k], wk)});
        }
        outs = host_function(name, ins, specs);
      } else {
        const OpDef* op = find_op(op_name);
        if (!op || op->has(kStructural) || op == &graph::placeholder_op() || op == &graph::const_op())
          fail(w + ": '" + op_name.substr(0, 64) + "' is not an op a saved graph may hold");
        if (op->num_inputs >= 0 && static_cast<int>(ins.size()) != op->num_inputs) {
          fail(w + ": op '" + op_name + "' takes " + std::to_string(op->num_inputs) + " inputs, the file gives " +
               std::to_string(ins.size()));
        }
        // Variables by index; everything else is a plain attr.
        json plain = json::object();
        std::vector<std::pair<std::string, VarRef>> vars;
        const json& a = field(n, "attrs", w);
        if (!a.is_object()) fail(w + ": attrs is not an object");
        for (const auto& item : a.items()) {
          const json& v = item.value();
          if (v.is_object() && v.size() == 1 && v.contains("variable")) {
            vars.emplace_back(item.key(), variables[index(v["variable"], variables.size(), w)]);
          } else {
            plain[item.key()] = v;
          }
        }
        Attrs at = attrs(plain, w);
        for (auto& [k, v] : vars) at.set(k, v);
        Tensors r = dispatch(*op, ins, at);
        outs.assign(r.begin(), r.end());
      }
    } catch (const IOError&) {
      throw;
    } catch (const Error& err) {
      fail(w + " (" + op_name.substr(0, 64) + "): " + err.what());
    }
    if (outs.size() != out_specs.size()) {
      fail(w + ": op '" + op_name.substr(0, 64) + "' gave " + std::to_string(outs.size()) + " outputs, the file says " +
           std::to_string(out_specs.size()));
    }
    vals.push_back(std::move(outs));
  }
  std::vector<Tensor> outs;
  for (const json& v : list(g, "outputs", "graph")) outs.push_back(value(v, "graph outputs"));
  return outs;
}

}  // namespace duet::io
