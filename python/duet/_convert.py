"""Python values to arrays of duet's dtypes, with TensorFlow's rules: Python floats become float32 and
Python ints int32 (int64 when they do not fit), NumPy arrays keep their dtype (small ints widen to int32,
float16 to float32); a float where an integer dtype is asked for is refused, as TensorFlow refuses it."""
import numbers

import numpy as np

from . import dtypes as _dtypes
from ._duet import errors as _errors

_WIDEN = {
    np.dtype(np.float16): np.float32,
    np.dtype(np.int8): np.int32,
    np.dtype(np.int16): np.int32,
    np.dtype(np.uint8): np.int32,
    np.dtype(np.uint16): np.int32,
    np.dtype(np.uint32): np.int64,
}


def _python_array(value):
    """An array of Python scalars or (nested) sequences, typed as TensorFlow types them."""
    try:
        arr = np.asarray(value)
    except ValueError as e:  # ragged nesting
        raise _errors.InvalidArgumentError(f"Can't convert non-rectangular Python sequence to Tensor: {e}") from None
    if arr.dtype == object:
        raise _errors.InvalidArgumentError(
            f"Can't convert {value!r} to a Tensor: a non-rectangular sequence, or elements that are not numbers")
    if arr.dtype.kind in "US":
        raise _errors.DTypeError(f"duet has no string dtype yet: cannot make a tensor of {value!r}")
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu":
        if arr.size == 0 or (arr.min() >= -(2**31) and arr.max() < 2**31):
            return arr.astype(np.int32)
        return arr.astype(np.int64)
    return arr


def _is_python(value):
    return isinstance(value, (numbers.Number, list, tuple)) and not isinstance(value, np.generic)


def as_array(value, dtype=None):
    """A C-contiguous NumPy array of one of duet's dtypes holding `value`."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
        arr = np.asarray(value) if not _is_python(value) else _python_array(value)
        if dtype.is_integer and arr.dtype.kind == "f":
            raise _errors.DTypeError(
                f"Cannot convert {value!r} (floating point) to a tensor of dtype {dtype.name}; round it first")
        arr = arr.astype(dtype.as_numpy_dtype, copy=False)
    elif _is_python(value):
        arr = _python_array(value)
    else:
        arr = np.asarray(value)
        if arr.dtype.kind in "cUSO":
            raise _errors.DTypeError(f"duet has no dtype for NumPy's {arr.dtype} (it has bool, int32, int64, "
                                     "float32, float64)")
        if arr.dtype == np.uint64:
            if arr.size and arr.max() >= 2**63:
                raise _errors.InvalidArgumentError("uint64 values beyond int64's range have no duet dtype")
            arr = arr.astype(np.int64)
        arr = arr.astype(_WIDEN.get(arr.dtype, arr.dtype), copy=False)
    # (np.ascontiguousarray would make a 0-d array 1-d)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")
