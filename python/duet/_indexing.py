"""t[...] as TensorFlow and NumPy read it: ints (negative from the end), slices with any step, Ellipsis and
None (a new axis of size 1); one op per indexed dim (slice, gather or expand_dims), so it is traced and
differentiated like any op. Strided and negative-step slices need the dim's size known."""
from . import _duet
from ._duet import errors as _errors


def _ops():
    from ._ops import FUNCTIONS

    return FUNCTIONS


def _index_value(k):
    if isinstance(k, _duet.Tensor):
        if k.dtype.name not in ("int32", "int64") or k.ndim != 0:
            raise TypeError(f"only scalar integer tensors are valid indices, got a {k.dtype.name} tensor of shape "
                            f"{tuple(k.shape)}")
        if k._is_symbolic:
            return k  # a symbolic scalar index: gathered
        return int(k)
    if isinstance(k, bool) or not hasattr(type(k), "__index__"):
        raise TypeError(f"only integers, slices (:), ellipsis (...), duet.newaxis (None) and scalar integer tensors "
                        f"are valid indices, got {type(k).__name__} {k!r}")
    return int(k.__index__())


def getitem(t, key):
    ops = _ops()
    if not isinstance(key, tuple):
        key = (key,)
    rank = t.ndim
    real = [k for k in key if k is not None and k is not Ellipsis]
    if sum(k is Ellipsis for k in key) > 1:
        raise _errors.InvalidArgumentError("an index can hold at most one Ellipsis (...)")
    if len(real) > rank:
        raise IndexError(f"too many indices for a tensor of rank {rank}: {len(real)}")
    if any(k is Ellipsis for k in key):  # (not `in`: tensors in the key would compare elementwise)
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:at] + (slice(None),) * (rank - len(real)) + key[at + 1:]
    else:
        key = key + (slice(None),) * (rank - len(real))
    out, axis = t, 0
    for k in key:
        if k is None:
            out = ops["expand_dims"](out, axis)
            axis += 1
            continue
        dim = out.shape[axis]
        if isinstance(k, slice):
            step = 1 if k.step is None else _index_value(k.step)
            if step == 0:
                raise _errors.InvalidArgumentError("slice step cannot be zero")
            start = None if k.start is None else _index_value(k.start)
            stop = None if k.stop is None else _index_value(k.stop)
            if step == 1 and (start is None or start >= 0) and (stop is None or stop >= 0) and dim is None:
                # an unknown dim (a batch while tracing): non-negative bounds need no size
                begin = start or 0
                out = _slice_axis(out, axis, begin, -1 if stop is None else max(0, stop - begin))
            else:
                if dim is None:
                    raise _errors.InvalidArgumentError(
                        f"slicing dim {axis} with {k} needs its size, unknown while tracing; use duet.slice")
                idx = range(*k.indices(dim))
                if step == 1:
                    out = _slice_axis(out, axis, idx.start, len(idx))
                else:
                    out = ops["gather"](out, list(idx), axis)
            axis += 1
            continue
        i = _index_value(k)
        if isinstance(i, _duet.Tensor):
            out = ops["gather"](out, i, axis)
            continue
        if dim is not None:
            if i < -dim or i >= dim:
                raise IndexError(f"index {i} is out of bounds for dim {axis} of size {dim}")
            i %= dim
        elif i < 0:
            raise _errors.InvalidArgumentError(
                f"a negative index on dim {axis} needs its size, unknown while tracing")
        out = ops["squeeze"](_slice_axis(out, axis, i, 1), [axis])
    return out


def _slice_axis(t, axis, begin, size):
    rank = t.ndim
    b = [0] * rank
    s = [-1] * rank
    b[axis] = begin
    s[axis] = size
    return _ops()["slice"](t, b, s)


def iterate(t):
    if t.ndim == 0:
        raise TypeError("iteration over a scalar tensor")
    n = t.shape[0]
    if n is None:
        raise TypeError("iterating over a tensor whose first dim is unknown while tracing is not possible; "
                        "use duet.while_loop or unstack a known size")
    for i in range(n):
        yield getitem(t, i)
