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

}  // namespace

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
      PyErr_SetString(g.shape, x.what());
    } catch (const DTypeError& x) {
      PyErr_SetString(g.dtype, x.what());
    } catch (const NumericsError& x) {
      PyErr_SetString(g.numerics, x.what());
    } catch (const ValueError& x) {
      PyErr_SetString(g.invalid_argument, x.what());
    } catch (const SymbolicValueError& x) {
      PyErr_SetString(g.symbolic, x.what());
    } catch (const RetraceError& x) {
      PyErr_SetString(g.retrace, x.what());
    } catch (const IOError& x) {
      PyErr_SetString(g.io, x.what());
    } catch (const StateError& x) {
      PyErr_SetString(g.state, x.what());
    } catch (const ResourceExhaustedError& x) {
      PyErr_SetString(g.resource, x.what());
    } catch (const EagerMismatchError& x) {
      PyErr_SetString(g.mismatch, x.what());
    } catch (const DistributedError& x) {
      PyErr_SetString(g.distributed, x.what());
    } catch (const Error& x) {
      PyErr_SetString(g.error, x.what());
    }
  });
}

}  // namespace duet::python
