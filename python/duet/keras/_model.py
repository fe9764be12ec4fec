"""keras.Model (functional, or subclassed in Python), keras.Sequential, and compile / fit / evaluate /
predict / summary / save with Keras's signatures. The models are the engine's: fit runs in C++ without the
GIL (the step traced and compiled unless run_eagerly), taking it only for Python layers, losses, callbacks
and printing. Ctrl-C during fit stops it after the current step and raises KeyboardInterrupt."""
import numpy as np

from .. import _duet, _nest
from .. import dtypes as _dtypes
from . import _layer


def _data(x, what):
    """x or y of fit/evaluate/predict as a list of tensors (one per model input or output)."""
    if x is None:
        return None
    if isinstance(x, dict):
        raise _duet.errors.InvalidArgumentError(f"{what}: dicts of arrays are not supported yet; pass a list in "
                                                "the model's input order")
    if hasattr(x, "__iter__") and not isinstance(x, (list, tuple, np.ndarray, _duet.Tensor, _duet.Variable)) \
            and not hasattr(x, "__array__"):
        raise _duet.errors.InvalidArgumentError(
            f"{what}: datasets and generators are not supported yet (duet.data is planned, issue 31); pass NumPy "
            "arrays or tensors")
    # A list of arrays is one array per model input; any other value (a nested list of numbers too) is one.
    many = isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(i, (np.ndarray, _duet.Tensor, _duet.Variable)) for i in x)
    return [_layer._input_tensor(i, share=True) for i in (x if many else [x])]


def _verbose(v):
    return 1 if v == "auto" else int(v)


def _unsupported(what, **given):
    for k, v in given.items():
        if v is not None:
            raise _duet.errors.InvalidArgumentError(f"{what}: {k} is not supported yet (issue 30 plans it)")


class History:
    """What fit returns (keras.callbacks.History): history maps each metric to its per-epoch values."""

    def __init__(self, history, epochs, model, params):
        self.history = {k: list(v) for k, v in history.items()}
        self.epoch = list(epochs)
        self.model = model
        self.params = params


def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
            run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
    """Configures training (Keras's compile): optimizer and loss by name or object (a loss may be any
    function loss(y_true, y_pred)); one loss per output as a list; metrics by name or object."""
    if weighted_metrics:
        _unsupported("compile", weighted_metrics=weighted_metrics)
    if isinstance(loss, dict) or isinstance(metrics, dict):
        raise _duet.errors.InvalidArgumentError("compile: losses and metrics by output name (dicts) are not "
                                                "supported yet; give lists in output order")
    losses = [] if loss is None else list(loss) if isinstance(loss, (list, tuple)) else [loss]
    ms = [] if metrics is None else _nest.flatten(metrics)
    if isinstance(optimizer, type):
        optimizer = optimizer()
    self._compile(optimizer, losses, list(loss_weights or []), ms, bool(run_eagerly))


def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    """Trains on NumPy arrays or tensors (Keras's fit). Returns a History."""
    _unsupported("fit", class_weight=class_weight, sample_weight=sample_weight, steps_per_epoch=steps_per_epoch,
                 validation_steps=validation_steps)
    xs, ys = _data(x, "fit x"), _data(y, "fit y")
    if xs is None:
        raise _duet.errors.InvalidArgumentError("fit: x is required")
    if ys is None:
        raise _duet.errors.InvalidArgumentError("fit: y is required (fit(x) without targets needs a custom "
                                                "train_step, planned in issue 30)")
    vx = vy = None
    if validation_data is not None:
        if len(validation_data) == 3:
            raise _duet.errors.InvalidArgumentError("fit: validation sample weights are not supported yet")
        vx, vy = _data(validation_data[0], "validation x"), _data(validation_data[1], "validation y")
    cbs = list(callbacks or [])
    params = {"verbose": _verbose(verbose), "epochs": epochs, "steps": None}
    for cb in cbs:
        if not isinstance(cb, _duet.Callback):
            raise _duet.errors.InvalidArgumentError(f"fit: callbacks must be keras.callbacks objects, got "
                                                    f"{type(cb).__name__}")
        if hasattr(cb, "set_model"):
            cb.set_model(self)
            cb.set_params(params)
    history, epochs_run = self._fit(xs, ys, int(epochs), int(batch_size or 32), bool(shuffle), vx, vy,
                                    float(validation_split), _verbose(verbose), cbs, int(initial_epoch), None)
    h = History(history, range(initial_epoch, initial_epoch + epochs_run), self, params)
    self.history = h
    return h


def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             callbacks=None, return_dict=False):
    """The loss and metrics on x, y (Keras's evaluate): the loss alone when there are no metrics, else
    [loss, metrics...]; a dict with return_dict=True."""
    _unsupported("evaluate", sample_weight=sample_weight, steps=steps, callbacks=callbacks)
    logs = self._evaluate(_data(x, "evaluate x"), _data(y, "evaluate y"), int(batch_size or 32), _verbose(verbose))
    if return_dict:
        return dict(logs)
    keys = (["loss"] if "loss" in logs else []) + sorted(k for k in logs if k != "loss")
    values = [logs[k] for k in keys]
    return values[0] if len(values) == 1 else values


def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """The model's outputs for x as NumPy arrays (one array, or a list for several outputs)."""
    _unsupported("predict", steps=steps, callbacks=callbacks)
    out = [np.asarray(t.numpy()) for t in self._predict(_data(x, "predict x"), int(batch_size or 32))]
    return out[0] if len(out) == 1 else out


def predict_on_batch(self, x):
    return predict(self, x, batch_size=len(_data(x, "predict x")[0]))


def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
            layer_range=None):
    text = self._summary()
    (print_fn or print)(text.rstrip("\n"))


def get_layer(self, name=None, index=None):
    if index is not None:
        return self.layers[index]
    for layer in self.layers:
        if layer.name == name:
            return layer
    raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")


for _name, _fn in (("compile", compile), ("fit", fit), ("evaluate", evaluate), ("predict", predict),
                   ("predict_on_batch", predict_on_batch), ("summary", summary), ("get_layer", get_layer)):
    setattr(_duet.Model, _name, _fn)


def _flat_tensors(x, what):
    if isinstance(x, dict):
        raise _duet.errors.InvalidArgumentError(f"Model: {what} as a dict is not supported yet; give a list")
    flat = _nest.flatten(x)
    for t in flat:
        if not isinstance(t, _duet.Tensor):
            raise _duet.errors.InvalidArgumentError(f"Model: {what} must be keras.Input tensors and the tensors "
                                                    f"computed from them, got {type(t).__name__}")
    return flat


# keras.Model and keras.Sequential are Python subclasses of the engine's classes (nanobind allows a Python
# class one engine base, so Sequential is not a subclass of Model here; both have every Model method, which
# live on the engine's Model class, as do models load_model returns).
_cpp_model_init = _duet.Model.__init__
_cpp_sequential_init = _duet.Sequential.__init__
_cpp_sequential_add = _duet.Sequential.add


def _model_init(self, *args, **kwargs):
    """keras.Model(inputs, outputs, name=None): a functional model of the layers between them. A subclass
    calls super().__init__() (name= and trainable= as keywords), creates its layers, and defines
    call(inputs[, training])."""
    inputs = kwargs.pop("inputs", args[0] if args else None)
    outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
    name = kwargs.pop("name", None)
    if inputs is not None or outputs is not None:
        if inputs is None or outputs is None:
            raise _duet.errors.InvalidArgumentError("Model: give both inputs and outputs (or neither, to subclass "
                                                    "Model)")
        _cpp_model_init(self, _flat_tensors(inputs, "inputs"), _flat_tensors(outputs, "outputs"), name or "")
    else:
        if type(self) is Model:
            raise _duet.errors.InvalidArgumentError("Model() needs inputs and outputs (a functional model); to "
                                                    "write the computation in Python, subclass keras.Model")
        _cpp_model_init(self, name or "", type(self).__name__)
    self._duet_init(kwargs)


def _sequential_init(self, layers=None, name=None, trainable=True):
    """keras.Sequential(layers): layers applied in order. Start it with keras.Input(shape) (or give the
    first layer input_shape=) to build it now; otherwise it is built on first use."""
    layers = list(layers or [])
    first = None
    if layers and isinstance(layers[0], _layer.InputLayer):
        first = layers.pop(0).tensor
    elif layers and isinstance(layers[0], _duet.Tensor):
        first = layers.pop(0)
    elif layers and getattr(layers[0], "_duet_input_shape", None):
        first = _layer.Input(layers[0]._duet_input_shape)
    for i, layer in enumerate(layers):
        if not isinstance(layer, _duet.Layer):
            raise _duet.errors.InvalidArgumentError(f"Sequential: item {i} is a {type(layer).__name__}, not a "
                                                    "layer (only the first item may be a keras.Input)")
    _cpp_sequential_init(self, first, layers, name or "")
    self._duet_init({"trainable": trainable})


def _sequential_add(self, layer):
    if isinstance(layer, (_duet.Tensor, _layer.InputLayer)):
        raise _duet.errors.InvalidArgumentError(
            "Sequential.add: an Input goes first in the list: Sequential([keras.Input(shape), ...]), or give the "
            "first layer input_shape=")
    if not isinstance(layer, _duet.Layer):
        raise _duet.errors.InvalidArgumentError(f"Sequential.add: {type(layer).__name__} is not a layer")
    _cpp_sequential_add(self, layer)


def _model_build(self, input_shape):
    """Builds a model not built yet by calling it on a keras.Input of this shape (the batch dim first)."""
    if self.built:
        return
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    ins = [_layer.Input(tuple(s)[1:]) for s in shapes]
    self(ins if isinstance(input_shape, list) else ins[0])


class Model(_layer._PythonLayer, _duet.Model):
    __init__ = _model_init
    __doc__ = _model_init.__doc__
    build = _model_build
    _duet_default_build = _model_build

    def _duet_output_shape(self, shapes):
        return None


class Sequential(_layer._PythonLayer, _duet.Sequential):
    __init__ = _sequential_init
    __doc__ = _sequential_init.__doc__
    add = _sequential_add
    build = _model_build
    _duet_default_build = _model_build

    def _duet_output_shape(self, shapes):
        return None


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A model saved by model.save (in Python or C++), rebuilt from the file (no code in it runs): layers
    from their configs, then the weights. Layers written in Python must be registered with
    keras.saving.register_keras_serializable. The model is not compiled."""
    for cls in (custom_objects or {}).values():
        if isinstance(cls, type) and issubclass(cls, _duet.Layer) and cls.__name__ not in _layer._registered:
            _layer.register_keras_serializable()(cls)
    return _duet._load_model(str(filepath))
