"""duet.keras: Keras 3's programming model on duet's engine. `from duet import keras` in place of `import
keras` runs a Keras program wherever duet has what it uses:

    from duet import keras
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2)

Modules as Keras 3 has them: layers, ops, losses, metrics, optimizers, callbacks, models, saving, random,
activations, initializers. Every built-in layer is the engine's (keras.layers lists them); layers and models
subclassed in Python are engine layers too, traced into the compiled training step.
"""
import sys as _sys
import types as _types

from . import callbacks, losses, metrics, optimizers  # noqa: F401
from . import _layer, _model
from ._layer import Input, InputLayer, Lambda, Layer, register_keras_serializable
from ._model import Model, Sequential, load_model


def _module(name, doc):
    m = _types.ModuleType(f"duet.keras.{name}", doc)
    _sys.modules[f"duet.keras.{name}"] = m
    return m


layers = _module("layers", "keras.layers: Layer for subclasses, Lambda, Input, and the engine's built-in layers "
                           "(Dense, Conv2D, ...; every class the engine registers).")
for _name, _cls in _layer.builtin_classes().items():
    setattr(layers, _name, _cls)
layers.Layer, layers.Lambda, layers.Input, layers.InputLayer = Layer, Lambda, Input, InputLayer


def _merge_function(cls):
    """Keras's functional form of a merge layer: layers.concatenate(inputs, axis=-1) is
    layers.Concatenate(axis=-1)(inputs)."""
    def merge(inputs, *args, **kwargs):
        return cls(*args, **kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = f"keras.layers.{merge.__name__}(inputs, ...): {cls.__name__}(...)(inputs)."
    return merge


for _cls_name in ("Concatenate", "Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"):
    if hasattr(layers, _cls_name):
        setattr(layers, _cls_name.lower(), _merge_function(getattr(layers, _cls_name)))

models = _module("models", "keras.models: Model, Sequential, load_model.")
models.Model, models.Sequential, models.load_model = Model, Sequential, load_model

saving = _module("saving", "keras.saving: load_model, register_keras_serializable.")
saving.load_model, saving.register_keras_serializable = load_model, register_keras_serializable


def _ops_module():
    import duet

    m = _module("ops", "keras.ops: duet's ops under Keras's names where they match TensorFlow's.")
    for name in dir(duet):
        obj = getattr(duet, name)
        if callable(obj) and not name.startswith("_") and not isinstance(obj, type):
            setattr(m, name, obj)
    for name in dir(duet.math):
        if not name.startswith("_"):
            setattr(m, name, getattr(duet.math, name))
    for name in dir(duet.nn):
        if not name.startswith("_"):
            setattr(m, name, getattr(duet.nn, name))
    # Keras's spellings of the same ops.
    aliases = {"sum": "reduce_sum", "mean": "reduce_mean", "max": "reduce_max", "min": "reduce_min",
               "prod": "reduce_prod", "concatenate": "concat", "convert_to_tensor": "convert_to_tensor"}
    for k, v in aliases.items():
        if hasattr(duet, v):
            setattr(m, k, getattr(duet, v))
    return m


ops = _ops_module()


def _random_module():
    import duet

    m = _module("random", "keras.random: random tensors (normal, uniform, ...) from duet.random.")
    for name in dir(duet.random):
        if not name.startswith("_"):
            setattr(m, name, getattr(duet.random, name))
    return m


random = _random_module()

activations = _module("activations", "keras.activations: the activation functions by name.")


def _activation(name):
    def activation(x):
        return _layer._duet._activation(name, x)

    activation.__name__ = name
    activation.__qualname__ = name
    activation.__doc__ = f"keras.activations.{name}: the engine's {name} activation (Keras's default arguments)."
    return activation


for _name in _layer._ACTIVATION_NAMES:
    setattr(activations, _name, _activation(_name))
activations.get = lambda identifier: getattr(activations, identifier) if isinstance(identifier, str) else identifier

initializers = _module("initializers", "keras.initializers: the engine's initializers, by Keras's class names, "
                                       "with Keras's arguments and defaults.")


def _initializer_class(name, params):
    """The Keras class of the engine's initializer `name`: its arguments (in Keras's order) and defaults come
    from the engine's table, so the two cannot disagree."""
    defaults = dict(params)
    order = [p for p, _ in params]
    cls_name = "".join(part.capitalize() for part in name.split("_"))

    def __init__(self, *args, **kwargs):
        if len(args) > len(order):
            raise TypeError(f"{cls_name}() takes at most {len(order)} positional arguments ({', '.join(order) or 'none'})")
        given = dict(zip(order, args))
        for k, v in kwargs.items():
            if k not in defaults:
                raise TypeError(f"{cls_name}() got an unexpected keyword argument '{k}'; its arguments: "
                                f"{', '.join(order) or 'none'}")
            if k in given:
                raise TypeError(f"{cls_name}() got multiple values for argument '{k}'")
            given[k] = v
        _layer._duet._check_initializer(name, given)  # bad values are refused here, as Keras refuses them
        self._duet_args = given

    def __call__(self, shape, dtype=None):
        dt = _layer._dtypes.float32 if dtype is None else _layer._dtypes.as_dtype(dtype)
        return _layer._duet._initialize(name, self._duet_args, [int(d) for d in shape], dt._enum)

    def get_config(self):
        return {**{k: v for k, v in defaults.items()}, **self._duet_args}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._duet_args.items())
        return f"{cls_name}({args})"

    cls = type(cls_name, (Initializer,), {"__init__": __init__, "__call__": __call__, "get_config": get_config,
                              "__repr__": __repr__, "_duet_name": name,
                              "__doc__": f"keras.initializers.{cls_name}({', '.join(f'{k}={v!r}' for k, v in params)})"})
    return cls


class Initializer:
    """keras.initializers.Initializer: subclass it with __call__(self, shape, dtype=None) returning a tensor for
    an initializer of your own (it runs in Python; a layer saved with it comes back with the default)."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, shape, dtype=None)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)



for _name, _params in _layer._duet._initializers():
    _cls = _initializer_class(_name, _params)
    setattr(initializers, _cls.__name__, _cls)
    setattr(initializers, _name, _cls)  # Keras's lowercase aliases (keras.initializers.random_normal)
initializers.Initializer = Initializer


def _initializers_get(identifier):
    """keras.initializers.get: a name, a {"class_name", "config"} dict, an initializer or a callable."""
    if identifier is None or callable(identifier) or hasattr(identifier, "_duet_name"):
        return identifier
    if isinstance(identifier, str):
        cls = getattr(initializers, identifier, None)
        if cls is None:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return _initializers_get(identifier["class_name"]).__class__(**identifier.get("config", {}))
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


initializers.get = _initializers_get

utils = _module("utils", "keras.utils: set_random_seed, to_categorical.")


def _set_random_seed(seed):
    """Seeds Python's `random`, NumPy's global generator and duet's (keras.utils.set_random_seed)."""
    import random as _pyrandom

    import numpy as _np

    import duet

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an int seed, got {seed!r}")
    _pyrandom.seed(seed)
    _np.random.seed(seed)
    duet.random.set_seed(seed)


def _to_categorical(x, num_classes=None):
    """Class indices as one-hot rows (float32), as keras.utils.to_categorical."""
    import numpy as _np

    x = _np.asarray(x, dtype="int64")
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical: class indices must be non-negative, got {int(x.min())}")
    n = int(num_classes) if num_classes is not None else (int(x.max()) + 1 if x.size else 0)
    if x.size and x.max() >= n:
        raise ValueError(f"to_categorical: class index {int(x.max())} is out of range for num_classes={n}")
    out = _np.zeros((x.size, n), dtype="float32")
    out[_np.arange(x.size), x] = 1.0
    return out.reshape(shape + (n,))


utils.set_random_seed, utils.to_categorical = _set_random_seed, _to_categorical

__all__ = ["Input", "Layer", "Model", "Sequential", "activations", "callbacks", "initializers", "layers", "losses",
           "metrics", "models", "ops", "optimizers", "random", "saving", "utils"]
