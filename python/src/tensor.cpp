// duet.Tensor: NumPy both ways (numpy() is a read-only view of the tensor's memory, no copy; arrays come in
// copied, converted to duet's dtypes), DLPack out, Python operators with TensorFlow's weak typing of Python
// numbers (t + 1 stays float32), and the rest of the Python protocol (len, bool, float, int, repr).
#include "bindings.h"
#include "core/tensor_impl.h"
#include "ops/api.h"

namespace duet::python {
namespace {

// Set once by duet/__init__.py and kept for the life of the process: plain handles holding a reference that
// is never dropped (a static nb::object would be released after the interpreter is gone, at exit).
nb::handle g_dtype_objects[5];  // by DType value
nb::handle g_shape_class;       // duet.TensorShape
nb::handle g_indexing;          // duet._indexing module (getitem, iteration)

int dtype_index(DType d) { return static_cast<int>(d); }

// The DType of an array's element type; small integer and half-precision types widen to ones duet has.
DType dtype_of_array(const nb::dlpack::dtype& t) {
  using Code = nb::dlpack::dtype_code;
  const auto code = static_cast<Code>(t.code);
  if (t.lanes != 1) throw DTypeError("[convert_to_tensor] vector element types are not supported");
  if (code == Code::Bool) return DType::Bool;
  if (code == Code::Float && (t.bits == 16 || t.bits == 32)) return DType::Float32;
  if (code == Code::Float && t.bits == 64) return DType::Float64;
  if (code == Code::Bfloat && t.bits == 16) return DType::Float32;
  if (code == Code::Int && t.bits <= 32) return DType::Int32;
  if (code == Code::Int && t.bits == 64) return DType::Int64;
  if (code == Code::UInt && t.bits <= 16) return DType::Int32;
  if (code == Code::UInt && t.bits <= 64) return DType::Int64;
  throw DTypeError("[convert_to_tensor] arrays of this element type (code " + std::to_string(t.code) + ", " +
                   std::to_string(t.bits) +
                   " bits) have no duet dtype; duet has bool, int32, int64, float32 and "
                   "float64: convert the array first (numpy's astype)");
}

nb::dlpack::dtype dlpack_dtype(DType d) {
  switch (d) {
    case DType::Bool:
      return nb::dtype<bool>();
    case DType::Int32:
      return nb::dtype<std::int32_t>();
    case DType::Int64:
      return nb::dtype<std::int64_t>();
    case DType::Float32:
      return nb::dtype<float>();
    case DType::Float64:
      break;
  }
  return nb::dtype<double>();
}

using ArrayIn = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// A copy of a C-contiguous array whose element type is one of duet's (duet/_convert.py converts others).
Tensor from_array(const ArrayIn& a, std::optional<DType> want) {
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < a.ndim(); ++i) dims.push_back(static_cast<std::int64_t>(a.shape(i)));
  const DType src = dtype_of_array(a.dtype());
  if (a.dtype() != dlpack_dtype(src)) {
    throw DTypeError(
        "[convert_to_tensor] arrays reach the engine in one of duet's dtypes (bool, int32, int64, "
        "float32, float64); convert it with numpy's astype first");
  }
  return from_data(a.data(), src, Shape(dims), want.value_or(src));
}

// The tensor over an array's memory, no copy; nullopt when its element type is not exactly one of duet's or
// its data is misaligned. The array is kept alive until the last tensor using it goes; that may happen on any
// thread, so the reference is dropped under the GIL (and leaked once the interpreter is shutting down).
std::optional<Tensor> share_array(const ArrayIn& a) {
  const DType d = dtype_of_array(a.dtype());
  if (a.dtype() != dlpack_dtype(d) || reinterpret_cast<std::uintptr_t>(a.data()) % dtype_size(d) != 0) return {};
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < a.ndim(); ++i) dims.push_back(static_cast<std::int64_t>(a.shape(i)));
  auto* keep = new ArrayIn(a);
  return from_external(const_cast<void*>(a.data()), d, Shape(dims), [keep] {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
    nb::gil_scoped_acquire gil;
    delete keep;
  });
}

// Whether an array's memory can change only through the array itself: read-only, or a temporary nobody else
// holds (its only reference is `arr`, and it owns its data).
bool private_array(nb::handle arr) {
  if (!nb::cast<bool>(arr.attr("flags").attr("writeable"))) return true;
  return Py_REFCNT(arr.ptr()) == 1 && arr.attr("base").is_none();
}

}  // namespace

nb::object dtype_object(DType d) { return nb::borrow(g_dtype_objects[dtype_index(d)]); }

// A read-only NumPy array over the tensor's memory, keeping the tensor alive (no copy); a rank-0 tensor gives
// a NumPy scalar, as TensorFlow's numpy() does.
nb::object to_numpy(const Tensor& t) {
  if (!t.defined()) throw ValueError("[numpy] the tensor handle is undefined");
  const void* data = nullptr;
  switch (t.dtype()) {
    case DType::Bool:
      data = t.data<bool>();
      break;
    case DType::Int32:
      data = t.data<std::int32_t>();
      break;
    case DType::Int64:
      data = t.data<std::int64_t>();
      break;
    case DType::Float32:
      data = t.data<float>();
      break;
    case DType::Float64:
      data = t.data<double>();
      break;
  }
  std::vector<std::size_t> shape;
  for (auto d : t.shape()) shape.push_back(static_cast<std::size_t>(d));
  auto* keep = new Tensor(t);
  nb::capsule owner(keep, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  nb::ndarray<nb::numpy, nb::ro> view(data, shape.size(), shape.data(), owner, nullptr, dlpack_dtype(t.dtype()));
  nb::object arr = nb::cast(view, nb::rv_policy::reference);
  if (shape.empty()) return arr.attr("__getitem__")(nb::tuple());
  return arr;
}

Tensor to_tensor(nb::handle h, std::optional<DType> dtype, bool share) {
  if (nb::isinstance<Tensor>(h)) {
    Tensor t = nb::cast<Tensor>(h);
    return dtype && *dtype != t.dtype() ? cast(t, *dtype) : t;
  }
  if (nb::isinstance<Variable>(h)) {
    Tensor t = nb::cast<Variable>(h).value();
    return dtype && *dtype != t.dtype() ? cast(t, *dtype) : t;
  }
  // Python values and other arrays: duet/_convert.py applies TensorFlow's dtype rules through NumPy.
  nb::object arr = nb::module_::import_("duet._convert").attr("as_array")(h, dtype ? dtype_object(*dtype) : nb::none());
  ArrayIn a = nb::cast<ArrayIn>(arr);
  if ((share || private_array(arr)) && (!dtype || *dtype == dtype_of_array(a.dtype()))) {
    if (std::optional<Tensor> t = share_array(a)) return *t;
  }
  return from_array(a, dtype);
}

namespace {

// The other operand of a binary operator: Python numbers take the tensor's dtype (weak typing, as the C++
// operators and TensorFlow do); anything else converts as convert_to_tensor does.
Tensor operand(const Tensor& like, nb::handle h) {
  if (nb::isinstance<Tensor>(h)) return nb::cast<Tensor>(h);
  if (PyBool_Check(h.ptr())) return internal::lit(like, h.ptr() == Py_True);
  if (PyLong_Check(h.ptr())) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    if (overflow)
      throw ValueError("[operator] the Python int " + nb::cast<std::string>(nb::str(h)) + " does not fit in int64");
    return internal::lit(like, static_cast<std::int64_t>(v));
  }
  if (PyFloat_Check(h.ptr())) return internal::lit(like, PyFloat_AS_DOUBLE(h.ptr()));
  return to_tensor(h);
}

template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor forward(const Tensor& a, nb::handle b) {
  Tensor rhs = operand(a, b);
  nb::gil_scoped_release release;
  return F(a, rhs);
}
template <Tensor (*F)(const Tensor&, const Tensor&)>
Tensor reflected(const Tensor& a, nb::handle b) {
  Tensor lhs = operand(a, b);
  nb::gil_scoped_release release;
  return F(lhs, a);
}

Tensor matmul_of_two(const Tensor& a, const Tensor& b) { return matmul(a, b); }  // @ (no transposes)

nb::object shape_of(const Tensor& t) {
  nb::list dims;
  for (auto d : t.shape()) {
    if (d < 0) {
      dims.append(nb::none());
    } else {
      dims.append(nb::int_(d));
    }
  }
  return g_shape_class.is_valid() ? g_shape_class(nb::tuple(dims)) : nb::object(nb::tuple(dims));
}

}  // namespace

void bind_tensor(nb::module_& m) {
  nb::enum_<DType>(m, "_DTypeEnum")
      .value("bool", DType::Bool)
      .value("int32", DType::Int32)
      .value("int64", DType::Int64)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64);
  m.def("_set_python_types", [](nb::list dtypes, nb::object shape_class, nb::object indexing) {
    if (dtypes.size() != 5) throw nb::value_error("_set_python_types takes the 5 dtypes");
    for (std::size_t i = 0; i < 5; ++i) g_dtype_objects[i] = dtypes[i].inc_ref();
    g_shape_class = shape_class.inc_ref();
    g_indexing = indexing.inc_ref();
  });

  nb::class_<Tensor>(m, "Tensor", "A tensor: concrete (it holds values) or symbolic (while a function traces).")
      .def_prop_ro("shape", &shape_of, "The shape (None for a dim unknown while tracing).")
      .def_prop_ro("dtype", [](const Tensor& t) { return dtype_object(t.dtype()); })
      .def_prop_ro("ndim", [](const Tensor& t) { return t.rank(); })
      .def_prop_ro("_is_symbolic", &Tensor::is_symbolic)
      .def("numpy", &to_numpy, "The values as a NumPy array (read-only, sharing the tensor's memory).")
      .def(
          "__array__",
          [](const Tensor& t, nb::handle dtype, nb::handle copy) {
            nb::object a = nb::module_::import_("numpy").attr("asarray")(to_numpy(t));
            if (!dtype.is_none()) a = a.attr("astype")(dtype);
            if (!copy.is_none() && nb::cast<bool>(copy)) a = a.attr("copy")();
            return a;
          },
          nb::arg("dtype").none() = nb::none(), nb::arg("copy").none() = nb::none())
      // DLPack consumers may write, so they get a copy of the values (numpy's array of the read-only view).
      .def("__dlpack__",
           [](const Tensor& t, nb::kwargs kwargs) {
             nb::object arr = nb::module_::import_("numpy").attr("array")(to_numpy(t));
             return arr.attr("__dlpack__")(**kwargs);
           })
      .def("__dlpack_device__", [](const Tensor&) { return nb::make_tuple(1, 0); })  // kDLCPU, device 0
      .def("__repr__", &Tensor::str)
      .def("__str__", &Tensor::str)
      .def("__len__",
           [](const Tensor& t) {
             if (t.rank() == 0) throw nb::type_error("len() of a scalar tensor (it has no dims)");
             if (t.shape()[0] < 0)
               throw nb::type_error("len() of a tensor whose first dim is unknown while tracing; use duet.shape(t)[0]");
             return t.shape()[0];
           })
      .def("__bool__", [](const Tensor& t) { return static_cast<bool>(t); })
      .def("__float__", [](const Tensor& t) { return t.item<double>(); })
      .def("__int__", [](const Tensor& t) { return t.item<std::int64_t>(); })
      .def("__index__",
           [](const Tensor& t) {
             if (!is_integral(t.dtype()))
               throw nb::type_error(
                   ("only integer tensors can be used as an index, got " + std::string(dtype_name(t.dtype()))).c_str());
             return t.item<std::int64_t>();
           })
      .def(
          "__getitem__", [](nb::handle self, nb::handle key) { return g_indexing.attr("getitem")(self, key); },
          nb::arg("key").none())  // x[None] adds a dim
      .def("__iter__", [](nb::handle self) { return g_indexing.attr("iterate")(self); })
      .def("__add__", &forward<add>)
      .def("__radd__", &reflected<add>)
      .def("__sub__", &forward<sub>)
      .def("__rsub__", &reflected<sub>)
      .def("__mul__", &forward<mul>)
      .def("__rmul__", &reflected<mul>)
      // As TensorFlow's: / of integers is true division (float64), // and % round toward minus infinity.
      .def("__truediv__", &forward<api::true_divide>)
      .def("__rtruediv__", &reflected<api::true_divide>)
      .def("__floordiv__", &forward<floor_div>)
      .def("__rfloordiv__", &reflected<floor_div>)
      .def("__mod__", &forward<floor_mod>)
      .def("__rmod__", &reflected<floor_mod>)
      .def("__pow__", &forward<pow>)
      .def("__rpow__", &reflected<pow>)
      .def("__matmul__", &forward<matmul_of_two>)
      .def("__rmatmul__", &reflected<matmul_of_two>)
      .def("__lt__", &forward<less>)
      .def("__le__", &forward<less_equal>)
      .def("__gt__", &forward<greater>)
      .def("__ge__", &forward<greater_equal>)
      .def("__eq__", &forward<equal>)
      .def("__ne__", &forward<not_equal>)
      .def("__and__", &forward<logical_and>)
      .def("__or__", &forward<logical_or>)
      .def("__invert__", [](const Tensor& a) { return logical_not(a); })
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__pos__", [](const Tensor& a) { return a; })
      .def("__abs__", [](const Tensor& a) { return abs(a); })
      // As TensorFlow's: == is elementwise, so a tensor cannot be a dict key or set member.
      .def("__hash__", [](const Tensor&) -> std::int64_t {
        throw nb::type_error("Tensor is unhashable (== compares elementwise); key dicts by id(tensor) instead");
      });

  m.def(
      "_from_array", [](const ArrayIn& a, std::optional<DType> dtype) { return from_array(a, dtype); },
      nb::arg("array"), nb::arg("dtype") = nb::none());
  m.def(
      "_to_tensor", [](nb::handle h, std::optional<DType> dtype, bool share) { return to_tensor(h, dtype, share); },
      nb::arg("value"), nb::arg("dtype") = nb::none(), nb::arg("share") = false);
  // DLPack in: the producer's memory, shared (as DLPack promises, and as tf.experimental.dlpack does).
  m.def(
      "from_dlpack",
      [](nb::handle h) {
        ArrayIn a = nb::cast<ArrayIn>(h);
        if (std::optional<Tensor> t = share_array(a)) return *t;
        return from_array(a, std::nullopt);
      },
      nb::arg("dlpack"));
}

}  // namespace duet::python
