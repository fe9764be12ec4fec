"""Layers against Keras 3: the Keras layer of the same class, built from duet's own config (so a config key Keras
does not know fails), given duet's weights, called on the same inputs in the same mode; outputs, gradients of
sum(output * cotangent) for inputs and trainable weights, and the weights after the call (BatchNormalization's
moving statistics) are compared."""
import numpy as np
import oracle_common as oc
import tensorflow as tf
import keras

# float32 on both sides. Elementwise layers round like the ops (2e-6 relative); matmuls and convolutions add their
# products in another order: a kernel's gradient sums over every position of the batch (2 x 7 x 6 here), about
# 84 * 6e-8 * |terms|. The largest differences seen: 9e-6 relative (batch normalization's input gradient) and
# 7.6e-6 absolute (a dilated convolution's kernel gradient); a wrong weight or a transposed kernel is off by O(1).
TOL = (2e-6, 2e-5)
GRAD_TOL = (1e-5, 2e-5)

NOT_COMPARED = {
    "Lambda": "wraps an arbitrary C++ function: there is no Keras layer to compare it with",
}


def keras_kwargs(config):
    kw = dict(config)
    # duet's "<key>_initializer" name with "<key>_initializer_<argument>" keys: Keras's initializer object.
    for key in [k for k in kw if k.endswith("_initializer")]:
        args = {k[len(key) + 1:]: kw.pop(k) for k in [k for k in kw if k.startswith(key + "_")]}
        if args:
            kw[key] = keras.initializers.get(kw[key]).__class__(**args)
    if kw.get("activation") == "":
        kw["activation"] = None  # duet's "" is no activation, Keras's None
    if "strides" in kw and kw["strides"] == [] and "pool_size" in kw:
        kw["strides"] = None  # pooling: the pool size
    # duet stores ZeroPadding / Cropping amounts as (before, after) pairs, flat: Keras takes them as pairs.
    for k in ("padding", "cropping"):
        if isinstance(kw.get(k), list) and len(kw[k]) > 2:
            kw[k] = tuple(tuple(kw[k][i:i + 2]) for i in range(0, len(kw[k]), 2))
    for k in ("kernel_size", "strides", "dilation_rate", "pool_size", "target_shape", "dims", "axes", "shared_axes",
              "output_padding"):
        if isinstance(kw.get(k), list):
            kw[k] = tuple(kw[k])
    for k in ("padding", "cropping", "size"):
        if isinstance(kw.get(k), list):
            kw[k] = tuple(kw[k])
    return kw


def short(name):
    return name.rsplit("/", 1)[-1]


def dropout_structure(r, tally, case):
    """Dropout while training draws a random mask, TensorFlow's other than duet's: both must zero elements and
    scale the rest by 1 / (1 - rate), zero about `rate` of them, and pass the gradient through the mask."""
    rate = r["config"]["rate"]
    x = oc.array(r["inputs"][0]).astype(np.float64)
    kept = x / (1 - rate)
    problems = []
    for who, y, g in [("duet", oc.array(r["output"]), oc.array(r["grads"]["input0"]))] + [
            ("Keras", *keras_dropout(r, rate))]:
        y = y.astype(np.float64)
        zero = y == 0
        scaled = np.isclose(y, kept, rtol=1e-6, atol=0)
        if not np.all(zero | scaled):
            problems.append(f"{who}: an element is neither 0 nor x / (1 - rate)")
        n, frac = y.size, zero.mean()
        # the zeroed fraction of n Bernoulli(rate) draws: within 5 standard deviations
        if abs(frac - rate) > 5 * np.sqrt(rate * (1 - rate) / n):
            problems.append(f"{who}: zeroed fraction {frac:.3f} for rate {rate}")
        ct = oc.array(r["cotangent"]).astype(np.float64)
        if oc.mismatches(g, np.where(zero, 0.0, ct / (1 - rate)), 1e-6, 1e-7):
            problems.append(f"{who}: the gradient is not the cotangent through the mask, scaled")
    if problems:
        tally.failed("layers", case, "; ".join(problems))
    else:
        tally.passed("layers")
        tally.notes.append(f"{case}: random mask (TensorFlow draws another): compared the scale 1 / (1 - rate), "
                           "the zeroed fraction and the gradient through the mask")


def keras_dropout(r, rate):
    layer = keras.layers.Dropout(rate)
    x = tf.constant(oc.array(r["inputs"][0]))
    ct = tf.constant(oc.array(r["cotangent"]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        target = tf.reduce_sum(y * ct)
    return y.numpy(), tape.gradient(target, x).numpy()


def run_keras(r):
    """Keras's output, gradients and weights after the call for a layer case."""
    cls = getattr(keras.layers, r["class"])
    layer = cls(**keras_kwargs(r["config"]))
    xs = [tf.constant(oc.array(a)) for a in r["inputs"]]
    arg = xs if len(xs) > 1 else xs[0]
    layer(arg, training=False)  # builds it
    if [short(w.path) for w in layer.weights] != [short(w["name"]) for w in r["weights"]]:
        raise ValueError(f"Keras's weights are {[w.path for w in layer.weights]}, duet's "
                         f"{[w['name'] for w in r['weights']]}")
    layer.set_weights([oc.array(w["value"]) for w in r["weights"]])
    ct = tf.constant(oc.array(r["cotangent"]))
    with tf.GradientTape(persistent=True) as tape:
        for x in xs:
            if x.dtype.is_floating:
                tape.watch(x)
        y = layer(arg, training=r["training"])
        target = tf.reduce_sum(y * ct)
    parts = {"output": y.numpy()}
    for i, x in enumerate(xs):
        if x.dtype.is_floating:
            parts[f"input{i}"] = tape.gradient(target, x).numpy()
    for w in layer.trainable_weights:
        g = tape.gradient(target, w)
        parts[f"weight {short(w.path)}"] = (tf.convert_to_tensor(g) if g is not None else tf.zeros_like(w)).numpy()
    after = {short(w.path): np.asarray(w.numpy()) for w in layer.weights}
    return parts, after


def check_layer(r, tally, differences):
    mode = "training" if r["training"] else "inference"
    case = f"{r['case']} ({mode})"
    if r["class"] == "Dropout" and r["training"]:
        dropout_structure(r, tally, case)
        return
    try:
        want, after = run_keras(r)
    except (TypeError, ValueError) as e:
        tally.failed("layers", case, f"Keras could not build it from duet's config {r['config']}: {e}")
        return
    got = {"output": oc.array(r["output"])}
    for k, g in r["grads"].items():
        got[k if k.startswith("input") else f"weight {short(k)}"] = oc.array(g)
    for w in r["weights"]:
        got[f"after {short(w['name'])}"] = oc.array(w["after"])
        want[f"after {short(w['name'])}"] = after[short(w["name"])]

    def tol(part):
        return (*(TOL if part == "output" or part.startswith("after") else GRAD_TOL), False)

    oc.judge(tally, "layers", case, got, want, tol, differences.candidates(r["case"]), r, lambda p: p, "Keras")
