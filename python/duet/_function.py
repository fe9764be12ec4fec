"""duet.function: traces a Python function into a duet graph on its first call for each input signature,
then replays the optimized, compiled graph (tf.function). Arguments may be nested structures (lists,
tuples, dicts, None); tensors, variables' reads and NumPy arrays become graph inputs, every other value joins
the trace key exactly, so a new Python value retraces (as in TensorFlow). Python side effects run once per
trace. The trace cache, the explanation of each retrace and the execution are the engine's."""
import functools

import numpy as np

from . import _duet
from . import _nest
from . import dtypes as _dtypes


class TensorSpec:
    """The spec of a tensor argument: shape (None for any size) and dtype."""

    def __init__(self, shape, dtype=_dtypes.float32, name=None):
        self.shape = tuple(shape) if shape is not None else None
        self.dtype = _dtypes.as_dtype(dtype)
        self.name = name
        if self.shape is None:
            raise ValueError("duet's TensorSpec needs a known rank (give the shape, None for unknown dims)")

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


def _key_of(value):
    """A stable text for a non-tensor argument (its exact value: floats by repr, which round-trips)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, _dtypes.DType):
        return f"dtype:{value.name}"
    if isinstance(value, _duet.Variable):
        return f"variable:{value._id()}"
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"duet.function cannot key a trace on an argument of type {type(value).__name__}: "
                        "pass tensors, numbers, strings, None, or lists/tuples/dicts of them") from None
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}:{id(value)}"


def _flatten_args(args, kwargs):
    """(tensors, key, shown, positions, rebuild): graph inputs, the exact key of everything else, and how to
    put symbolic tensors back into the call's structure."""
    structure = (tuple(args), dict(kwargs))
    leaves = _nest.flatten(structure)
    tensors, key, shown, positions, slots = [], [], [], [], []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, np.ndarray):
            leaf = _duet._to_tensor(leaf)
        if isinstance(leaf, _duet.Tensor):
            positions.append((i, -1))
            slots.append(len(tensors))
            tensors.append(leaf)
            key.append("T")
            shown.append("")
        else:
            slots.append(None)
            k = _key_of(leaf)
            key.append(k)
            shown.append(repr(leaf))
    treedef = repr(_nest.map_structure(lambda _: 0, structure))

    def rebuild(symbolic):
        out = [symbolic[s] if s is not None else leaf for s, leaf in zip(slots, leaves)]
        a, k = _nest.pack_sequence_as(structure, out)
        return a, k

    return tensors, treedef + "|" + "|".join(key), shown, positions, rebuild


_ALL_TENSORS = {}  # n -> (key, shown, positions) of a call with n positional tensors and nothing else


def _all_tensors_key(n):
    """What _flatten_args gives for n positional tensors (the same key, so both paths share traces)."""
    got = _ALL_TENSORS.get(n)
    if got is None:
        got = (repr(((0,) * n, {})) + "|" + "|".join(["T"] * n), [""] * n, [(i, -1) for i in range(n)])
        _ALL_TENSORS[n] = got
    return got


def _positional(symbolic):
    return tuple(symbolic), {}


class Function:
    """A traced Python function (what @duet.function makes)."""

    def __init__(self, python_function, name=None, input_signature=None, reduce_retracing=False,
                 jit_compile=None, autograph=True, experimental_check_eager=False):
        self._python_function = python_function
        self._outputs = []  # output structures, by id
        self._single = []  # by id: the output is one tensor (returned without walking a structure)
        signature = None
        if input_signature is not None:
            signature = [(s.dtype._enum, [-1 if d is None else int(d) for d in s.shape]) for s in input_signature]
        self._input_signature = input_signature
        self._core = _duet._FunctionCore(name or getattr(python_function, "__name__", "function"),
                                         reduce_retracing, signature, experimental_check_eager)
        functools.update_wrapper(self, python_function)

    def __call__(self, *args, **kwargs):
        if _duet.functions_run_eagerly():  # duet.config.run_functions_eagerly(True): the Python body, every call
            return self._python_function(*args, **kwargs)
        # The common call, tensors only: no structure to walk (a compiled call's cost is mostly this path).
        if not kwargs and all(type(a) is _duet.Tensor for a in args):
            key, shown, positions = _all_tensors_key(len(args))
            tensors, rebuild = list(args), _positional
        else:
            tensors, key, shown, positions, rebuild = _flatten_args(args, kwargs)

        def trace(symbolic):
            a, k = rebuild(list(symbolic))
            result = self._python_function(*a, **k)
            flat = []
            for leaf in _nest.flatten(result):
                if leaf is None:  # None stays in the structure, as in TensorFlow
                    continue
                if isinstance(leaf, _duet.Variable):
                    leaf = leaf.value()
                if not isinstance(leaf, _duet.Tensor):
                    leaf = _duet._to_tensor(leaf)
                flat.append(leaf)
            self._outputs.append(_nest.map_structure(lambda leaf: None if leaf is None else 0, result))
            self._single.append(self._outputs[-1] == 0)
            return flat, len(self._outputs) - 1

        flat, structure = self._core.call(tensors, key, shown, positions, trace)
        if self._single[structure[0]]:
            return flat[0]
        values = iter(flat)
        return _nest.map_structure(lambda leaf: None if leaf is None else next(values), self._outputs[structure[0]])

    def __get__(self, instance, owner):  # a decorated method: bind self as an argument keyed by identity
        if instance is None:
            return self
        return functools.partial(self.__call__, instance)

    def experimental_get_tracing_count(self):
        return self._core.trace_count()

    @property
    def trace_count(self):
        return self._core.trace_count()

    def retrace_reasons(self):
        return list(self._core.retrace_reasons())

    def graph_text(self, trace=-1):
        return self._core.graph_text(trace)


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_relax_shapes=None, name=None, experimental_check_eager=False):
    """Makes a traced Function of `func` (also as @duet.function or @duet.function(...))."""
    if experimental_relax_shapes is not None:
        reduce_retracing = reduce_retracing or experimental_relax_shapes

    def make(f):
        return Function(f, name=name, input_signature=input_signature, reduce_retracing=reduce_retracing,
                        jit_compile=jit_compile, autograph=autograph,
                        experimental_check_eager=experimental_check_eager)

    return make(func) if func is not None else make
