"""keras.metrics: the engine's streaming metrics (update_state(y_true, y_pred), result(), reset_state())."""
from .. import _duet

Metric = _duet.Metric


def _named(key):
    def make(name=None, dtype=None):
        return _duet._metric(key, 0.5)

    make.__name__ = key
    return make


Accuracy = _named("accuracy")
SparseCategoricalAccuracy = _named("sparse_categorical_accuracy")
CategoricalAccuracy = _named("categorical_accuracy")
MeanAbsoluteError = _named("mean_absolute_error")


def BinaryAccuracy(name="binary_accuracy", dtype=None, threshold=0.5):  # noqa: N802
    return _duet._metric("binary_accuracy", float(threshold))


def Mean(name="mean", dtype=None):  # noqa: N802
    return _duet._mean_metric(name)


def get(identifier):
    if isinstance(identifier, Metric):
        return identifier
    return _duet._metric(str(identifier), 0.5)
