"""duet's dtypes, as TensorFlow's: duet.float32, duet.int32, ...; as_dtype() takes names, NumPy dtypes and
Python types."""
import numpy as np

from . import _duet


class DType:
    """An element type. Compares equal to its name, its NumPy dtype and itself."""

    def __init__(self, name, numpy_dtype, size):
        self.name = name
        self.as_numpy_dtype = numpy_dtype
        self.size = size
        self._enum = getattr(_duet._DTypeEnum, name)

    @property
    def is_floating(self):
        return self.name in ("float32", "float64")

    @property
    def is_integer(self):
        return self.name in ("int32", "int64")

    @property
    def is_bool(self):
        return self.name == "bool"

    def __repr__(self):
        return f"duet.{self.name}"

    def __eq__(self, other):
        try:
            return other is not None and as_dtype(other).name == self.name
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.name)


bool = DType("bool", np.bool_, 1)  # noqa: A001 - TensorFlow's name
int32 = DType("int32", np.int32, 4)
int64 = DType("int64", np.int64, 8)
float32 = DType("float32", np.float32, 4)
float64 = DType("float64", np.float64, 8)
double = float64
_ALL = [bool, int32, int64, float32, float64]  # in the engine's DType order
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME["double"] = float64


def as_dtype(value):
    """A DType from a DType, a name ('float32'), a NumPy dtype or type, or a Python type (float is
    float64, int is int64, as in TensorFlow)."""
    import builtins

    if isinstance(value, DType):
        return value
    if isinstance(value, _duet._DTypeEnum):
        return _BY_NAME[value.name]
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError(f"'{value}' is not a duet dtype (bool, int32, int64, float32, float64)")
    if value is builtins.float:
        return float64
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool
    try:
        name = np.dtype(value).name
    except TypeError:
        raise TypeError(f"cannot make a duet dtype of {value!r}") from None
    if name in _BY_NAME:
        return _BY_NAME[name]
    raise TypeError(f"NumPy's {name} is not a duet dtype (bool, int32, int64, float32, float64)")
