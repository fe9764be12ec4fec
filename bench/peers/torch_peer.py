"""PyTorch (CPU) peer of bench_eager.cpp, bench_kernels.cpp and bench_graph.cpp: modes torch_eager and torch_compile
(torch.compile, default backend inductor and default mode; dynamic=False so every shape gets its own static
kernels; the first call compiles and is not timed). Forward-only workloads run under torch.inference_mode(), the
documented fast path for inference (no autograd bookkeeping); the gradient workloads use autograd (compiled:
AOTAutograd's compiled backward). Convolutions and pooling try NCHW and channels_last and keep the faster
(reported in "notes").  usage: torch_peer.py [--only W[,W]] [--quick]"""
from common import LSTM_B, LSTM_H, LSTM_T, N1M, THREADS, median_seconds, normal, parse_args, run, uniform

import torch  # noqa: E402  (after common: it sets the OpenMP thread count first)

torch.set_num_threads(THREADS)
torch.set_num_interop_threads(1)
F = torch.nn.functional


def tensor(a, grad=False):
    return torch.from_numpy(a).requires_grad_(grad)


def modes(fn, *args, grads=None):
    """torch_eager and torch_compile of fn(*args); with grads (a list of args), the gradients of fn's output with
    respect to them are computed as well (autograd; compiled: AOTAutograd's compiled backward)."""
    def timed(f):
        if grads is None:
            return lambda: f(*args)  # under the inference mode that __main__ enters once
        with torch.inference_mode(False):
            g = torch.ones_like(fn(*args))  # output gradient of ones, as bench_kernels.cpp's conv_step

        def call():
            with torch.inference_mode(False):
                return torch.autograd.grad(f(*args), grads, g)
        return call

    def compiled():
        call = timed(torch.compile(fn, dynamic=False))
        call()  # compiles
        return call

    return {"torch_eager": lambda: timed(fn), "torch_compile": compiled}


def best_layout(make_modes, nchw_args, n_grads):
    """Both layouts of a conv/pool workload per mode; the faster (short timing) is kept and reported."""
    def layouts(mode):
        def make():
            best = None
            for name in ("nchw", "channels_last"):
                with torch.inference_mode(False):  # tensors that may require gradients
                    args = [a.to(memory_format=torch.channels_last) if name == "channels_last" and a.dim() == 4
                            else a for a in nchw_args]
                    args = [a.detach().requires_grad_(i < n_grads) for i, a in enumerate(args)]
                fn = make_modes(args)[mode]()
                t = median_seconds(fn, min_time=0.1, repetitions=3)
                if best is None or t < best[0]:
                    best = (t, fn, name)
            return best[1], best[2]
        return make
    return {mode: layouts(mode) for mode in ("torch_eager", "torch_compile")}


def conv(pad):
    return lambda x, w: F.conv2d(x, w, padding=pad)


def conv_fwd_bwd(x_shape, w_shape):
    x, w = tensor(normal(x_shape, seed=1)), tensor(normal(w_shape, 0.1, seed=2))
    return best_layout(lambda a: modes(conv(w_shape[-1] // 2), *a, grads=a), [x, w], 2)


def lstm_loss(xs, wx, wh, b):  # bench/peers/graph.py's, as bench_graph.cpp's Lstm::grads
    h = torch.zeros(xs.shape[1], wx.shape[0])
    c = torch.zeros(xs.shape[1], wx.shape[0])
    for t in range(xs.shape[0]):
        z = torch.mm(xs[t], wx) + torch.mm(h, wh) + b
        i, f, g, o = z.chunk(4, 1)
        i = torch.sigmoid(i)
        f = torch.sigmoid(f)
        g = torch.tanh(g)
        o = torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
    return (h * h).mean()


def chain10(x):
    y = x * 1.1
    y = y + 0.5
    y = torch.tanh(y)
    y = y * y
    y = y - 0.3
    y = torch.sigmoid(y)
    y = torch.abs(y)
    y = y * 0.9
    y = torch.exp(y)
    return y + x


def matmul100(x, w):
    r = x
    for _ in range(100):
        r = torch.mm(r, w)
    return r


def workloads():
    H = LSTM_H
    lstm_args = [tensor(normal((LSTM_T, LSTM_B, H), seed=3)), tensor(normal((H, 4 * H), 0.05, seed=1), True),
                 tensor(normal((H, 4 * H), 0.05, seed=2), True), torch.zeros(4 * H, requires_grad=True)]
    big, big2, sym = tensor(uniform(N1M, seed=1)), tensor(uniform(N1M, seed=2)), tensor(uniform(N1M, -3, 3))
    w = {
        "eager_add_1": modes(lambda a, b: a + b, torch.tensor(1.0), torch.tensor(2.0)),
        "add_1M": modes(lambda a, b: a + b, big, big2),
        "tanh_1M": modes(lambda a: torch.tanh(a), sym),
        "exp_1M": modes(lambda a: torch.exp(a), sym),
        "conv1_fwd_bwd": conv_fwd_bwd((128, 1, 28, 28), (32, 1, 5, 5)),
        "conv2_fwd_bwd": conv_fwd_bwd((128, 32, 14, 14), (64, 32, 5, 5)),
        "conv2_fwd": best_layout(lambda a: modes(conv(2), *a), [tensor(normal((128, 32, 14, 14), seed=1)),
                                                                tensor(normal((64, 32, 5, 5), 0.1, seed=2))], 0),
        "max_pool": best_layout(lambda a: modes(lambda x: F.max_pool2d(x, 2), *a),
                                [tensor(normal((128, 32, 28, 28)))], 0),
        "lstm": modes(lstm_loss, *lstm_args, grads=lstm_args[1:]),
        "elementwise10": modes(chain10, tensor(uniform(N1M, -2, 2, seed=4))),
        "matmul100": modes(matmul100, tensor(uniform((10, 10), 0, 0.2, seed=5)),
                           tensor(uniform((10, 10), 0, 0.2, seed=6))),
    }
    for n in (64, 256, 1024, 2048):
        w[f"matmul/{n}"] = modes(lambda a, b: torch.mm(a, b), tensor(normal((n, n), seed=1)),
                                 tensor(normal((n, n), seed=2)))
    return w


if __name__ == "__main__":
    args, w = parse_args(__doc__), workloads()
    with torch.inference_mode():  # entered once, not per timed call (the per-op overhead is a few µs)
        run(f"torch {torch.__version__}", w, args)
