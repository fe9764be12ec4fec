"""JAX (CPU, XLA) peer of bench_eager.cpp, bench_kernels.cpp and bench_graph.cpp: mode jax_jit (jax.jit; gradients
by jax.vjp / jax.value_and_grad inside the jitted function; the first call compiles and is not timed; every call
waits with block_until_ready), and jax_eager (un-jitted jnp.add) for the per-op overhead. Layout NHWC / HWIO.
The lstm also as jax_jit_scan: the same cells in a lax.scan (JAX's idiom for loops), faster here than the
unrolled Python loop of bench/peers/graph.py that jax_jit runs like the other peers.
Threads: XLA has no thread-count flag ("intra_op_parallelism_threads" is a TensorFlow session option; in
XLA_FLAGS, "--intra_op_parallelism_threads=2" aborts as an unknown flag and the bare token is silently skipped).
JAX 0.10's CPU client sizes its Eigen pool (tf_XLAEigen threads) by the CPUs the process may run on, so
jax_setup.py restricts the process's CPU affinity to DUET_NUM_THREADS CPUs when the machine has more, and keeps
--xla_cpu_multi_thread_eigen=true (XLA's default: ops use that pool).  usage: jax_peer.py [--only W[,W]] [--quick]"""
import jax_setup  # noqa: F401  (threads and XLA_FLAGS, before jax is imported)
from common import LSTM_B, LSTM_H, LSTM_T, N1M, normal, parse_args, run, uniform

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402


def jit(fn, *args, mode="jax_jit"):
    """jax_jit of fn(*args): the arrays are arguments (not constants XLA could fold)."""
    def make():
        f, a = jax.jit(fn), [jnp.asarray(x) for x in args]
        jax.block_until_ready(f(*a))  # compiles
        return lambda: jax.block_until_ready(f(*a))
    return {mode: make}


def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_fwd_bwd(x, w, g):
    y, vjp = jax.vjp(conv, x, w)
    return (y, *vjp(g))  # y, dx, dw as bench_kernels.cpp's conv_step (y returned: not dead code)


def conv_step(x_shape, w_shape):
    x, w = normal(x_shape, seed=1), normal(w_shape, 0.1, seed=2)
    return jit(conv_fwd_bwd, x, w, np.ones(x_shape[:3] + w_shape[3:], np.float32))


def max_pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def lstm_loss(xs, wx, wh, b):  # bench/peers/graph.py's (an unrolled Python loop, as there)
    h = jnp.zeros((xs.shape[1], wx.shape[0]), xs.dtype)
    c = jnp.zeros((xs.shape[1], wx.shape[0]), xs.dtype)
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i, f, g, o = jnp.split(z, 4, axis=1)
        i = jax.nn.sigmoid(i)
        f = jax.nn.sigmoid(f)
        g = jnp.tanh(g)
        o = jax.nn.sigmoid(o)
        c = f * c + i * g
        h = o * jnp.tanh(c)
    return jnp.mean(h * h)


def lstm_scan_loss(xs, wx, wh, b):  # the same cells as a lax.scan, JAX's idiom for a loop (mode jax_jit_scan)
    def cell(hc, x):
        h, c = hc
        z = x @ wx + h @ wh + b
        i, f, g, o = jnp.split(z, 4, axis=1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((xs.shape[1], wx.shape[0]), xs.dtype)
    (h, _), _ = lax.scan(cell, (zeros, zeros), xs)
    return jnp.mean(h * h)


def chain10(x):
    y = x * 1.1
    y = y + 0.5
    y = jnp.tanh(y)
    y = y * y
    y = y - 0.3
    y = jax.nn.sigmoid(y)
    y = jnp.abs(y)
    y = y * 0.9
    y = jnp.exp(y)
    return y + x


def matmul100(x, w):
    r = x
    for _ in range(100):
        r = r @ w
    return r


def eager_add():
    a, b = jnp.asarray(np.float32(1)), jnp.asarray(np.float32(2))
    return lambda: jnp.add(a, b).block_until_ready()


def workloads():
    H = LSTM_H
    sym = uniform(N1M, -3, 3)
    lstm_args = (normal((LSTM_T, LSTM_B, H), seed=3), normal((H, 4 * H), 0.05, seed=1),
                 normal((H, 4 * H), 0.05, seed=2), np.zeros(4 * H, np.float32))
    w = {
        "eager_add_1": {"jax_eager": eager_add, **jit(jnp.add, np.float32(1), np.float32(2))},
        "add_1M": jit(jnp.add, uniform(N1M, seed=1), uniform(N1M, seed=2)),
        "tanh_1M": jit(jnp.tanh, sym),
        "exp_1M": jit(jnp.exp, sym),
        "conv1_fwd_bwd": conv_step((128, 28, 28, 1), (5, 5, 1, 32)),
        "conv2_fwd_bwd": conv_step((128, 14, 14, 32), (5, 5, 32, 64)),
        "conv2_fwd": jit(conv, normal((128, 14, 14, 32), seed=1), normal((5, 5, 32, 64), 0.1, seed=2)),
        "max_pool": jit(max_pool, normal((128, 28, 28, 32))),
        "lstm": {**jit(jax.value_and_grad(lstm_loss, argnums=(1, 2, 3)), *lstm_args),
                 **jit(jax.value_and_grad(lstm_scan_loss, argnums=(1, 2, 3)), *lstm_args, mode="jax_jit_scan")},
        "elementwise10": jit(chain10, uniform(N1M, -2, 2, seed=4)),
        "matmul100": jit(matmul100, uniform((10, 10), 0, 0.2, seed=5), uniform((10, 10), 0, 0.2, seed=6)),
    }
    for n in (64, 256, 1024, 2048):
        w[f"matmul/{n}"] = jit(jnp.matmul, normal((n, n), seed=1), normal((n, n), seed=2))
    return w


if __name__ == "__main__":
    run(f"jax {jax.__version__}", workloads(), parse_args(__doc__))
