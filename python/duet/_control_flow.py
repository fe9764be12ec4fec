"""cond, while_loop and py_function with Python callables, as TensorFlow's: eagerly they just run; inside
duet.function their branches and bodies become subgraphs of one Cond or While node, and a py_function runs
its Python callable on concrete tensors on every run of the graph."""
from . import _duet
from . import _nest
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


def py_function(func, inp, Tout, name=None, output_shapes=None):  # noqa: N803 - TensorFlow's names
    """Calls the Python function `func` on concrete tensors (eagerly: now; inside duet.function: on every run
    of the graph) and checks its results against Tout (a dtype or a list of them). output_shapes gives each
    result's shape (None for an unknown dim); by default a result has the shape of the first input (duet's
    shapes have a known rank)."""
    single = not isinstance(Tout, (list, tuple))
    touts = [Tout] if single else list(Tout)
    inputs = _flat_tensors(list(inp), "py_function input")
    if output_shapes is None:
        like = list(inputs[0].shape) if inputs else []
        output_shapes = [like] * len(touts)
    elif single:
        output_shapes = [output_shapes]
    shapes = [[-1 if d is None else int(d) for d in s] for s in output_shapes]

    def run(tensors):
        out = func(*tensors)
        out = [out] if single else list(out)
        return [_duet._to_tensor(o, _dtypes.as_dtype(t)._enum) for o, t in zip(out, touts)]

    out = _duet._py_function(run, inputs, [_dtypes.as_dtype(t)._enum for t in touts], shapes,
                             name or getattr(func, "__name__", "py_function"))
    return out[0] if single else list(out)


def numpy_function(func, inp, Tout, stateful=True, name=None):  # noqa: N803
    """py_function whose callable receives and returns NumPy arrays (tf.numpy_function)."""
    def on_arrays(*tensors):
        return func(*[t.numpy() for t in tensors])

    return py_function(on_arrays, inp, Tout, name=name)
