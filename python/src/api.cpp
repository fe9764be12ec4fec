// The op table (src/ops/api.h) seen from Python: _api_functions() describes every entry (name, modules,
// parameters with their kinds and defaults) and _api_call(index, args) runs one. duet/_ops.py writes a
// Python function per entry from the description, so no op has binding code of its own here.
#include "ops/api.h"
#include "bindings.h"

namespace duet::python {
namespace {

nb::object value_to_python(const api::Value& v) {
  struct V {
    nb::object operator()(std::monostate) const { return nb::none(); }
    nb::object operator()(const Tensor& t) const { return nb::cast(t); }
    nb::object operator()(const std::vector<Tensor>& t) const { return nb::cast(t); }
    nb::object operator()(bool b) const { return nb::bool_(b); }
    nb::object operator()(std::int64_t i) const { return nb::int_(i); }
    nb::object operator()(double d) const { return nb::float_(d); }
    nb::object operator()(const std::string& s) const { return nb::str(s.c_str()); }
    nb::object operator()(const std::vector<std::int64_t>& l) const { return nb::cast(l); }
    nb::object operator()(DType d) const { return dtype_object(d); }
  };
  return std::visit(V{}, v);
}

// A Python int (or anything with __index__) as int64, refusing what does not fit.
std::int64_t int64_of(const std::string& op, const api::Param& p, nb::handle h) {
  nb::object i = nb::steal(PyNumber_Index(h.ptr()));
  if (!i.is_valid()) throw nb::python_error();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow) {
    throw ValueError("[" + op + "] argument '" + p.name + "' = " + nb::cast<std::string>(nb::str(i)) +
                     " does not fit in int64");
  }
  return static_cast<std::int64_t>(v);
}

// A list of ints; concrete scalar tensors in it are read. A symbolic one (tf.shape(x)[0] while tracing) has
// no value yet: duet takes such arguments as numbers, so the error says what to write instead.
std::vector<std::int64_t> ints_of(const std::string& op, const api::Param& p, nb::handle h) {
  std::vector<std::int64_t> out;
  std::size_t i = 0;
  for (nb::handle e : h) {
    if (p.name == "paddings" && (nb::isinstance<nb::list>(e) || nb::isinstance<nb::tuple>(e))) {
      const auto pair = ints_of(op, p, e);  // tf.pad's [[before, after], ...] reads flat
      out.insert(out.end(), pair.begin(), pair.end());
      ++i;
      continue;
    }
    if (nb::isinstance<Tensor>(e)) {
      const Tensor t = nb::cast<Tensor>(e);
      if (t.is_symbolic()) {
        throw ValueError("[" + op + "] argument '" + p.name + "', element " + std::to_string(i) +
                         ", is a tensor computed while tracing, whose value exists only when the graph runs; duet "
                         "takes '" +
                         p.name +
                         "' as numbers: use -1 for the one dim to infer (reshape(x, [-1, 4])), "
                         "the static x.shape, or an input_signature with that dim known");
      }
      if (!is_integral(t.dtype()) || t.shape().num_elements() != 1)
        throw DTypeError("[" + op + "] argument '" + p.name + "', element " + std::to_string(i) + ", is a " +
                         dtype_name(t.dtype()) + " tensor of shape " + t.shape().str() + "; it takes integers");
      out.push_back(t.item<std::int64_t>());
    } else if (PyBool_Check(e.ptr()) || !PyIndex_Check(e.ptr())) {
      throw DTypeError("[" + op + "] argument '" + p.name + "' takes a list of ints; element " + std::to_string(i) +
                       " is a " + nb::cast<std::string>(nb::str(e.type().attr("__name__"))));
    } else {
      out.push_back(int64_of(op, p, e));
    }
    ++i;
  }
  return out;
}

// A Python argument as the parameter's kind wants it. duet/_ops.py has already turned array-likes into
// tensors and dtype-likes into dtypes; what is left of the wrong kind reaches the invoker, which names the
// op, the parameter and the value.
api::Value to_value(const std::string& op, const api::Param& p, nb::handle h) {
  if (h.is_none()) return std::monostate{};
  if (nb::isinstance<Tensor>(h)) {
    Tensor t = nb::cast<Tensor>(h);
    if (p.kind == api::Kind::Tensor || p.kind == api::Kind::Tensors) return t;
    // A concrete tensor where a number or a list is wanted (axis=tf.constant(1)): its value.
    if (p.kind == api::Kind::Ints || p.kind == api::Kind::Any) {
      if (t.rank() == 0) return t.item<std::int64_t>();
      return t.to_vector<std::int64_t>();
    }
    if (p.kind == api::Kind::Int || p.kind == api::Kind::OptionalInt) return t.item<std::int64_t>();
    if (p.kind == api::Kind::Float) return t.item<double>();
    if (p.kind == api::Kind::Bool) return t.item<bool>();
    return t;
  }
  if (PyBool_Check(h.ptr())) return h.ptr() == Py_True;
  if (PyLong_Check(h.ptr()) || (PyIndex_Check(h.ptr()) && !PyFloat_Check(h.ptr()) && !PySequence_Check(h.ptr())))
    return int64_of(op, p, h);
  if (PyFloat_Check(h.ptr())) return PyFloat_AsDouble(h.ptr());
  if (PyUnicode_Check(h.ptr())) return nb::cast<std::string>(h);
  if (nb::isinstance<DType>(h)) return nb::cast<DType>(h);
  if (nb::hasattr(h, "_enum") && nb::isinstance<DType>(h.attr("_enum"))) return nb::cast<DType>(h.attr("_enum"));
  if (PyList_Check(h.ptr()) || PyTuple_Check(h.ptr())) {
    if (p.kind == api::Kind::Tensors) {
      std::vector<Tensor> ts;
      for (nb::handle e : h) ts.push_back(to_tensor(e));
      return ts;
    }
    return ints_of(op, p, h);
  }
  throw nb::type_error(("argument '" + p.name + "' got a " + nb::cast<std::string>(nb::str(h.type())) +
                        "; it takes a " + api::kind_name(p.kind))
                           .c_str());
}

}  // namespace

void bind_api(nb::module_& m) {
  m.def("_random_set_seed", [](std::uint64_t seed) { random::set_seed(seed); });
  m.def("_api_functions", [] {
    nb::list out;
    const auto& fns = api::functions();
    for (std::size_t i = 0; i < fns.size(); ++i) {
      const api::Function& f = *fns[i];
      nb::list params;
      for (const auto& p : f.params) {
        nb::dict d;
        d["name"] = p.name;
        d["kind"] = api::kind_name(p.kind);
        d["required"] = !p.default_value.has_value();
        d["default"] = p.default_value ? value_to_python(*p.default_value) : nb::none();
        params.append(d);
      }
      nb::dict e;
      e["index"] = i;
      e["name"] = f.name;
      e["modules"] = nb::cast(f.modules);
      e["params"] = params;
      e["returns_list"] = f.returns_list;
      e["doc"] = f.doc;
      out.append(e);
    }
    return out;
  });
  // Runs entry `index` on `args` (one per parameter, defaults already filled in), without the GIL.
  m.def("_api_call", [](std::size_t index, nb::tuple args) -> nb::object {
    const auto& fns = api::functions();
    if (index >= fns.size()) throw nb::index_error("no such op");
    const api::Function& f = *fns[index];
    if (args.size() != f.params.size()) {
      throw nb::type_error(
          (f.name + "() takes " + std::to_string(f.params.size()) + " arguments, got " + std::to_string(args.size()))
              .c_str());
    }
    std::vector<api::Value> values;
    values.reserve(args.size());
    for (std::size_t i = 0; i < args.size(); ++i) values.push_back(to_value(f.name, f.params[i], args[i]));
    std::vector<Tensor> out;
    {
      nb::gil_scoped_release release;
      out = f.call(f, values);
    }
    if (!f.returns_list) return nb::cast(out.at(0));
    return nb::cast(out);
  });
}

}  // namespace duet::python
