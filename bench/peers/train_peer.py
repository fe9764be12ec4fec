"""The peers' side of `duet train fashion-mnist`: the same mlp (784-256-128-10 relu) and tf-cnn (5x5x32 same relu,
maxpool 2, 5x5x64 same relu, maxpool 2, flatten, dense 1024 relu, dropout 0.4, dense 10) models, Adam 1e-3, sparse
categorical cross-entropy from logits, on the first STEPS batches of the real training set (shuffled, the last batch
partial when the set runs out, as duet's fit). Prints images/s; the peak memory is measured outside (/usr/bin/time -v).
Timing: one warm-up step first (plus one at the partial last batch's shape if there is one), so tracing and
compilation are NOT in the time; then all STEPS steps are timed.
  usage: train_peer.py FRAMEWORK MODE MODEL BATCH STEPS
    tensorflow keras_fit | keras_fit_xla   Keras 3 Model.fit (TensorFlow backend), jit_compile False | True
    duet python_fit                        the same Keras program on duet.keras (`from duet import keras`):
                                           what fit from Python costs beside `duet train` (C++)
    torch eager | compile                  compile: torch.compile of the model (see train_torch)
    jax jit                                one jax.jit'ed train step (forward, grad, Adam), buffers donated"""
import math
import os
import sys
import time

import numpy as np

from common import THREADS, fashion_mnist

LR, B1, B2 = 1e-3, 0.9, 0.999


def batches(n, batch, seed=1):
    """A shuffled order of the n examples, cut into batches (the last one partial if batch does not divide n)."""
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i:i + batch] for i in range(0, n, batch)]


def warm_up_batches(order):
    """The first batch, and the last one if it is partial (its own shape compiles separately)."""
    return [order[0]] + ([order[-1]] if len(order[-1]) != len(order[0]) else [])


def train_tf(mode, kind, x, y, batch):
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    return train_keras(keras, mode, kind, x, y, batch)


def train_duet(mode, kind, x, y, batch):
    # Threads as `duet train` has them: adapting to the machine unless DUET_NUM_THREADS fixes a count (common.py
    # sets OMP_NUM_THREADS for the peers, which duet would read as a fixed count).
    if "DUET_NUM_THREADS" not in os.environ:
        os.environ.pop("OMP_NUM_THREADS", None)
    from duet import keras

    return train_keras(keras, mode, kind, x, y, batch)


def train_keras(keras, mode, kind, x, y, batch):
    """One Keras program for TensorFlow's Keras and duet.keras."""
    layers = keras.layers
    keras.utils.set_random_seed(1)
    if kind == "mlp":
        ls = [layers.Flatten(), layers.Dense(256, "relu"), layers.Dense(128, "relu"), layers.Dense(10)]
    else:
        ls = [layers.Conv2D(32, 5, padding="same", activation="relu"), layers.MaxPooling2D(),
              layers.Conv2D(64, 5, padding="same", activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
              layers.Dense(1024, "relu"), layers.Dropout(0.4), layers.Dense(10)]
    model = keras.Sequential([keras.Input((28, 28, 1))] + ls)
    # keras_fit_xla: the train step compiled by XLA; keras_fit: a tf.function run by TF's executor (oneDNN kernels).
    model.compile(optimizer=keras.optimizers.Adam(LR),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=mode == "keras_fit_xla")
    x, y = x.reshape(-1, 28, 28, 1), y.astype(np.int32)
    # Warm-up: a fit on the first batch (and one of the partial last batch's size): the train function is traced
    # (and XLA-compiled) here; the timed fit reuses it.
    r = x.shape[0] % batch
    model.fit(x[:batch + r], y[:batch + r], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # shuffle=True, Keras's default
    return time.perf_counter() - t0


def train_torch(mode, kind, x, y, batch):
    import torch
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    nn = torch.nn
    torch.manual_seed(1)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10))
    # fused=True: the single-kernel CPU Adam (PyTorch's fastest implementation on CPU).
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    loss_fn = nn.CrossEntropyLoss()
    # compile: torch.compile of the model (forward and, by AOTAutograd, backward; dynamic=False: static shapes);
    # the optimizer step stays the fused kernel (compiling it too, or the whole step with compiled autograd, was
    # slower here). NCHW: channels_last was no faster for this model.
    fwd = torch.compile(model, dynamic=False) if mode == "compile" else model
    X, Y = torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y.astype(np.int64))  # NCHW, X a view of x

    def step(idx):
        idx = torch.from_numpy(idx)
        opt.zero_grad(set_to_none=True)
        loss_fn(fwd(X[idx]), Y[idx]).backward()
        opt.step()

    order = batches(x.shape[0], batch)
    for idx in warm_up_batches(order):
        step(idx)
    t0 = time.perf_counter()
    for idx in order:
        step(idx)
    return time.perf_counter() - t0


def train_jax(mode, kind, x, y, batch):
    import jax_setup  # noqa: F401  (threads, before jax)
    import jax
    import jax.numpy as jnp
    from jax import lax

    def glorot(key, shape, fan_in, fan_out):  # Keras's default initializer, zero biases
        lim = math.sqrt(6 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, jnp.float32, -lim, lim)

    keys = iter(jax.random.split(jax.random.key(1), 8))
    if kind == "mlp":
        dense = [(784, 256), (256, 128), (128, 10)]
        convs = []
    else:
        dense = [(7 * 7 * 64, 1024), (1024, 10)]
        convs = [(1, 32), (32, 64)]
    params = {"conv": [(glorot(next(keys), (5, 5, i, o), 25 * i, 25 * o), jnp.zeros(o)) for i, o in convs],
              "dense": [(glorot(next(keys), (i, o), i, o), jnp.zeros(o)) for i, o in dense]}

    def logits(p, xb, key):
        h = xb[..., None]  # NHWC
        for w, b in p["conv"]:
            h = jax.nn.relu(lax.conv_general_dilated(h, w, (1, 1), "SAME",
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC")) + b)
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = h.reshape(h.shape[0], -1)
        for k, (w, b) in enumerate(p["dense"]):
            h = h @ w + b
            if k < len(p["dense"]) - 1:
                h = jax.nn.relu(h)
                if p["conv"]:  # tf-cnn: dropout 0.4 after the 1024 dense layer
                    h = jnp.where(jax.random.bernoulli(key, 0.6, h.shape), h / 0.6, 0)
        return h

    def loss_fn(p, xb, yb, key):
        z = logits(p, xb, key)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, yb[:, None], axis=1)[:, 0])

    # Adam as Keras's (eps 1e-7), in jax.numpy (optax is not installed in the venv).
    def step(p, state, xb, yb):
        m, v, t = state
        t = t + 1
        g = jax.grad(loss_fn)(p, xb, yb, jax.random.fold_in(jax.random.key(2), t))
        m = jax.tree.map(lambda m, g: B1 * m + (1 - B1) * g, m, g)
        v = jax.tree.map(lambda v, g: B2 * v + (1 - B2) * g * g, v, g)
        lr = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
        p = jax.tree.map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-7), p, m, v)
        return p, (m, v, t)

    # The parameters and Adam state are donated: updated in place, no copy per step.
    step = jax.jit(step, donate_argnums=(0, 1))
    zeros = jax.tree.map(jnp.zeros_like, params)
    state = (zeros, jax.tree.map(jnp.zeros_like, params), jnp.zeros((), jnp.float32))
    y = y.astype(np.int32)
    order = batches(x.shape[0], batch)
    for idx in warm_up_batches(order):
        params, state = step(params, state, x[idx], y[idx])
    jax.block_until_ready(params)
    t0 = time.perf_counter()
    for idx in order:
        params, state = step(params, state, x[idx], y[idx])
    jax.block_until_ready(params)  # dispatch is asynchronous: wait for the last step
    return time.perf_counter() - t0


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    fw, mode, kind, batch, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    valid = {"tensorflow": ("keras_fit", "keras_fit_xla"), "torch": ("eager", "compile"), "jax": ("jit",),
             "duet": ("python_fit",)}
    if mode not in valid.get(fw, ()) or kind not in ("mlp", "tf-cnn"):
        sys.exit(__doc__)
    x, y = fashion_mnist(batch, steps)
    secs = {"tensorflow": train_tf, "torch": train_torch, "jax": train_jax, "duet": train_duet}[fw](mode, kind, x, y,
                                                                                                  batch)
    n = x.shape[0]
    print(f"{fw} {mode} {kind}: {n / secs:.0f} images/s ({math.ceil(n / batch)} steps of batch {batch}, {secs:.1f} s)")


if __name__ == "__main__":
    main()
