"""duet: one program, two ways - eagerly, op by op, and traced into an optimized graph - with TensorFlow's
and Keras's programming model, on a C++ engine.

    import duet as tf
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    tf.reduce_sum(tf.square(x), axis=1)

Every op of the engine's op table is here under TensorFlow's name (duet.math, duet.nn, duet.random,
duet.linalg hold their families); duet.function traces Python functions; duet.GradientTape differentiates.
"""
import sys as _sys
import types as _types

import numpy as _np

from . import _duet
from . import _indexing
from . import _ops
from ._duet import Tensor, errors
from ._duet import functions_run_eagerly as _functions_run_eagerly
from ._duet import run_functions_eagerly as _run_functions_eagerly
from ._control_flow import cond, numpy_function, py_function, register_py_function, while_loop
from ._control_flow import print_ as print  # noqa: A001 - tf.print
from ._function import Function, TensorSpec, function
from ._shape import TensorShape
from ._tape import GradientTape, UnconnectedGradients
from .dtypes import DType, as_dtype, bool, double, float32, float64, int32, int64  # noqa: A004

__version__ = "0.1.0"

_duet._set_python_types([bool, int32, int64, float32, float64], TensorShape, _indexing)


newaxis = None  # tf.newaxis: x[duet.newaxis] adds a dim


def _tensor_repr(t):
    """As TensorFlow's repr: <duet.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>
    (str(t) prints the values as TensorFlow's str does; a symbolic tensor tells its op)."""
    if t._is_symbolic:
        return str(t)
    values = t.numpy()
    shown = repr(values.item()) if t.ndim == 0 else _np.array_repr(values)
    return f"<duet.Tensor: shape={tuple(t.shape)}, dtype={t.dtype.name}, numpy={shown}>"


Tensor.__repr__ = _tensor_repr
Tensor.__array_priority__ = 100  # ndarray + tensor is a tensor (NumPy defers to __radd__), as in TensorFlow
_ops.build()


class Variable(_duet.Variable):
    """A mutable tensor (tf.Variable): ops read its current value; assign, assign_add, assign_sub write it.
    TensorFlow's parameters, in its order; validate_shape, caching_device, variable_def, import_scope,
    synchronization, aggregation and experimental_enable_variable_lifting have no meaning on duet's one
    device and are accepted and ignored; a constraint is not supported yet."""

    def __init__(self, initial_value=None, trainable=True, validate_shape=True, caching_device=None, name=None,
                 variable_def=None, dtype=None, import_scope=None, constraint=None, synchronization=None,
                 aggregation=None, shape=None, experimental_enable_variable_lifting=True):
        if initial_value is None:
            raise errors.InvalidArgumentError("Variable: initial_value is required")
        if constraint is not None:
            raise errors.InvalidArgumentError("Variable: constraint= is not supported yet; apply it after each "
                                              "update with v.assign(constraint(v))")
        if callable(initial_value):
            initial_value = initial_value()
        super().__init__(initial_value, _pybool(trainable), name, None if dtype is None else as_dtype(dtype)._enum)
        if shape is not None and not TensorShape(shape).is_compatible_with(self.shape):
            raise errors.ShapeError(f"Variable: shape {tuple(shape)} does not fit the initial value's "
                                    f"{tuple(self.shape)}")

    @property
    def shape(self):
        return TensorShape(self._shape)

    @property
    def dtype(self):
        return as_dtype(self._dtype)

    def numpy(self):
        return self.value().numpy()

    def __array__(self, dtype=None, copy=None):
        return self.value().__array__(dtype, copy)

    def __repr__(self):
        return _tensor_repr(self.value()).replace("<duet.Tensor:", f"<duet.Variable '{self.name}'", 1)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self.value() == other

    def __ne__(self, other):
        return self.value() != other

    def __getitem__(self, key):
        return self.value()[key]

    def __len__(self):
        return len(self.value())

    def __bool__(self):
        return bool(self.value())

    def __float__(self):
        return float(self.value())

    def __int__(self):
        return int(self.value())


def _delegate(op):
    def method(self, *args):
        return getattr(self.value(), op)(*args)

    method.__name__ = op
    return method


for _op in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
            "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__lt__", "__le__", "__gt__", "__ge__", "__neg__",
            "__abs__", "__and__", "__or__", "__invert__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__"):
    setattr(Variable, _op, _delegate(_op))

# Weights the engine makes (a layer's add_weight) are the engine's variables: they get the same methods.
for _name, _member in list(vars(Variable).items()):
    if _name not in ("__init__", "__module__", "__doc__", "__qualname__", "__dict__", "__weakref__"):
        setattr(_duet.Variable, _name, _member)


def constant(value, dtype=None, shape=None, name=None):
    """A tensor holding `value` (a Python number or nested list, a NumPy array, or a tensor); `shape`
    reshapes it, or fills that shape with a single value (tf.constant)."""
    dt = None if dtype is None else as_dtype(dtype)._enum
    t = _duet._to_tensor(value, dt)
    if shape is not None:
        shape = list(shape)
        n = 1
        for d in shape:
            n *= d
        if t.ndim == 0 or (len(t.shape) == 1 and t.shape[0] == 1 and n != 1):
            return _ops.FUNCTIONS["fill"](shape, float(_np.asarray(t.numpy()).reshape(-1)[0]), t.dtype)
        return _ops.FUNCTIONS["reshape"](t, shape)
    return t


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """`value` as a tensor: tensors pass through (a different dtype is an error, as in TensorFlow), variables
    are read, anything else converts as constant() does (dtype_hint: the dtype when value does not fix one)."""
    if isinstance(value, Tensor):
        if dtype is not None and as_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {as_dtype(dtype).name} for a Tensor of dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    if isinstance(value, _duet.Variable):
        return convert_to_tensor(value.value(), dtype)
    if dtype is None and dtype_hint is not None and isinstance(value, (int, float, list, tuple)):
        try:
            return constant(value, dtype_hint)
        except (TypeError, errors.Error):
            pass
    return constant(value, dtype)


def rank(input, name=None):  # noqa: A002
    return constant(input.ndim, dtype=int32)


def is_tensor(x):
    return isinstance(x, (Tensor, _duet.Variable))


class config:  # noqa: N801 - tf.config's shape
    """tf.config: run_functions_eagerly (a debugging switch)."""

    @staticmethod
    def run_functions_eagerly(run_eagerly):
        _run_functions_eagerly(_pybool(run_eagerly))

    @staticmethod
    def functions_run_eagerly():
        return _functions_run_eagerly()


def _pybool(v):
    import builtins

    return builtins.bool(v)


def _module(name, doc):
    m = _types.ModuleType(f"duet.{name}", doc)
    _sys.modules[f"duet.{name}"] = m
    return m


# The op table's functions, in the modules TensorFlow has them in.
_this = _sys.modules[__name__]
for _name, _fn in _ops.MODULES.get("", {}).items():
    setattr(_this, _name, _fn)
for _modname, _doc in (("math", "Math ops (tf.math)."), ("nn", "Neural-network ops (tf.nn)."),
                       ("random", "Random tensors (tf.random)."), ("linalg", "Linear algebra (tf.linalg)."),
                       ("debugging", "Checks (tf.debugging)."), ("dtypes", None)):
    if _modname == "dtypes":
        from . import dtypes as _dt

        for _name, _fn in _ops.MODULES.get("dtypes", {}).items():
            setattr(_dt, _name, _fn)
        continue
    _m = _module(_modname, _doc)
    for _name, _fn in _ops.MODULES.get(_modname, {}).items():
        setattr(_m, _name, _fn)
    setattr(_this, _modname, _m)
random.set_seed = lambda seed: _duet._random_set_seed(int(seed))  # noqa: E731


# tf.compat.v1: TensorFlow 1's graph-and-session API. duet runs TensorFlow 2 programs, so it has none of it;
# what TensorFlow 1 code reaches for gets an error that says what to write instead.
_TF1_ADVICE = ("duet runs TensorFlow 2 programs, which have no sessions or placeholders: an op computes its "
               "value when it runs, so print(y) or y.numpy() instead of sess.run(y), and decorate a Python "
               "function with @duet.function for a graph")


class _Session:
    """tf.compat.v1.Session, which duet does not have: making one raises FailedPreconditionError (a
    RuntimeError, as TensorFlow 2 raises when a session runs eager tensors) saying what to write instead."""

    def __init__(self, *args, **kwargs):
        raise errors.FailedPreconditionError(f"tf.compat.v1.Session: {_TF1_ADVICE}")


compat = _module("compat", "TensorFlow 1 compatibility (tf.compat): only a guide to the TensorFlow 2 way.")
compat.v1 = _module("compat.v1", "tf.compat.v1: TensorFlow 1's API, which duet does not have.")
compat.v1.Session = _Session
compat.v1.InteractiveSession = _Session


def _compat_v1_getattr(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module 'duet.compat.v1' has no attribute '{name}': {_TF1_ADVICE}")


compat.v1.__getattr__ = _compat_v1_getattr


def from_dlpack(dlpack):
    """A tensor sharing the memory of a DLPack producer (an object with __dlpack__, such as a NumPy array or a
    PyTorch CPU tensor, or a DLPack capsule): no copy, so the producer must not write to it while the tensor
    lives. C-contiguous CPU data of duet's dtypes only."""
    return _duet.from_dlpack(dlpack)


def to_dlpack(tensor):
    """A DLPack capsule of the tensor's values (a copy: DLPack consumers may write)."""
    return convert_to_tensor(tensor).__dlpack__()


experimental = _module("experimental", "tf.experimental: the parts duet has.")
experimental.dlpack = _module("experimental.dlpack", "tf.experimental.dlpack: tensors to and from DLPack.")
experimental.dlpack.from_dlpack = from_dlpack
experimental.dlpack.to_dlpack = to_dlpack



def __getattr__(name):
    # tf.keras: duet.keras, imported on first use (as TensorFlow loads Keras lazily).
    if name == "keras":
        import importlib

        return importlib.import_module("duet.keras")
    raise AttributeError(f"module 'duet' has no attribute '{name}'")
