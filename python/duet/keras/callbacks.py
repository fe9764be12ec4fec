"""keras.callbacks: subclass Callback in Python (on_train_begin, on_epoch_end(epoch, logs), on_train_batch_end
(batch, logs), ...; self.model is the model, self.model.stop_training stops fit), or use the engine's
EarlyStopping, ReduceLROnPlateau, TerminateOnNaN and BackupAndRestore."""
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
