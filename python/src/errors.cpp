// duet::Error and its kinds as Python exceptions, with TensorFlow's names where TensorFlow has the kind
// (duet.errors.InvalidArgumentError, ...), each also deriving from the built-in exception TensorFlow's
// Python layer raises for it (ValueError, TypeError, ...), so `except ValueError` works as with TensorFlow.
#include "bindings.h"

namespace duet::python {
namespace {

struct Kinds {
  PyObject *error, *invalid_argument, *shape, *dtype, *symbolic, *retrace, *io, *state, *resource, *mismatch, *numerics,
      *distributed;
};
Kinds g;

PyObject* make(nb::module_& m, const char* name, std::initializer_list<PyObject*> bases, const char* doc) {
  nb::tuple b = nb::steal<nb::tuple>(PyTuple_New(static_cast<Py_ssize_t>(bases.size())));
  Py_ssize_t i = 0;
  for (PyObject* base : bases) {
    Py_INCREF(base);
    PyTuple_SET_ITEM(b.ptr(), i++, base);
  }
  const std::string qualified = std::string("duet.errors.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, b.ptr(), nullptr);
  if (!cls) throw nb::python_error();
  m.attr(name) = nb::handle(cls);
  return cls;  // kept for the process's life, as the module keeps it
}

// The engine's advice, in the caller's language: its messages name C++ (cast(x, DType::Float32),
// duet::host_function); from Python they name the Python API.
std::string pythonize(std::string text) {
  static const std::pair<const char*, const char*> kSpellings[] = {
      {"run C++ code on its value with duet::host_function", "run Python code on its value with duet.py_function"},
      {"runs a C++ callable, which a file cannot hold: register it (register_host_function(\"name\", fn)) and call "
       "host_function(\"name\", inputs, specs)",
       "runs a Python callable, which a file cannot hold: register it (duet.register_py_function(\"name\", fn)) "
       "and pass that function to duet.py_function"},
      {"call register_host_function(", "call duet.register_py_function("},
      {"config::run_functions_eagerly(true)", "duet.config.run_functions_eagerly(True)"},
      {"cast(x, DType::", "duet.cast(x, DType::"},
      {"duet::", "duet."},
      {"DType::Float32", "duet.float32"},
      {"DType::Float64", "duet.float64"},
      {"DType::Int32", "duet.int32"},
      {"DType::Int64", "duet.int64"},
      {"DType::Bool", "duet.bool"},
  };
  for (const auto& [from, to] : kSpellings) {
    const std::string f(from), t(to);
    for (std::size_t at = text.find(f); at != std::string::npos; at = text.find(f, at + t.size()))
      text.replace(at, f.size(), t);
  }
  return text;
}

// The last engine error translated on this thread, for rethrow_engine_error.
thread_local std::exception_ptr t_last;
thread_local std::string t_last_text;

void set(PyObject* kind, const std::exception& e) {
  t_last = std::current_exception();
  t_last_text = pythonize(e.what());
  PyErr_SetString(kind, t_last_text.c_str());
}

}  // namespace

void rethrow_engine_error(nb::python_error& e) {
  if (t_last && e.matches(g.error) && nb::cast<std::string>(nb::str(e.value())) == t_last_text) {
    std::exception_ptr p = std::exchange(t_last, nullptr);
    std::rethrow_exception(p);
  }
  throw;
}

void bind_errors(nb::module_& m) {
  nb::module_ e = m.def_submodule("errors", "duet's exceptions (every one derives from duet.errors.Error)");
  g.error = make(e, "Error", {PyExc_Exception}, "Base class of every error duet raises.");
  g.invalid_argument =
      make(e, "InvalidArgumentError", {g.error, PyExc_ValueError}, "An argument with a bad value (also a ValueError).");
  g.shape = make(e, "ShapeError", {g.invalid_argument}, "Shapes that do not fit (also a ValueError).");
  g.dtype = make(e, "DTypeError", {g.error, PyExc_TypeError},
                 "A dtype or argument kind an op does not take (also a TypeError).");
  g.symbolic = make(e, "OperatorNotAllowedInGraphError", {g.error, PyExc_TypeError},
                    "Reading the value of a symbolic tensor while tracing (also a TypeError).");
  g.retrace = make(e, "RetraceError", {g.error}, "A traced function had to retrace while retracing was forbidden.");
  g.io = make(e, "IOError", {g.error, PyExc_OSError}, "Files: missing, truncated, wrong format (also an OSError).");
  g.state = make(e, "FailedPreconditionError", {g.error, PyExc_RuntimeError},
                 "The API used in the wrong order (also a RuntimeError).");
  g.resource = make(e, "ResourceExhaustedError", {g.error, PyExc_MemoryError}, "Memory could not be allocated.");
  g.mismatch = make(e, "EagerMismatchError", {g.error}, "A compiled function disagreed with its eager run.");
  g.numerics = make(e, "NumericsError", {g.invalid_argument}, "A NaN or an infinity where check_numerics looks.");
  g.distributed = make(e, "DistributedError", {g.error}, "Ranks that disagree about a collective.");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const ShapeError& x) {
      set(g.shape, x);
    } catch (const DTypeError& x) {
      set(g.dtype, x);
    } catch (const NumericsError& x) {
      set(g.numerics, x);
    } catch (const ValueError& x) {
      set(g.invalid_argument, x);
    } catch (const SymbolicValueError& x) {
      set(g.symbolic, x);
    } catch (const RetraceError& x) {
      set(g.retrace, x);
    } catch (const IOError& x) {
      set(g.io, x);
    } catch (const StateError& x) {
      set(g.state, x);
    } catch (const ResourceExhaustedError& x) {
      set(g.resource, x);
    } catch (const EagerMismatchError& x) {
      set(g.mismatch, x);
    } catch (const DistributedError& x) {
      set(g.distributed, x);
    } catch (const Error& x) {
      set(g.error, x);
    }
  });
}

}  // namespace duet::python
