#pragma once
// The duet Python extension (_duet): one file per part, each with a bind_* function called by module.cpp.
// Kernels and compiled steps run without the GIL; it is taken back only where Python code runs (a traced
// Python function's body, host callbacks).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <duet/duet.h>

namespace nb = nanobind;

namespace duet::python {

void bind_errors(nb::module_& m);
void bind_tensor(nb::module_& m);
void bind_api(nb::module_& m);
void bind_autodiff(nb::module_& m);
void bind_function(nb::module_& m);
void bind_layers(nb::module_& m);
void bind_models(nb::module_& m);

// A Tensor from a bound Tensor, a Variable (its value, read now), or anything NumPy can make an array of
// (copied; Python floats become float32 and ints int32, as TensorFlow makes them, unless dtype says).
// Python values and arrays as tensors, converted with TensorFlow's rules. An array whose memory nobody can
// change behind the tensor's back (read-only, or a temporary of the conversion) is shared, not copied; with
// `share`, any array of the exact dtype is (fit's data: read while the caller holds it).
Tensor to_tensor(nb::handle h, std::optional<DType> dtype = std::nullopt, bool share = false);

// Inside a catch of nb::python_error from Python code the engine called: an engine error that was translated
// to a Python exception on its way out of C++ (and came back unchanged) is rethrown as the C++ error it was,
// so the engine handles it as its own (a symbolic value read in a Python layer makes it a host step); any
// other Python exception is rethrown as it is.
[[noreturn]] void rethrow_engine_error(nb::python_error& e);

// Shapes and layer configs between Python and C++: a shape as a tuple with None for unknown dims; a config
// value from a Python bool, int, float, str or sequence of ints (DTypeError naming owner and key otherwise).
Shape shape_from(nb::handle h);
nb::tuple shape_tuple(const Shape& s);
ConfigValue config_value(nb::handle v, const std::string& owner, const std::string& key);
nb::dict config_dict(const LayerConfig& c);
LayerConfig config_from(nb::handle dict, const std::string& owner);  // None values are left out

// The Python dtype object for a DType (duet.float32, ...).
nb::object dtype_object(DType d);

}  // namespace duet::python
