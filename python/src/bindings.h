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

// A Tensor from a bound Tensor, a Variable (its value, read now), or anything NumPy can make an array of
// (copied; Python floats become float32 and ints int32, as TensorFlow makes them, unless dtype says).
Tensor to_tensor(nb::handle h, std::optional<DType> dtype = std::nullopt);

// The Python dtype object for a DType (duet.float32, ...).
nb::object dtype_object(DType d);

}  // namespace duet::python
