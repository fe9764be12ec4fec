// duet.keras's layers, engine side. Every layer is a C++ duet::Layer:
//  * built-in classes are made from their registered configs (_make_layer: keyword arguments in, the layer
//    out), so a class registered in C++ reaches Python with no binding code of its own;
//  * a Python subclass of keras.layers.Layer is a C++ layer through a trampoline whose build, call,
//    compute_output_shape and get_config run the Python methods (with the GIL, which the engine does not
//    hold while it runs). duet/keras/_layer.py gives them Keras's signatures.
#include <nanobind/stl/function.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/trampoline.h>

#include "bindings.h"
#include "trampoline.h"

namespace duet::python {

// A Python sequence of dims (None or -1 for unknown) as a Shape, and back as a tuple with None.
Shape shape_from(nb::handle h) {
  std::vector<std::int64_t> dims;
  for (nb::handle d : h) dims.push_back(d.is_none() ? Shape::kUnknown : nb::cast<std::int64_t>(d));
  return Shape(dims);
}

nb::tuple shape_tuple(const Shape& s) {
  nb::list out;
  for (auto d : s) out.append(d < 0 ? nb::none() : nb::cast(d));
  return nb::tuple(out);
}

ConfigValue config_value(nb::handle v, const std::string& owner, const std::string& key) {
  if (PyBool_Check(v.ptr())) return v.ptr() == Py_True;
  if (PyLong_Check(v.ptr())) return nb::cast<std::int64_t>(v);
  if (PyFloat_Check(v.ptr())) return nb::cast<double>(v);
  if (nb::isinstance<nb::str>(v)) return nb::cast<std::string>(v);
  if (nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v)) {
    std::vector<std::int64_t> ints;
    for (nb::handle i : v) {
      // A tuple of integer pairs (Keras's ZeroPadding2D(((1, 2), (3, 4)))) is stored flat: (1, 2, 3, 4).
      if (nb::isinstance<nb::list>(i) || nb::isinstance<nb::tuple>(i)) {
        ConfigValue inner = config_value(i, owner, key);
        if (const auto* part = std::get_if<std::vector<std::int64_t>>(&inner)) {
          ints.insert(ints.end(), part->begin(), part->end());
          continue;
        }
      }
      if (!PyLong_Check(i.ptr()) || PyBool_Check(i.ptr())) {
        throw DTypeError("[" + owner + "] " + key +
                         " must be an integer, a string, a number, a bool or a tuple of "
                         "integers; got a sequence holding " +
                         nb::cast<std::string>(nb::str(i.type().attr("__name__"))));
      }
      ints.push_back(nb::cast<std::int64_t>(i));
    }
    return ints;
  }
  throw DTypeError("[" + owner + "] " + key +
                   " must be an integer, a string, a number, a bool or a tuple of integers; "
                   "got " +
                   nb::cast<std::string>(nb::str(v.type().attr("__name__"))));
}

nb::dict config_dict(const LayerConfig& c) {
  nb::dict d;
  for (const auto& [k, v] : c.items()) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
            d[k.c_str()] = nb::tuple(nb::cast(x));
          else
            d[k.c_str()] = x;
        },
        v);
  }
  return d;
}

LayerConfig config_from(nb::handle dict, const std::string& owner) {
  LayerConfig c(owner);
  for (auto [k, v] : nb::cast<nb::dict>(dict)) {
    const std::string key = nb::cast<std::string>(k);
    if (!v.is_none()) c.set(key, config_value(v, owner, key));
  }
  return c;
}

namespace {

using PyLayer = PyLayerT<Layer>;

// A keras.initializers object's engine initializer: its name and the arguments given.
Initializer initializer_of(const std::string& name, nb::handle args) {
  std::map<std::string, ConfigValue> a;
  for (auto [k, v] : nb::cast<nb::dict>(args)) {
    const std::string key = nb::cast<std::string>(k);
    if (!v.is_none()) a[key] = config_value(v, "Initializer " + name, key);
  }
  return initializers::make(name, std::move(a));
}

// Initializers from Python: a Keras name, a keras.initializers object, or a callable (shape, dtype) -> tensor
// run with the GIL.
Initializer initializer_from(nb::handle h) {
  if (nb::isinstance<nb::str>(h)) return Initializer(nb::cast<std::string>(h));
  if (h.is_none()) return Initializer("glorot_uniform");
  if (nb::hasattr(h, "_duet_name"))
    return initializer_of(nb::cast<std::string>(h.attr("_duet_name")), h.attr("_duet_args"));
  auto fn = std::make_shared<nb::object>(nb::borrow(h));
  return Initializer(InitializerFn([fn](const Shape& s, DType d) {
    nb::gil_scoped_acquire gil;
    return run_python([&] { return to_tensor((*fn)(shape_tuple(s), dtype_object(d)), d); });
  }));
}

}  // namespace

void bind_layers(nb::module_& m) {
  nb::class_<Layer, PyLayer>(m, "Layer", nb::dynamic_attr(), nb::is_weak_referenceable())
      .def(nb::init<std::string, std::string>(), nb::arg("type"), nb::arg("name"))
      // _call(inputs, training): the layer called (built on first use, recorded when the inputs are an
      // Input's, traced inside a function), without the GIL.
      .def("_call",
           [](std::shared_ptr<Layer> self, std::vector<Tensor> xs, bool training) {
             nb::gil_scoped_release release;
             return std::vector<Tensor>((*self)(xs, training));
           })
      .def_prop_ro("name", &Layer::name)
      .def_prop_ro("_type", &Layer::type)
      .def_prop_ro("built", &Layer::built)
      .def_prop_rw("trainable", &Layer::trainable, &Layer::set_trainable)
      .def_prop_rw("dynamic", &Layer::dynamic, &Layer::set_dynamic)
      .def_prop_ro("weights", &Layer::weights)
      .def_prop_ro("trainable_weights", &Layer::trainable_weights)
      .def_prop_ro("non_trainable_weights", &Layer::non_trainable_weights)
      .def_prop_ro("_sublayers", &Layer::sublayers)
      .def_prop_ro("runs_as_host_step", &Layer::runs_as_host_step)
      .def("count_params", &Layer::count_params)
      .def("_config",
           [](const Layer& l) -> nb::object {
             auto c = l.get_config();
             return c ? nb::object(config_dict(*c)) : nb::none();
           })
      .def(
          "_add_weight",
          [](Layer& l, const std::string& name, nb::handle shape, nb::handle initializer, bool trainable, DType dtype) {
            return l.add_weight(name, shape_from(shape),
                                {.initializer = initializer_from(initializer), .trainable = trainable, .dtype = dtype});
          },
          nb::arg("name"), nb::arg("shape"), nb::arg("initializer"), nb::arg("trainable"), nb::arg("dtype"))
      .def("_track", [](Layer& self, std::shared_ptr<Layer> child) {
        if (auto* py = dynamic_cast<PyLayer*>(&self)) py->track_child(std::move(child));
        if (auto* py = dynamic_cast<PyLayerT<Model>*>(&self)) py->track_child(std::move(child));
        if (auto* py = dynamic_cast<PyLayerT<Sequential>*>(&self)) py->track_child(std::move(child));
      });

  // The engine's activations by name (keras.activations): the names, and one applied to a tensor.
  m.def("_activation_names", [] { return activation_names(); });
  // The engine's initializers: [(name, [(argument, default or None)])], and one drawn (keras.initializers).
  m.def("_initializers", [] {
    nb::list out;
    for (const initializers::Info& info : initializers::registered()) {
      nb::list args;
      for (const auto& [arg, def] : info.args) {
        nb::object d = nb::none();
        if (def) std::visit([&](const auto& x) { d = nb::cast(x); }, *def);
        args.append(nb::make_tuple(arg, d));
      }
      out.append(nb::make_tuple(info.name, args));
    }
    return out;
  });
  m.def("_check_initializer", [](const std::string& name, nb::handle args) { (void)initializer_of(name, args); });
  m.def("_initialize", [](const std::string& name, nb::handle args, std::vector<std::int64_t> shape, DType dtype) {
    Initializer init = initializer_of(name, args);
    nb::gil_scoped_release release;
    return init.fn(Shape(shape), dtype);
  });
  m.def("_activation", [](const std::string& name, nb::handle x) {
    auto fn = activation(name);
    Tensor t = to_tensor(x);
    nb::gil_scoped_release release;
    return fn(t);
  });

  // A built-in (or C++-registered) layer class from Keras-style arguments: class -> positional names.
  m.def("_layer_classes", [] {
    nb::dict d;
    for (const auto& [name, positional] : registered_layers()) d[name.c_str()] = nb::cast(positional);
    return d;
  });
  m.def("_make_layer", [](const std::string& cls, nb::dict kwargs) {
    LayerConfig c = config_from(kwargs, cls);
    LayerRef l = layer_from_config(cls, c);
    const auto unread = c.unread();
    if (!unread.empty()) {
      std::string names;
      for (const auto& k : unread) names += (names.empty() ? "'" : ", '") + k + "'";
      throw DTypeError(cls + "() got unexpected keyword argument" + (unread.size() > 1 ? "s " : " ") + names +
                       ": duet's " + cls + " does not take " + (unread.size() > 1 ? "them" : "it") +
                       " (see help(duet.keras.layers." + cls + ") for the arguments it has)");
    }
    return l.ptr();
  });
  // A layer class made in Python (duet.keras.saving.register_keras_serializable): load_model rebuilds it by
  // calling `factory(config)` with the GIL.
  m.def("_register_layer", [](const std::string& cls, nb::object factory) {
    auto fn = std::make_shared<nb::object>(std::move(factory));
    register_layer(cls, [fn](const LayerConfig& c) {
      nb::gil_scoped_acquire gil;
      return run_python([&] { return LayerRef(nb::cast<std::shared_ptr<Layer>>((*fn)(config_dict(c)))); });
    });
  });
  m.def(
      "_input",
      [](nb::handle shape, DType dtype, const std::string& name) {
        std::vector<std::int64_t> dims;
        for (nb::handle d : shape) {
          if (d.is_none()) {
            throw ShapeError(
                "[Input] shape has an unknown dim (None): duet's Input needs every per-example dim "
                "known for now (variable-length inputs are planned, issue 29); the batch dim is added "
                "as None");
          }
          dims.push_back(nb::cast<std::int64_t>(d));
        }
        return Input(dims, dtype, name);
      },
      nb::arg("shape"), nb::arg("dtype"), nb::arg("name"));
}

}  // namespace duet::python
