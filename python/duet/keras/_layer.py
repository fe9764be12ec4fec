"""keras.layers.Layer for Python subclasses, Lambda, Input, and the engine's built-in layer classes.

Every layer is a C++ duet layer. A Python subclass becomes one through a trampoline: the engine calls the
_duet_* methods below when it builds the layer, calls it (eagerly, recording a functional model, or while
a step is traced) and saves it; they call Keras's build / call / compute_output_shape / get_config. The
built-in classes (Dense, Conv2D, ...) are generated from the engine's layer registry: their keyword
arguments are the layer's config, so a layer class registered in C++ appears here with no code of its own.
"""
import inspect

import numpy as np

from .. import _duet, _nest
from .. import dtypes as _dtypes

# Keras's Layer keyword arguments that every layer takes.
_BASE_KWARGS = ("name", "trainable", "dtype", "autocast", "input_shape", "batch_input_shape", "input_dim",
                "batch_size")


def _check_dtype(owner, dtype):
    if dtype is None:
        return
    d = dtype.get("name") if isinstance(dtype, dict) else dtype
    if _dtypes.as_dtype(d) != _dtypes.float32:
        raise _duet.errors.DTypeError(f"{owner}: duet's layers compute in float32 (got dtype={d!r}); cast the "
                                      "inputs instead (mixed precision is not supported)")


def _input_tensor(x, share=False):
    """A layer input as a tensor: NumPy arrays and Python values convert (floats as float32, the layers'
    dtype, as Keras casts them); tensors and Keras inputs pass as they are. With `share`, an array already of
    the right dtype is used in place, not copied (fit's data, read only while fit runs)."""
    if isinstance(x, _duet.Tensor):
        return x
    if isinstance(x, _duet.Variable):
        return x.value()
    if x is None:
        raise _duet.errors.InvalidArgumentError("a layer got None as an input; pass a tensor or an array")
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return _duet._to_tensor(arr, _dtypes.float32._enum, share)
    return _duet._to_tensor(arr, None, share)


def _flat_inputs(inputs):
    if isinstance(inputs, dict):
        raise _duet.errors.InvalidArgumentError("duet's layers take one tensor or a list of tensors, not a dict")
    if isinstance(inputs, (list, tuple)):
        return [_input_tensor(x) for x in _nest.flatten(inputs)], True
    return [_input_tensor(inputs)], False


def _layer_call(self, *args, **kwargs):
    """layer(inputs, training=None, **kwargs): builds the layer on first use and calls it; on Keras inputs it
    records the call (a functional model), inside duet.function it is traced."""
    if args:
        inputs, args = args[0], args[1:]
    elif "inputs" in kwargs:
        inputs = kwargs.pop("inputs")
    else:
        raise TypeError(f"{type(self).__name__}.__call__() missing the inputs")
    training = kwargs.pop("training", None)
    flat, is_list = _flat_inputs(inputs)
    python_layer = hasattr(self, "_duet_call")
    if python_layer:
        self.__dict__["_duet_list_input"] = is_list
        self.__dict__["_duet_call_args"] = (args, kwargs)
    elif args or kwargs:
        raise TypeError(f"{self._type}() call takes inputs and training only, got "
                        f"{', '.join(list(kwargs) or ['extra positional arguments'])}")
    out = self._call(flat, bool(training))
    struct = self.__dict__.get("_duet_out_struct") if python_layer else None
    if struct is not None:
        return _nest.pack_sequence_as(struct, out)
    return out[0] if len(out) == 1 else list(out)


def _get_weights(self):
    return [np.array(w.numpy()) for w in self.weights]


def _set_weights(self, weights):
    own = self.weights
    if len(weights) != len(own):
        raise _duet.errors.InvalidArgumentError(
            f"{self.name}.set_weights: the layer has {len(own)} weights, got {len(weights)} arrays")
    for w, v in zip(own, weights):
        v = np.asarray(v)
        if tuple(v.shape) != tuple(w.shape):
            raise _duet.errors.ShapeError(f"{self.name}.set_weights: weight '{w.name}' has shape {tuple(w.shape)}, "
                                          f"got an array of shape {tuple(v.shape)}")
        w.assign(v)


def _get_config(self):
    c = self._config()
    if c is None:
        raise NotImplementedError(f"layer '{self.name}' ({self._type}) has no config")
    c.setdefault("trainable", self.trainable)
    c.setdefault("dtype", "float32")
    return c


def _layer_repr(self):
    return f"<{self._type} name={self.name}, built={self.built}>"


for _name, _fn in (("__call__", _layer_call), ("get_weights", _get_weights), ("set_weights", _set_weights),
                   ("get_config", _get_config), ("__repr__", _layer_repr)):
    setattr(_duet.Layer, _name, _fn)
_duet.Layer.dtype = property(lambda self: "float32")
_duet.Layer.variables = property(lambda self: self.weights)
_duet.Layer.trainable_variables = property(lambda self: self.trainable_weights)
_duet.Layer.non_trainable_variables = property(lambda self: self.non_trainable_weights)


class _PythonLayer:
    """What Python subclasses of Layer and Model share: Keras's constructor arguments, attribute tracking,
    add_weight, and the dispatchers the engine calls."""

    def _duet_init(self, kwargs):
        unknown = {k: v for k, v in kwargs.items() if k not in _BASE_KWARGS}
        if unknown:
            advice = ""
            if "dynamic" in unknown:
                advice = (". Keras 3 has no dynamic=: a stateful layer needs no flag (assign and assign_add are "
                          "traced like any op); to make a layer run only eagerly (a host step inside compiled "
                          "models), set layer.dynamic = True after making it")
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {unknown}{advice}")
        _check_dtype(type(self).__name__, kwargs.get("dtype"))
        d = self.__dict__
        d["_duet_ready"] = True
        d["_duet_list_input"] = False
        d["_duet_call_args"] = ((), {})
        d["_duet_out_struct"] = None
        d["_duet_weight_count"] = 0
        shape = kwargs.get("input_shape") or kwargs.get("batch_input_shape")
        if kwargs.get("batch_input_shape"):
            shape = tuple(shape)[1:]
        if kwargs.get("input_dim"):
            shape = (kwargs["input_dim"],)
        d["_duet_input_shape"] = tuple(shape) if shape else None
        params = inspect.signature(type(self).call).parameters
        d["_duet_takes_training"] = "training" in params or any(
            p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.trainable = bool(kwargs.get("trainable", True))

    def __setattr__(self, name, value):
        if not self.__dict__.get("_duet_ready"):
            raise RuntimeError(f"It looks like you are subclassing `{_base_name(self)}` and you forgot to call "
                               "`super().__init__()`. Always start with this line.")
        object.__setattr__(self, name, value)
        for v in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(v, _duet.Layer) and v is not self:
                self._track(v)

    def build(self, input_shape):
        """Creates the layer's weights from its input shape (a tuple, None for unknown dims; a list of
        them for several inputs). Called once, before the first call."""

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call()` method implemented.")

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False,
                   name=None, **kwargs):
        """A weight of this layer (Keras 3's signature; TensorFlow 2's add_weight("name", shape) works too).
        initializer: a Keras name ("zeros", "ones", "glorot_uniform", "random_normal", ...), a
        keras.initializers object (RandomNormal(stddev=0.02)) or a callable (shape, dtype) -> tensor; default
        glorot_uniform for floats, zeros otherwise."""
        if isinstance(shape, str):  # tf.keras's add_weight(name, shape, ...)
            name, shape = shape, kwargs.pop("shape", initializer if not isinstance(initializer, str) else None)
        if kwargs:
            raise TypeError(f"add_weight() got unexpected keyword arguments {sorted(kwargs)}")
        if regularizer is not None or constraint is not None:
            raise _duet.errors.InvalidArgumentError(
                f"{type(self).__name__}.add_weight: regularizer and constraint are not supported yet (issue 30)")
        dt = _dtypes.float32 if dtype is None else _dtypes.as_dtype(dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dt.is_floating else "zeros"
        if name is None:
            k = self.__dict__["_duet_weight_count"]
            name = "variable" if k == 0 else f"variable_{k}"
        self.__dict__["_duet_weight_count"] += 1
        shape = () if shape is None else tuple(int(d) for d in shape)
        return self._add_weight(name, shape, initializer, bool(trainable), dt._enum)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32"}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # The engine's side of the trampoline.
    def _duet_build(self, shapes):
        if type(self).build is getattr(type(self), "_duet_default_build", None):
            return  # a model's default build calls the model: nothing to do while the engine builds it
        if self._duet_list_input:
            self.build([tuple(s) for s in shapes])
        else:
            self.build(tuple(shapes[0]))

    def _duet_call(self, xs, training):
        inputs = list(xs) if self._duet_list_input else xs[0]
        args, kwargs = self._duet_call_args
        kw = dict(kwargs)
        if self._duet_takes_training:
            kw["training"] = training
        out = self.call(inputs, *args, **kw)
        if out is None:
            raise _duet.errors.InvalidArgumentError(f"{type(self).__name__}.call returned None; return the output "
                                                    "tensor(s)")
        self.__dict__["_duet_out_struct"] = _nest.map_structure(lambda _: 0, out)
        return _nest.flatten(out)

    def _duet_output_shape(self, shapes):
        if type(self).compute_output_shape is _PythonLayer.compute_output_shape:
            return None
        arg = [tuple(s) for s in shapes] if self._duet_list_input else tuple(shapes[0])
        out = self.compute_output_shape(arg)
        if isinstance(out, tuple) and all(d is None or isinstance(d, int) for d in out):
            return [out]
        return [tuple(s) for s in out]

    def _duet_config(self):
        if type(self).__name__ not in _registered:
            return None
        c = dict(self.get_config())
        c.pop("dtype", None)
        return c


def _base_name(obj):
    return "Model" if isinstance(obj, _duet.Model) else "Layer"


class Layer(_PythonLayer, _duet.Layer):
    """The base of layers written in Python (keras.layers.Layer): override build(input_shape) to make
    weights with add_weight, and call(inputs[, training]) to compute. Called on tensors it computes now; on
    keras.Input tensors it records a functional model; inside a traced function or fit it is traced, and a
    call that reads values (.numpy()) runs as a host step there (a graph break), the rest staying compiled."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        _duet.Layer.__init__(self, type(self).__name__, name or "")
        kwargs.update(trainable=trainable, dtype=dtype)
        self._duet_init(kwargs)


class Lambda(Layer):
    """Wraps a Python function of the inputs as a layer (keras.layers.Lambda). Traced into the graph when it
    uses tensor ops; one that reads values runs as a host step. output_shape (per example, or a function of
    the input shape) is checked when given."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if mask is not None:
            raise _duet.errors.InvalidArgumentError("Lambda: mask is not supported yet (masks: issue 29)")
        self.function = function
        self.arguments = dict(arguments or {})
        self._lambda_output_shape = output_shape
        self.__dict__["_lambda_takes_training"] = "training" in inspect.signature(function).parameters \
            if callable(function) else False

    def call(self, inputs, training=None):
        kw = dict(self.arguments)
        if self._lambda_takes_training:
            kw["training"] = training
        return self.function(inputs, **kw)

    def compute_output_shape(self, input_shape):
        s = self._lambda_output_shape
        if callable(s):
            return s(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + tuple(s)

    def _duet_output_shape(self, shapes):
        if self._lambda_output_shape is None:
            return None
        return super()._duet_output_shape(shapes)


_registered = {}


def register_keras_serializable(package="Custom", name=None):
    """Registers a Layer subclass so model.save writes it by its get_config() and load_model rebuilds it
    with from_config (keras.saving.register_keras_serializable)."""

    def decorate(cls):
        key = cls.__name__ if name is None else name
        if key != cls.__name__:
            raise _duet.errors.InvalidArgumentError("register_keras_serializable: duet saves a layer under its "
                                                    f"class name ({cls.__name__}); leave name=None")
        _registered[key] = cls
        _duet._register_layer(key, lambda config: cls.from_config(dict(config)))
        return cls

    return decorate


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic model input (keras.Input): `shape` per example, the batch dim is None."""
    if shape is None and batch_shape is not None:
        shape = tuple(batch_shape)[1:]
    if shape is None:
        raise _duet.errors.InvalidArgumentError("Input: give shape (per example, without the batch dim)")
    if isinstance(shape, int):
        shape = (shape,)
    if sparse or tensor is not None or optional:
        raise _duet.errors.InvalidArgumentError("Input: sparse, tensor and optional inputs are not supported")
    dt = _dtypes.float32 if dtype is None else _dtypes.as_dtype(dtype)
    return _duet._input(tuple(shape), dt._enum, name or "")


class InputLayer:
    """keras.layers.InputLayer: the input of a Sequential model (its Input tensor)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, input_shape=None):
        self.tensor = input_tensor if input_tensor is not None else Input(
            shape if shape is not None else input_shape, batch_size, dtype, sparse, batch_shape, name)


# The built-in classes, from the engine's registry.
_ACTIVATION_NAMES = tuple(_duet._activation_names())  # the engine's table, Keras's names


class _Builtin(type):
    """The metaclass of the built-in layer classes: calling the class makes the engine's layer from its
    arguments; isinstance checks the layer's class name."""

    def __call__(cls, *args, **kwargs):
        return _make_builtin(cls.__name__, cls._positional, args, kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, _duet.Layer) and obj._type == cls.__name__


def _init_subclass(cls, **kwargs):
    raise TypeError(f"duet's built-in layers cannot be subclassed in Python: subclass keras.layers.Layer and "
                    f"use a {cls.__mro__[1].__name__} inside it")


def _make_builtin(cls, positional, args, kwargs):
    if len(args) > len(positional):
        raise TypeError(f"{cls}() takes at most {len(positional)} positional arguments "
                        f"({', '.join(positional) or 'none'}) but {len(args)} were given")
    config = dict(zip(positional, args))
    for k in kwargs:
        if k in config:
            raise TypeError(f"{cls}() got multiple values for argument '{k}'")
    kwargs = dict(kwargs)
    trainable = kwargs.pop("trainable", True)
    _check_dtype(cls, kwargs.pop("dtype", None))
    kwargs.pop("autocast", None)
    shape = kwargs.pop("input_shape", None)
    batch_shape = kwargs.pop("batch_input_shape", None)
    if batch_shape is not None:
        shape = tuple(batch_shape)[1:]
    input_dim = kwargs.pop("input_dim", None) if cls != "Embedding" else None
    if input_dim is not None:
        shape = (input_dim,)
    config.update(kwargs)
    for k, v in list(config.items()):
        if k.endswith("activation") and callable(v):
            n = getattr(v, "__name__", "")
            if n not in _ACTIVATION_NAMES:
                raise _duet.errors.InvalidArgumentError(
                    f"{cls}: {k} must be one of duet's activation names {_ACTIVATION_NAMES}, got the function "
                    f"{n or v!r}; wrap your function in a Lambda layer after the {cls}")
            config[k] = n
        elif k.endswith("initializer") and hasattr(v, "_duet_name"):
            # The engine's config: the name, and each argument given as "<key>_<argument>".
            config[k] = v._duet_name
            for arg, value in v._duet_args.items():
                if value is not None:
                    config[f"{k}_{arg}"] = value
        elif isinstance(v, _dtypes.DType):
            config[k] = v.name
    layer = _duet._make_layer(cls, config)
    layer.trainable = bool(trainable)
    if shape is not None:
        layer._duet_input_shape = tuple(shape)
    return layer


def builtin_classes():
    """{class name: class} for every layer class the engine has registered."""
    out = {}
    for name, positional in _duet._layer_classes().items():
        doc = (f"keras.layers.{name}: the engine's {name} layer. Positional arguments: "
               f"{', '.join(positional) or 'none'}; every other argument by keyword, with Keras's names.")
        out[name] = _Builtin(name, (), {"_positional": tuple(positional), "__doc__": doc,
                                        "__init_subclass__": classmethod(_init_subclass)})
    return out
