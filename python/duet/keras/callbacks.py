"""keras.callbacks: subclass Callback in Python (on_train_begin, on_epoch_end(epoch, logs), on_train_batch_end
(batch, logs), ...; self.model is the model, self.model.stop_training stops fit), ModelCheckpoint, or use the
engine's EarlyStopping, ReduceLROnPlateau, TerminateOnNaN and BackupAndRestore."""
import math
import os
import sys

from .. import _duet
from ._model import History  # noqa: F401 - keras.callbacks.History


class Callback(_duet.Callback):
    """The base of callbacks written in Python; override the on_* methods you need."""

    def __init__(self):
        _duet.Callback.__init__(self)
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def _duet_event(self, name, index, logs):
        method = getattr(self, name)
        logs = dict(logs) if logs is not None else {}
        if index < 0:
            method(logs)
        else:
            method(index, logs)

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class LambdaCallback(Callback):
    """Callbacks from functions: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs), on_train_batch_end
    (batch, logs), on_train_begin(logs), on_train_end(logs)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin or kwargs.pop("on_batch_begin", None)),
                         ("on_train_batch_end", on_train_batch_end or kwargs.pop("on_batch_end", None))):
            if fn is not None:
                setattr(self, name, fn)
        if kwargs:
            raise TypeError(f"LambdaCallback got unexpected arguments {sorted(kwargs)}")


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) after each epoch, as Keras's ModelCheckpoint: `filepath` may hold
    fields filled from the epoch (1-based) and the logs ("best-{epoch:02d}-{val_loss:.2f}.keras"); with
    save_best_only, only when `monitor` improves (mode "min", "max", or "auto": max for accuracies). The file
    is duet's model file whatever its extension (load it with keras.models.load_model, or load_weights)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch":
            raise _duet.errors.InvalidArgumentError(
                f"ModelCheckpoint: save_freq={save_freq!r} is not supported yet; duet saves at the end of each "
                "epoch (save_freq='epoch')")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, int(verbose)
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self._max = mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure")))
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            -math.inf if self._max else math.inf)

    def _better(self, value):
        return value > self.best if self._max else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} names {e}, which is not in the logs "
                           f"({sorted(logs)}) or 'epoch'") from None
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                print(f"ModelCheckpoint: can save the best model only with {self.monitor} available (logs: "
                      f"{sorted(logs)}); skipping", file=sys.stderr)
                return
            if not self._better(value):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {value:.5f}, saving "
                      f"model to {path}")
            self.best = value
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


def EarlyStopping(monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,  # noqa: N802
                  restore_best_weights=False, start_from_epoch=0):
    if baseline is not None or start_from_epoch:
        raise _duet.errors.InvalidArgumentError("EarlyStopping: baseline and start_from_epoch are not supported yet")
    return _duet._EarlyStopping(monitor, float(min_delta), int(patience), mode, bool(restore_best_weights))


def ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",  # noqa: N802
                      min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
    return _duet._ReduceLROnPlateau(monitor, float(factor), int(patience), float(min_delta), int(cooldown),
                                    float(min_lr), mode)


def TerminateOnNaN():  # noqa: N802
    return _duet._TerminateOnNaN()


def BackupAndRestore(backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):  # noqa: N802
    freq = 0 if save_freq == "epoch" else int(save_freq)
    return _duet._BackupAndRestore(str(backup_dir), freq, bool(delete_checkpoint))
