"""Every op of the engine's op table (src/ops/api.h) as a Python function with TensorFlow's name and
parameters, written here from the table's description: an op registered in C++ appears in Python with no
code of its own. Each function converts array-likes to tensors (Python numbers take the dtype of the op's
first tensor argument, as TensorFlow's do), dtype-likes to dtypes, and ignores TensorFlow's `name`."""
import keyword

from . import _duet
from . import dtypes as _dtypes
from ._duet import errors as _errors

FUNCTIONS = {}  # name -> function
MODULES = {}  # module name ("" = top level) -> {name: function}


def _hint(*values):
    for v in values:
        if isinstance(v, (_duet.Tensor, _duet.Variable)):
            return v.dtype if isinstance(v, _duet.Tensor) else _dtypes.as_dtype(v._dtype)
        if isinstance(v, (list, tuple)):
            for e in v:
                if isinstance(e, (_duet.Tensor, _duet.Variable)):
                    return _hint(e)
    return None


def _tensor(value, hint, where=None):
    if value is None:
        if where is None:  # an optional tensor argument left out
            return None
        raise _errors.InvalidArgumentError(f"{where} is None; it takes a tensor (or a number, list or array)")
    if isinstance(value, _duet.Tensor):
        return value
    if isinstance(value, _duet.Variable):
        return value.value()
    if hint is not None and isinstance(value, (bool, int, float)) and not (hint.is_bool and not isinstance(value, bool)):
        return _duet._to_tensor(value, hint._enum)
    return _duet._to_tensor(value)


def _tensors(values, hint, where=None):
    if values is None:
        return _tensor(None, hint, where)
    if isinstance(values, (_duet.Tensor, _duet.Variable)):
        return [_tensor(values, hint)]
    return [_tensor(v, hint, where and f"{where}[{i}]") for i, v in enumerate(values)]


def _dtype(value):
    return None if value is None else _dtypes.as_dtype(value)._enum


def _dtype_like(value):
    """A dtype given as duet.float32, "float32" or NumPy's dtype, as the engine's dtype; anything else as is."""
    if value is None or isinstance(value, (bool, int, float, _duet.Tensor)):
        return value
    try:
        return _dtypes.as_dtype(value)._enum
    except (TypeError, ValueError):
        return value


_CONVERT = {
    "Tensor": "_tensor({p}, _h, {w})",
    "list of Tensors": "_tensors({p}, _h, {w})",
    "dtype": "_dtype({p})",
}


def _default_repr(value):
    if isinstance(value, _duet._DTypeEnum):
        return f"_dtypes.{value.name}"
    if isinstance(value, _dtypes.DType):
        return f"_dtypes.{value.name}"
    return repr(value)


def _make(entry):
    params = entry["params"]
    names = [p["name"] if not keyword.iskeyword(p["name"]) else p["name"] + "_" for p in params]
    sig, args, tensor_params = [], [], []
    for p, n in zip(params, names):
        sig.append(n if p["required"] else f"{n}={_default_repr(p['default'])}")
        conv = _CONVERT.get(p["kind"])
        if conv is None and p["name"] == "dtype":  # a parameter that takes a dtype among other kinds
            conv = "_dtype_like({p})"
        where = repr(f"{entry['name']}() argument '{n}'") if p["required"] else "None"
        args.append(conv.format(p=n, w=where) if conv else n)
        if p["kind"] in ("Tensor", "list of Tensors"):
            tensor_params.append(n)
    sig.append("name=None")
    hint = f"    _h = _hint({', '.join(tensor_params)})\n" if tensor_params else ""
    src = (f"def {entry['name']}({', '.join(sig)}):\n"
           f"{hint}"
           f"    return _call({entry['index']}, ({', '.join(args)}{',' if args else ''}))\n")
    scope = {"_call": _duet._api_call, "_tensor": _tensor, "_tensors": _tensors, "_dtype": _dtype,
             "_dtype_like": _dtype_like,
             "_hint": _hint, "_dtypes": _dtypes}
    exec(compile(src, f"<duet op {entry['name']}>", "exec"), scope)  # noqa: S102 - generated from the op table
    fn = scope[entry["name"]]
    kinds = ", ".join(f"{n}: {p['kind']}" for p, n in zip(params, names))
    fn.__doc__ = (entry["doc"] + "\n\n" if entry["doc"] else "") + f"duet op {entry['name']}({kinds})"
    fn.__module__ = "duet"
    return fn


def build():
    for entry in _duet._api_functions():
        fn = _make(entry)
        FUNCTIONS[entry["name"]] = fn
        for m in entry["modules"]:
            MODULES.setdefault(m, {})[entry["name"]] = fn
