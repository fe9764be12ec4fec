"""Losses, metrics, optimizers and learning-rate schedules against Keras 3: the same class with the same options
(or the same name through Keras's compile lookup), on the same values."""
import numpy as np
import oracle_common as oc
import tensorflow as tf
import keras
from keras.src.trainers import compile_utils

# Losses: float32 means of a few logs or squares, 2e-6 relative; their gradients 1e-5 relative (a few
# roundings more), with 1e-7 absolute for the near-zero gradients of clipped or saturated predictions.
LOSS_TOL = (2e-6, 1e-7, False)
LOSS_GRAD_TOL = (1e-5, 1e-7, False)
# Metrics are counts and means: duet sums in float64, Keras in float32, so 1e-6 relative.
METRIC_TOL = (1e-6, 1e-7, False)
# Optimizer steps: a handful of float32 operations per element, in another order (Keras's Adam computes
# m / (sqrt(v) + eps) times its bias-corrected rate as duet's fused kernel does, RMSprop likewise): 2e-6
# relative over three steps; slots get 1e-6 absolute near zero.
OPT_TOL = (2e-6, 1e-6, False)
# Schedules: Keras computes in float32, duet in float64.
SCHEDULE_TOL = (1e-6, 1e-9, False)


def t(a):
    return tf.constant(oc.array(a))


def check_loss(r, tally, differences):
    y_true, y_pred = t(r["y_true"]), t(r["y_pred"])
    if r["get"]:
        loss = compile_utils.get_loss(r["get"], y_true, y_pred)  # what compile(loss="...") uses
    else:
        loss = getattr(keras.losses, r["class"])(**({"from_logits": r["from_logits"]} if "Cross" in r["class"] else {}))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(y_pred)
        if y_true.dtype.is_floating:
            tape.watch(y_true)
        value = loss(y_true, y_pred)
    want = {"value": value.numpy(), "y_pred": tape.gradient(value, y_pred).numpy()}
    if "y_true" in r["grads"]:
        want["y_true"] = tape.gradient(value, y_true).numpy()
    got = {"value": oc.array(r["value"]), **{k: oc.array(g) for k, g in r["grads"].items()}}
    problems = []
    if not r["get"] and r["name"] != loss.name:
        problems.append(f"name: duet '{r['name']}', Keras '{loss.name}'")

    def tol(part):
        return LOSS_TOL if part == "value" else LOSS_GRAD_TOL

    oc.judge(tally, "losses", r["case"], got, want, tol, differences.candidates(r["case"]), r,
             lambda p: p if p == "value" else f"gradient for {p}", "Keras", problems)


def keras_metric(r, y_true, y_pred):
    if r["get"]:
        return compile_utils.get_metric(r["get"], y_true, y_pred)  # what compile(metrics=["..."]) uses
    if r["class"] == "BinaryAccuracy":
        return keras.metrics.BinaryAccuracy(threshold=r["threshold"])
    return getattr(keras.metrics, r["class"])()


def check_metric(r, tally, differences):
    first = r["updates"][0]
    m = keras_metric(r, t(first["y_true"]) if first["y_true"] else None, t(first["y_pred"]))
    got, want = {}, {}
    for i, u in enumerate(r["updates"]):
        if r["class"] == "Mean":
            m.update_state(t(u["y_pred"]))
        else:
            m.update_state(t(u["y_true"]), t(u["y_pred"]))
        got[f"result after update {i + 1}"] = np.array(u["result"])
        want[f"result after update {i + 1}"] = np.array(float(m.result()))
    m.reset_state()
    got["result after reset_state"], want["result after reset_state"] = np.array(r["after_reset"]), np.array(
        float(m.result()))
    problems = []
    if r["name"] != m.name:
        problems.append(f"name (the key fit's history and logs use): duet '{r['name']}', Keras '{m.name}'")
    oc.judge(tally, "metrics", r["case"], got, want, lambda p: METRIC_TOL, differences.candidates(r["case"]), r,
             lambda p: p, "Keras", problems)


def learning_rate(config):
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        lr = dict(lr)
        cls = getattr(keras.optimizers.schedules, lr.pop("class"))
        return cls(**lr)
    return lr


SLOTS = {  # duet's slot name -> the Keras optimizer's list of that state, per class
    "SGD": {"momentum": "momentums"},
    "Adam": {"m": "_momentums", "v": "_velocities"},
    "AdamW": {"m": "_momentums", "v": "_velocities"},
    "RMSprop": {"rms": "_velocities", "momentum": "_momentums"},
}


def check_optimizer(r, tally, differences):
    config = dict(r["config"])
    if "learning_rate" in config:
        config["learning_rate"] = learning_rate(config)
    opt = keras.optimizers.get(r["get"]) if r["get"] else getattr(keras.optimizers, r["class"])(**config)
    if type(opt).__name__ != r["class"]:
        tally.failed("optimizers", r["case"], f"Keras's optimizer '{r['get']}' is {type(opt).__name__}")
        return
    variables = [keras.Variable(oc.array(v["value"]), name=v["name"]) for v in r["variables"]]
    got, want = {}, {}
    for s, step in enumerate(r["steps"], 1):
        opt.apply_gradients(zip([t(g) for g in step["grads"]], variables))
        for k, v in enumerate(variables):
            name = r["variables"][k]["name"]
            got[f"step {s} {name}"] = oc.array(step["variables"][k])
            want[f"step {s} {name}"] = v.numpy()
            keras_slots = {n: getattr(opt, attr) for n, attr in SLOTS[r["class"]].items()}
            keras_slots = {n: lst[opt._get_variable_index(v)] for n, lst in keras_slots.items() if lst}
            for slot, value in step["slots"][k].items():
                got[f"step {s} {name}/{slot}"] = oc.array(value)
            for slot, var in keras_slots.items():
                want[f"step {s} {name}/{slot}"] = var.numpy()
        got[f"step {s} iterations"] = np.array(step["iterations"])
        want[f"step {s} iterations"] = np.array(int(opt.iterations.numpy()))
    oc.judge(tally, "optimizers", r["case"], got, want, lambda p: OPT_TOL, differences.candidates(r["case"]), r,
             lambda p: p, "Keras")


def check_schedule(r, tally, differences):
    s = getattr(keras.optimizers.schedules, r["class"])(**r["config"])
    want = {f"step {i}": np.array(float(s(i))) for i in range(len(r["values"]))}
    got = {f"step {i}": np.array(v) for i, v in enumerate(r["values"])}
    oc.judge(tally, "schedules", r["case"], got, want, lambda p: SCHEDULE_TOL, differences.candidates(r["case"]), r,
             lambda p: p, "Keras")
