"""TensorFlow (CPU) peer of bench_eager.cpp, bench_kernels.cpp and bench_graph.cpp: modes tf_eager, tf_function
(tf.function: a graph run by TF's executor, grappler on, oneDNN kernels as TF's x86 default) and tf_xla
(tf.function(jit_compile=True): the whole function compiled by XLA). The first call of a tf.function traces (and
compiles) it and is not timed. Layout NHWC / HWIO filters, TensorFlow's native one (and duet's).
usage: tf_peer.py [--only W[,W]] [--quick]"""
import numpy as np

from common import LSTM_B, LSTM_H, LSTM_T, N1M, THREADS, normal, parse_args, run, uniform

import tensorflow as tf  # noqa: E402  (after common: it silences TF's logs first)

tf.config.threading.set_intra_op_parallelism_threads(THREADS)  # before any op runs
tf.config.threading.set_inter_op_parallelism_threads(1)


def modes(fn, *args, wrt=()):
    """tf_eager, tf_function and tf_xla of fn(*args); with wrt (argument indices), the step also returns the
    gradients with respect to those arguments (GradientTape) for an output gradient of ones made once."""
    args = [tf.constant(a) for a in args]
    f = fn
    if wrt:
        def f(g, *a):
            with tf.GradientTape() as tape:
                tape.watch([a[i] for i in wrt])
                y = fn(*a)
            return y, tape.gradient(y, [a[i] for i in wrt], output_gradients=g)
        args = [tf.ones_like(fn(*args)), *args]

    def mode(wrap):
        def make():
            c = wrap(f)
            c(*args)  # traces and compiles the tf.function modes
            return lambda: c(*args)  # CPU ops are synchronous: the results are ready on return
        return make

    return {"tf_eager": mode(lambda g: g), "tf_function": mode(tf.function),
            "tf_xla": mode(lambda g: tf.function(g, jit_compile=True))}


def conv(x, w):
    return tf.nn.conv2d(x, w, strides=1, padding="SAME")


def lstm_loss(xs, wx, wh, b):  # bench/peers/graph.py's (the steps split once, as bench_graph.cpp does)
    h = tf.zeros([xs.shape[1], wx.shape[0]])
    c = tf.zeros([xs.shape[1], wx.shape[0]])
    for x in tf.unstack(xs):
        z = tf.matmul(x, wx) + tf.matmul(h, wh) + b
        i, f, g, o = tf.split(z, 4, axis=1)
        i = tf.sigmoid(i)
        f = tf.sigmoid(f)
        g = tf.tanh(g)
        o = tf.sigmoid(o)
        c = f * c + i * g
        h = o * tf.tanh(c)
    return tf.reduce_mean(h * h)


def chain10(x):
    y = x * 1.1
    y = y + 0.5
    y = tf.tanh(y)
    y = y * y
    y = y - 0.3
    y = tf.sigmoid(y)
    y = tf.abs(y)
    y = y * 0.9
    y = tf.exp(y)
    return y + x


def matmul100(x, w):
    r = x
    for _ in range(100):
        r = tf.matmul(r, w)
    return r


def workloads():
    H = LSTM_H
    sym = uniform(N1M, -3, 3)
    w = {
        "eager_add_1": modes(tf.add, np.float32(1), np.float32(2)),
        "add_1M": modes(tf.add, uniform(N1M, seed=1), uniform(N1M, seed=2)),
        "tanh_1M": modes(tf.tanh, sym),
        "exp_1M": modes(tf.exp, sym),
        "conv1_fwd_bwd": modes(conv, normal((128, 28, 28, 1), seed=1), normal((5, 5, 1, 32), 0.1, seed=2),
                               wrt=(0, 1)),
        "conv2_fwd_bwd": modes(conv, normal((128, 14, 14, 32), seed=1), normal((5, 5, 32, 64), 0.1, seed=2),
                               wrt=(0, 1)),
        "conv2_fwd": modes(conv, normal((128, 14, 14, 32), seed=1), normal((5, 5, 32, 64), 0.1, seed=2)),
        "max_pool": modes(lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), normal((128, 28, 28, 32))),
        "lstm": modes(lstm_loss, normal((LSTM_T, LSTM_B, H), seed=3), normal((H, 4 * H), 0.05, seed=1),
                      normal((H, 4 * H), 0.05, seed=2), np.zeros(4 * H, np.float32), wrt=(1, 2, 3)),
        "elementwise10": modes(chain10, uniform(N1M, -2, 2, seed=4)),
        "matmul100": modes(matmul100, uniform((10, 10), 0, 0.2, seed=5), uniform((10, 10), 0, 0.2, seed=6)),
    }
    for n in (64, 256, 1024, 2048):
        w[f"matmul/{n}"] = modes(tf.matmul, normal((n, n), seed=1), normal((n, n), seed=2))
    return w


if __name__ == "__main__":
    run(f"tensorflow {tf.__version__}", workloads(), parse_args(__doc__))
