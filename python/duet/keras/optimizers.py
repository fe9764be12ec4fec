"""keras.optimizers: the engine's optimizers with Keras's arguments and defaults (and
keras.optimizers.schedules). Arguments Keras has for its own machinery (clipnorm, ema, loss scaling...)
are refused when given, not ignored."""
import types as _types

from .. import _duet

Optimizer = _duet.Optimizer
LearningRateSchedule = _duet.LearningRateSchedule


def _no_extras(name, kwargs):
    given = {k: v for k, v in kwargs.items() if v not in (None, False) and k != "name"}
    if given:
        raise _duet.errors.InvalidArgumentError(f"{name}: {sorted(given)} not supported yet")


def SGD(learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):  # noqa: N802 - Keras's class names
    _no_extras("SGD", kwargs)
    return _duet._SGD(learning_rate, float(momentum), bool(nesterov))


def Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False, **kwargs):  # noqa: N802
    _no_extras("Adam", dict(kwargs, amsgrad=amsgrad))
    return _duet._Adam(learning_rate, float(beta_1), float(beta_2), float(epsilon))


def AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False,
          **kwargs):  # noqa: N802
    _no_extras("AdamW", dict(kwargs, amsgrad=amsgrad))
    return _duet._AdamW(learning_rate, float(weight_decay), float(beta_1), float(beta_2), float(epsilon))


def RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False, **kwargs):  # noqa: N802
    _no_extras("RMSprop", dict(kwargs, centered=centered))
    return _duet._RMSprop(learning_rate, float(rho), float(momentum), float(epsilon))


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    return {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}[str(identifier).lower()]()


schedules = _types.ModuleType("duet.keras.optimizers.schedules", "Learning-rate schedules.")
schedules.LearningRateSchedule = LearningRateSchedule
schedules.ExponentialDecay = lambda initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None: \
    _duet._ExponentialDecay(float(initial_learning_rate), int(decay_steps), float(decay_rate), bool(staircase))
schedules.PiecewiseConstantDecay = lambda boundaries, values, name=None: \
    _duet._PiecewiseConstantDecay([int(b) for b in boundaries], [float(v) for v in values])
schedules.CosineDecay = lambda initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None, \
    warmup_steps=0: _duet._CosineDecay(float(initial_learning_rate), int(decay_steps), float(alpha),
                                       warmup_target, int(warmup_steps))
