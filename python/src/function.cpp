// The engine side of duet.function (duet/_function.py flattens Python arguments and results): the C++
// trace cache, retracing and execution of duet::function, with the GIL released while it runs and taken
// back only while the Python body traces. The engine serializes traces with a process-wide mutex; a thread
// waiting for it holds no GIL, so a trace on another thread can always run its Python body.
#include "bindings.h"
#include "graph/tracer.h"

namespace duet::python {
namespace {

using internal::ArgList;
using internal::FunctionCore;
using internal::TraceFn;

struct PyFunctionCore {
  std::shared_ptr<FunctionCore> core;
};

}  // namespace

void bind_function(nb::module_& m) {
  nb::class_<PyFunctionCore>(m, "_FunctionCore")
      .def(
          "__init__",
          [](PyFunctionCore* self, std::string name, bool reduce_retracing, nb::handle input_signature,
             bool check_eager) {
            FunctionOptions o;
            o.name = std::move(name);
            o.reduce_retracing = reduce_retracing;
            o.check_eager = check_eager;
            if (!input_signature.is_none()) {
              std::vector<TensorSpec> specs;
              for (nb::handle s : input_signature) {  // (dtype, [dims or -1])
                auto pair = nb::cast<nb::tuple>(s);
                specs.push_back({nb::cast<DType>(pair[0]), Shape(nb::cast<std::vector<std::int64_t>>(pair[1]))});
              }
              o.input_signature = std::move(specs);
            }
            new (self) PyFunctionCore{internal::make_function_core(std::move(o))};
          },
          nb::arg("name"), nb::arg("reduce_retracing") = false, nb::arg("input_signature") = nb::none(),
          nb::arg("check_eager") = false)
      // call(tensors, key, shown, positions, trace) -> (flat outputs, structure). trace(symbolic tensors)
      // runs the Python body and returns (flat outputs, structure id); it runs only on a cache miss (and
      // eagerly under run_functions_eagerly).
      .def("call",
           [](PyFunctionCore& f, std::vector<Tensor> tensors, std::string key, std::vector<std::string> shown,
              std::vector<std::pair<int, int>> positions, nb::object trace) {
             ArgList args{std::move(tensors), std::move(key), std::move(shown), std::move(positions)};
             TraceFn fn = [&trace](const std::vector<Tensor>& in, std::vector<std::int64_t>& structure) {
               nb::gil_scoped_acquire gil;
               nb::tuple r = nb::cast<nb::tuple>(trace(nb::cast(in)));
               std::vector<Tensor> out;
               for (nb::handle o : r[0]) out.push_back(to_tensor(o));
               structure = {nb::cast<std::int64_t>(r[1])};
               return out;
             };
             std::vector<std::int64_t> structure;
             std::vector<Tensor> out;
             {
               nb::gil_scoped_release release;
               out = internal::call_function(*f.core, args, fn, structure);
             }
             return nb::make_tuple(nb::cast(out), nb::cast(structure));
           })
      .def("trace_count", [](const PyFunctionCore& f) { return internal::trace_count(*f.core); })
      .def(
          "graph_text", [](const PyFunctionCore& f, int trace) { return internal::graph_text(*f.core, trace); },
          nb::arg("trace") = -1)
      .def("retrace_reasons", [](const PyFunctionCore& f) { return internal::retrace_reasons(*f.core); });

  // Control flow with Python callables (duet/_control_flow.py flattens their structures): each callable runs
  // with the GIL, the engine without it. The callables return flat lists of tensors.
  auto python_list = [](const nb::object& fn, const std::vector<Tensor>* args) {
    nb::gil_scoped_acquire gil;
    nb::object r = args ? fn(nb::cast(*args)) : fn();
    std::vector<Tensor> out;
    for (nb::handle o : r) out.push_back(to_tensor(o));
    return out;
  };
  m.def("_cond", [python_list](nb::handle pred, nb::object then_fn, nb::object else_fn) {
    Tensor p = to_tensor(pred);
    std::vector<Tensor> out;
    {
      nb::gil_scoped_release release;
      out = cond(
          p, [&] { return python_list(then_fn, nullptr); }, [&] { return python_list(else_fn, nullptr); });
    }
    return out;
  });
  m.def("_while_loop", [python_list](nb::object cond_fn, nb::object body_fn, std::vector<Tensor> vars,
                                     std::int64_t maximum_iterations) {
    auto cond_call = [&](const std::vector<Tensor>& v) {
      std::vector<Tensor> r = python_list(cond_fn, &v);
      if (r.size() != 1) throw ValueError("[while_loop] cond must return one boolean tensor");
      return r[0];
    };
    auto body_call = [&](const std::vector<Tensor>& v) { return python_list(body_fn, &v); };
    std::vector<Tensor> out;
    {
      nb::gil_scoped_release release;
      out = while_loop(cond_call, body_call, vars, {.maximum_iterations = maximum_iterations});
    }
    return out;
  });
  // py_function: fn runs on concrete tensors, now when eager and on every run when traced; its results are
  // checked against the declared dtypes (and shapes where given). The Python callable is kept alive by the
  // graph that calls it.
  m.def("_py_function", [python_list](nb::object fn, std::vector<Tensor> inputs, std::vector<DType> dtypes,
                                      std::vector<std::vector<std::int64_t>> shapes, std::string name) {
    std::vector<TensorSpec> specs;
    for (std::size_t i = 0; i < dtypes.size(); ++i) specs.push_back({dtypes[i], Shape(shapes.at(i))});
    // The graph may be destroyed on any thread: the callable is released with the GIL held.
    std::shared_ptr<nb::object> keep(new nb::object(fn), [](nb::object* o) {
      if (!Py_IsInitialized()) return;  // the interpreter is gone: nothing left to release
      nb::gil_scoped_acquire gil;
      delete o;
    });
    HostFn host = [keep, python_list](const std::vector<Tensor>& in) { return python_list(*keep, &in); };
    std::vector<Tensor> out;
    {
      nb::gil_scoped_release release;
      out = host_function(host, inputs, specs, {.name = name});
    }
    return out;
  });

  // A Python callable registered as a host function by name, so graphs that call it can be saved and loaded
  // (the loading program registers the same name). It is called as fn(tensors, dtypes), the dtypes being those
  // the calling site declared, and returns the converted results.
  m.def("_register_py_function", [](std::string name, nb::object fn) {
    std::shared_ptr<nb::object> keep(new nb::object(fn), [](nb::object* o) {
      if (!Py_IsInitialized()) return;
      nb::gil_scoped_acquire gil;
      delete o;
    });
    register_host_function(name, [keep](const std::vector<Tensor>& in) {
      const std::vector<TensorSpec>* specs = internal::host_output_specs();
      nb::gil_scoped_acquire gil;
      nb::list dtypes;
      if (specs)
        for (const TensorSpec& s : *specs) dtypes.append(dtype_object(s.dtype));
      nb::object r = (*keep)(nb::cast(in), dtypes);
      std::vector<Tensor> out;
      for (nb::handle o : r) out.push_back(to_tensor(o));
      return out;
    });
  });
  m.def("_py_function_by_name", [](std::string name, std::vector<Tensor> inputs, std::vector<DType> dtypes,
                                   std::vector<std::vector<std::int64_t>> shapes) {
    std::vector<TensorSpec> specs;
    for (std::size_t i = 0; i < dtypes.size(); ++i) specs.push_back({dtypes[i], Shape(shapes.at(i))});
    nb::gil_scoped_release release;
    return host_function(name, inputs, specs);
  });
  m.def("_py_function_registered", [](const std::string& name) { return host_function_registered(name); });

  m.def("_tracing", [] { return graph::current_graph_tracer() != nullptr; });
  m.def("run_functions_eagerly", [](bool eagerly) { config::run_functions_eagerly(eagerly); });
  m.def("functions_run_eagerly", [] { return config::functions_run_eagerly(); });
}

}  // namespace duet::python
