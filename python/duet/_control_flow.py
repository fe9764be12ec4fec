"""cond, while_loop and py_function with Python callables, as TensorFlow's: eagerly they just run; inside
duet.function their branches and bodies become subgraphs of one Cond or While node, and a py_function runs
its Python callable on concrete tensors on every run of the graph."""
from . import _duet
from . import _nest
from ._duet import errors as _errors
from . import dtypes as _dtypes


def _flat_tensors(structure, what):
    flat = []
    for leaf in _nest.flatten(structure):
        if isinstance(leaf, _duet.Variable):
            leaf = leaf.value()
        if not isinstance(leaf, _duet.Tensor):
            leaf = _duet._to_tensor(leaf)
        flat.append(leaf)
    return flat


def cond(pred, true_fn=None, false_fn=None, name=None):
    """true_fn() if pred else false_fn(); both must return the same structure of tensors (tf.cond)."""
    if true_fn is None or false_fn is None:
        raise TypeError("cond needs true_fn and false_fn")
    structures = {}

    def branch(fn, key):
        def run():
            out = fn()
            structures[key] = _nest.map_structure(lambda _: 0, out)
            return _flat_tensors(out, "cond branch")
        return run

    flat = _duet._cond(pred, branch(true_fn, "t"), branch(false_fn, "f"))
    structure = structures.get("t", structures.get("f"))
    return _nest.pack_sequence_as(structure, list(flat))


def while_loop(cond, body, loop_vars, maximum_iterations=None, name=None):  # noqa: A002 - TensorFlow's names
    """while cond(*loop_vars): loop_vars = body(*loop_vars) (tf.while_loop); loop_vars is any structure,
    each tensor keeps its dtype and shape."""
    single = not isinstance(loop_vars, (list, tuple))
    structure = [loop_vars] if single else loop_vars
    flat = _flat_tensors(structure, "loop_vars")

    def unpack(vs):
        packed = _nest.pack_sequence_as(structure, list(vs))
        return packed

    def cond_fn(vs):
        return [cond(*unpack(vs))]

    def body_fn(vs):
        out = body(*unpack(vs))
        if single and not isinstance(out, (list, tuple)):
            out = [out]
        return _flat_tensors(out, "while_loop body")

    out = _nest.pack_sequence_as(structure, list(_duet._while_loop(cond_fn, body_fn, flat, maximum_iterations or 0)))
    return out[0] if single else out


# Python functions registered by name (register_py_function), by identity: name.
_REGISTERED = {}


def register_py_function(name, func=None):
    """Registers `func` under `name`, so that a graph calling it through py_function or numpy_function can
    be saved (model.save, a Lambda or layer that calls it): the file names the function, and the program that
    loads the file registers the same name before loading (as C++'s register_host_function). Registering a
    name again replaces its function for later calls and loads. Usable as a decorator:
    @duet.register_py_function("clip_outliers")."""
    if func is None:
        return lambda f: register_py_function(name, f)
    if not isinstance(name, str) or not name:
        raise _errors.InvalidArgumentError(f"register_py_function: the name must be a non-empty string, got {name!r}")
    if not callable(func):
        raise TypeError(f"register_py_function('{name}'): {func!r} is not callable")

    def results(out, dtypes):
        # The call site's Tout is known only as a list of dtypes: one value, or a list of one, is one result.
        single = len(dtypes) == 1 and not (isinstance(out, (list, tuple)) and len(out) == 1)
        return _results(name, out, list(dtypes), single)

    def on_tensors(tensors, dtypes):
        return results(func(*tensors), dtypes)

    def on_arrays(tensors, dtypes):
        return results(func(*[t.numpy() for t in tensors]), dtypes)

    # numpy_function's calls pass arrays: the same function under a second name.
    _duet._register_py_function(name, on_tensors)
    _duet._register_py_function(name + _NUMPY_SUFFIX, on_arrays)
    _REGISTERED[id(func)] = (name, func)
    return func


_NUMPY_SUFFIX = "#numpy"


def _results(label, out, touts, single):
    """A py_function's results as tensors of the declared dtypes (NumPy arrays and Python numbers convert, a
    tensor of another dtype is an error, as in TensorFlow)."""
    out = [out] if single or not isinstance(out, (list, tuple)) else list(out)
    if len(out) != len(touts):
        raise _errors.InvalidArgumentError(
            f"py_function '{label}' returned {len(out)} values but Tout declares {len(touts)}")
    converted = []
    for i, (o, t) in enumerate(zip(out, touts)):
        if isinstance(o, _duet.Variable):
            o = o.value()
        if isinstance(o, _duet.Tensor) and o.dtype != t:
            raise _errors.InvalidArgumentError(
                f"py_function '{label}': result {i} is a {o.dtype.name} tensor but Tout declares {t.name}; "
                f"cast it (duet.cast) or fix Tout")
        converted.append(_duet._to_tensor(o, t._enum))
    return converted


def py_function(func, inp, Tout, name=None, output_shapes=None):  # noqa: N803 - TensorFlow's names
    """Calls the Python function `func` on concrete tensors and converts its results to Tout (a dtype or a
    list of them; NumPy arrays and Python numbers are converted, a tensor of another dtype is an error, as
    in TensorFlow). Eagerly it runs now (a tape records the duet ops inside it); inside duet.function it
    becomes a graph node that calls `func` on every run. There duet needs each result's rank: output_shapes
    gives the shapes (None for an unknown dim); without it a result has the first input's rank, every dim
    unknown. A graph that calls a function registered with register_py_function can be saved."""
    return _call(func, inp, Tout, name, output_shapes, numpy=False)


def numpy_function(func, inp, Tout, stateful=True, name=None):  # noqa: N803
    """py_function whose callable receives and returns NumPy arrays (tf.numpy_function)."""
    return _call(func, inp, Tout, name, None, numpy=True)


def _call(func, inp, Tout, name, output_shapes, numpy):  # noqa: N803
    single = not isinstance(Tout, (list, tuple))
    touts = [_dtypes.as_dtype(t) for t in ([Tout] if single else list(Tout))]
    inputs = _flat_tensors(list(inp), "py_function input")
    label = name or getattr(func, "__name__", "py_function")
    declared, assumed = None, output_shapes is None  # traced: each result's declared shape

    def run(tensors):
        converted = _results(label, func(*[t.numpy() for t in tensors] if numpy else tensors), touts, single)
        if declared is not None:
            for i, (o, want) in enumerate(zip(converted, declared)):
                got = tuple(o.shape)
                if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
                    raise _errors.ShapeError(
                        f"py_function '{label}': result {i} has shape {got} but the graph was built for "
                        f"{tuple(want)}{' (the first input rank, as no output_shapes were given)' if assumed else ''}; "
                        f"pass output_shapes=[...] with each result's shape (None for an unknown dim)")
        return converted

    if not _duet._tracing() and not any(t._is_symbolic for t in inputs):
        out = run(inputs)
        return out[0] if single else out
    if output_shapes is None:
        rank = inputs[0].ndim if inputs else 0
        output_shapes = [[None] * rank] * len(touts)
    elif single:
        output_shapes = [output_shapes]
    declared = [list(s) for s in output_shapes]
    shapes = [[-1 if d is None else int(d) for d in s] for s in output_shapes]
    registered = _REGISTERED.get(id(func))
    if registered is not None and registered[1] is func:
        # By name: the graph can be saved, and the engine checks the results' shapes against `shapes`.
        out = _duet._py_function_by_name(registered[0] + (_NUMPY_SUFFIX if numpy else ""), inputs,
                                         [t._enum for t in touts], shapes)
    else:
        out = _duet._py_function(run, inputs, [t._enum for t in touts], shapes, label)
    return out[0] if single else list(out)


def _format_array(arr, summarize, depth=0):
    import numpy as np

    """TensorFlow's print format: numbers as %g (bools as 1/0), rows on their own lines, and with summarize=n
    only the first and last n entries of a longer dim, '...' between."""
    if arr.ndim == 0:
        v = arr.item()
        if isinstance(v, bool):
            return str(int(v))
        if not isinstance(v, float):
            return str(v)
        # The fewest digits that read back as the same float32/float64 (6 or 9, 15 or 17), as TensorFlow.
        short, full = (6, 9) if arr.dtype == np.float32 else (15, 17)
        text = f"{v:.{short}g}"
        return text if arr.dtype.type(text) == arr else f"{v:.{full}g}"
    n = arr.shape[0]
    idx = list(range(n))
    cut = summarize is not None and summarize >= 0 and n > 2 * summarize
    if cut:
        idx = idx[:summarize] + [None] + idx[n - summarize:]
    parts = ["..." if i is None else _format_array(arr[i], summarize, depth + 1) for i in idx]
    sep = " " if arr.ndim == 1 else "\n" * (arr.ndim - 1) + " " * (depth + 1)
    return "[" + sep.join(parts) + "]"


def _format_for_print(value, summarize):
    if isinstance(value, _duet.Variable):
        value = value.value()
    if isinstance(value, _duet.Tensor):
        import numpy as np

        return _format_array(np.asarray(value.numpy()), summarize)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_format_for_print(v, summarize)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_format_for_print(v, summarize) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return str(value)


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):  # noqa: ARG001
    """tf.print: writes its inputs (tensors as their values, Python objects as str) to output_stream (default
    sys.stderr; sys.stdout, a file object, or "file://path" to append to a file). Eagerly it prints now;
    inside duet.function it becomes a graph node that prints on every run, in program order."""
    import sys as _sys

    flat = _nest.flatten(list(inputs))
    tensors = [(i, leaf if isinstance(leaf, _duet.Tensor) else leaf.value())
               for i, leaf in enumerate(flat) if isinstance(leaf, (_duet.Tensor, _duet.Variable))]

    def emit(values):
        leaves = list(flat)
        for (i, _), v in zip(tensors, values):
            leaves[i] = v
        packed = _nest.pack_sequence_as(list(inputs), leaves)
        text = sep.join(_format_for_print(v, summarize) for v in packed) + end
        stream = _sys.stderr if output_stream is None else output_stream
        if isinstance(stream, str):
            if not stream.startswith("file://"):
                raise _errors.InvalidArgumentError(
                    f"print: output_stream {stream!r} is not supported; use sys.stdout, sys.stderr, a file object "
                    "or 'file://path'")
            with open(stream[len("file://"):], "a", encoding="utf-8") as f:
                f.write(text)
        else:
            stream.write(text)
            if hasattr(stream, "flush"):
                stream.flush()
        return []

    values = [t for _, t in tensors]
    if not _duet._tracing() and not any(t._is_symbolic for t in values):
        emit(values)
        return None
    _duet._py_function(emit, values, [], [], name or "print")
    return None
