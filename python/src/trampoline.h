#pragma once
// The trampoline that makes a Python subclass of keras.layers.Layer (or keras.Model) a C++ duet::Layer:
// build, call, compute_output_shape and get_config run the Python methods through duet/keras/_layer.py's
// _duet_* dispatchers, which adapt Keras's conventions (one input or a list, `training` only when call takes
// it, the structure call returned). The engine runs without the GIL; these take it while Python runs.
#include <nanobind/trampoline.h>

#include "bindings.h"

namespace duet::python {

// Python code that C++ layer machinery calls: a duet error raised inside (a symbolic value read in a Python
// layer's call) goes back to C++ as the error it was, so the engine's own handling (a host step) applies.
template <class F>
auto run_python(F&& f) {
  try {
    return f();
  } catch (nb::python_error& e) {
    rethrow_engine_error(e);
  }
}

// The trampoline: a Python subclass of Layer (or Model) overrides these through duet/keras/_layer.py's
// _duet_* dispatchers, which adapt Keras's conventions (one input or a list, `training` only when call takes
// it, the structure call returned).
template <class Base>
class PyLayerT : public Base {
 public:
  template <class... A>
  explicit PyLayerT(A&&... args) : Base(std::forward<A>(args)...) {}

  // False for models Python made from C++ constructors (functional, Sequential): the engine's own methods run.
  bool python_overrides = true;

  void build(const std::vector<Shape>& shapes) override {
    if (!python_overrides) return Base::build(shapes);
    nb::gil_scoped_acquire gil;
    run_python([&] {
      nb::list s;
      for (const auto& x : shapes) s.append(shape_tuple(x));
      self().attr("_duet_build")(s);
      return 0;
    });
  }
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override {
    if (!python_overrides) return Base::call(xs, training);
    nb::gil_scoped_acquire gil;
    return run_python([&] {
      nb::object r = self().attr("_duet_call")(nb::cast(xs), training);
      std::vector<Tensor> out;
      for (nb::handle o : r) out.push_back(to_tensor(o));
      return out;
    });
  }
  Tensor call(const Tensor& x, bool training) override {
    if (!python_overrides) return Base::call(x, training);
    return call(std::vector<Tensor>{x}, training).at(0);
  }
  std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& shapes) override {
    if (!python_overrides) return Base::compute_output_shape(shapes);
    nb::gil_scoped_acquire gil;
    return run_python([&]() -> std::optional<std::vector<Shape>> {
      nb::list s;
      for (const auto& x : shapes) s.append(shape_tuple(x));
      nb::object r = self().attr("_duet_output_shape")(s);
      if (r.is_none()) return std::nullopt;
      std::vector<Shape> out;
      for (nb::handle o : r) out.push_back(shape_from(o));
      return out;
    });
  }
  std::optional<LayerConfig> get_config() const override {
    if (!python_overrides) return Base::get_config();
    nb::gil_scoped_acquire gil;
    return run_python([&]() -> std::optional<LayerConfig> {
      nb::object r = self().attr("_duet_config")();
      if (r.is_none()) return std::nullopt;
      return config_from(r, this->type());
    });
  }
  void track_child(std::shared_ptr<Layer> child) { this->add_child(std::move(child)); }

 private:
  nb::handle self() const { return nb_trampoline.base(); }
  nb::detail::trampoline nb_trampoline{this};
};

}  // namespace duet::python
