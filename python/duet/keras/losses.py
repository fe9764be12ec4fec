"""keras.losses: the engine's losses, as objects (callable: loss(y_true, y_pred) is the batch mean) and as
functions of Keras's names. Any Python function loss(y_true, y_pred) can also be given to compile."""
from .. import _duet

Loss = _duet.Loss


def _check(name, reduction, kwargs):
    if reduction not in ("sum_over_batch_size", "auto", None):
        raise _duet.errors.InvalidArgumentError(f"{name}: reduction={reduction!r} is not supported yet (issue 30)")
    extra = {k: v for k, v in kwargs.items() if k not in ("name", "dtype") and v not in (None, 0, 0.0, -1)}
    if extra:
        raise _duet.errors.InvalidArgumentError(f"{name}: {sorted(extra)} not supported yet (issue 30)")


def MeanSquaredError(reduction="sum_over_batch_size", name="mean_squared_error", **kwargs):  # noqa: N802
    _check("MeanSquaredError", reduction, kwargs)
    return _duet._loss("mean_squared_error", False)


def MeanAbsoluteError(reduction="sum_over_batch_size", name="mean_absolute_error", **kwargs):  # noqa: N802
    _check("MeanAbsoluteError", reduction, kwargs)
    return _duet._loss("mean_absolute_error", False)


def BinaryCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                       name="binary_crossentropy", **kwargs):  # noqa: N802
    _check("BinaryCrossentropy", reduction, dict(kwargs, label_smoothing=label_smoothing))
    return _duet._loss("binary_crossentropy", bool(from_logits))


def CategoricalCrossentropy(from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                            name="categorical_crossentropy", **kwargs):  # noqa: N802
    _check("CategoricalCrossentropy", reduction, dict(kwargs, label_smoothing=label_smoothing))
    return _duet._loss("categorical_crossentropy", bool(from_logits))


def SparseCategoricalCrossentropy(from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                                  name="sparse_categorical_crossentropy", **kwargs):  # noqa: N802
    _check("SparseCategoricalCrossentropy", reduction, dict(kwargs, ignore_class=ignore_class))
    return _duet._loss("sparse_categorical_crossentropy", bool(from_logits))


def _function(name):
    def loss(y_true, y_pred):
        return _duet._loss(name, False)(y_true, y_pred)

    loss.__name__ = name
    return loss


mean_squared_error = mse = _function("mean_squared_error")
mean_absolute_error = mae = _function("mean_absolute_error")
binary_crossentropy = _function("binary_crossentropy")
categorical_crossentropy = _function("categorical_crossentropy")
sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy")


def get(identifier):
    if isinstance(identifier, Loss) or callable(identifier):
        return identifier
    return _duet._loss(str(identifier), False)
