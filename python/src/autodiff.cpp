// duet.Variable and the engine side of duet.GradientTape (duet/_tape.py gives it TensorFlow's context
// manager and nested structures).
#include "bindings.h"

namespace duet::python {
namespace {

// A tape made when its `with` block starts and closed when it ends, on that thread (the C++ tape records on
// the thread that made it; the Python object may be collected anywhere).
struct PyTape {
  TapeOptions options;
  std::unique_ptr<GradientTape> tape;
  std::vector<nb::object> pending_watch;  // watch() before the block starts
  bool entered = false, exited = false;

  GradientTape& get(const char* what) {
    if (!tape) {
      throw StateError(std::string("[GradientTape.") + what +
                       "] the tape has not recorded yet: use it as `with duet.GradientTape() as tape:`");
    }
    return *tape;
  }
};

void watch_one(GradientTape& t, nb::handle h) {
  if (nb::isinstance<Variable>(h)) {
    t.watch(nb::cast<Variable>(h));
  } else {
    t.watch(nb::cast<Tensor>(h));
  }
}

Source source_of(nb::handle h) {
  if (nb::isinstance<Variable>(h)) return Source(nb::cast<Variable>(h));
  if (nb::isinstance<Tensor>(h)) return Source(nb::cast<Tensor>(h));
  throw nb::type_error(
      ("gradient sources must be tensors or variables, got " + nb::cast<std::string>(nb::str(h.type()))).c_str());
}

}  // namespace

void bind_autodiff(nb::module_& m) {
  nb::class_<Variable>(m, "Variable", "A mutable tensor (weights): read by ops, written by assign*.")
      .def(
          "__init__",
          [](Variable* self, nb::handle initial_value, bool trainable, std::optional<std::string> name,
             std::optional<DType> dtype) {
            Tensor init = to_tensor(initial_value, dtype);
            VariableOptions o{.trainable = trainable};
            if (name) o.name = *name;
            new (self) Variable(init, o);
          },
          nb::arg("initial_value"), nb::arg("trainable") = true, nb::arg("name") = nb::none(),
          nb::arg("dtype") = nb::none())
      .def(
          "value", [](const Variable& v) { return v.value(); }, "The current value (a read, recorded by tapes).")
      .def("read_value", [](const Variable& v) { return v.value(); })
      .def("numpy", [](const Variable& v) { return v.value(); })
      .def_prop_ro("name", [](const Variable& v) { return v.name(); })
      .def_prop_ro("trainable", [](const Variable& v) { return v.trainable(); })
      .def_prop_ro("_shape", [](const Variable& v) { return v.shape().to_vector(); })
      .def_prop_ro("_dtype", [](const Variable& v) { return v.dtype(); })
      .def(
          "assign", [](Variable& v, nb::handle x) { return v.assign(to_tensor(x, v.dtype())); }, nb::arg("value"))
      .def(
          "assign_add", [](Variable& v, nb::handle x) { return v.assign_add(to_tensor(x, v.dtype())); },
          nb::arg("delta"))
      .def(
          "assign_sub", [](Variable& v, nb::handle x) { return v.assign_sub(to_tensor(x, v.dtype())); },
          nb::arg("delta"))
      .def("_id", [](const Variable& v) { return reinterpret_cast<std::uintptr_t>(v.ref().get()); });

  nb::class_<PyTape>(m, "_Tape")
      .def(
          "__init__",
          [](PyTape* self, bool persistent, bool watch_accessed_variables) {
            new (self) PyTape{{.persistent = persistent, .watch_accessed_variables = watch_accessed_variables}, {}, {}};
          },
          nb::arg("persistent") = false, nb::arg("watch_accessed_variables") = true)
      .def("enter",
           [](PyTape& t) {
             if (t.entered) throw StateError("[GradientTape] a tape records in one `with` block only; make a new one");
             t.entered = true;
             t.tape = std::make_unique<GradientTape>(t.options);
             for (const auto& w : t.pending_watch) watch_one(*t.tape, w);
             t.pending_watch.clear();
           })
      .def("exit",
           [](PyTape& t) {
             if (t.tape) t.tape->close();
             t.exited = true;
           })
      .def("watch",
           [](PyTape& t, nb::handle x) {
             if (!t.tape) {
               t.pending_watch.emplace_back(nb::borrow(x));
             } else {
               watch_one(*t.tape, x);
             }
           })
      .def("watched_variables", [](PyTape& t) { return t.get("watched_variables").watched_variables(); })
      .def(
          "stop_recording", [](PyTape& t) { return new GradientTape::Pause(t.get("stop_recording")); },
          nb::rv_policy::take_ownership)
      // gradient(target, flat sources, output_gradient, zeros for unconnected) -> flat gradients (None where
      // a source is not connected and zeros were not asked for).
      .def(
          "gradient",
          [](PyTape& t, nb::handle target, nb::list sources, nb::handle output_gradient, bool zeros) {
            GradientTape& tape = t.get("gradient");
            Tensor y = to_tensor(target);
            std::vector<Source> srcs;
            for (nb::handle s : sources) srcs.push_back(source_of(s));
            GradientOptions o{.unconnected = zeros ? UnconnectedGradients::Zero : UnconnectedGradients::None};
            if (!output_gradient.is_none()) o.output_gradient = to_tensor(output_gradient, y.dtype());
            std::vector<Tensor> grads;
            {
              nb::gil_scoped_release release;
              grads = tape.gradient(y, srcs, o);
            }
            nb::list out;
            for (const Tensor& g : grads) {
              if (g.defined()) {
                out.append(nb::cast(g));
              } else {
                out.append(nb::none());
              }
            }
            return out;
          },
          nb::arg("target"), nb::arg("sources"), nb::arg("output_gradient").none(), nb::arg("zeros"));
  nb::class_<GradientTape::Pause>(m, "_TapePause");
}

}  // namespace duet::python
