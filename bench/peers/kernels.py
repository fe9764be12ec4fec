"""PyTorch 1.13 side of the kernel benchmarks: the same workloads as bench/bench_kernels.cpp and
bench/bench_eager.cpp. Prints JSON {name: seconds per iteration}."""
from common import emit, median_seconds, torch

results = {}
for n in (64, 256, 1024, 2048):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    results[f"matmul/{n}"] = median_seconds(lambda: torch.mm(a, b))


def conv_step(x_shape, w_shape):
    # NCHW / OIHW: PyTorch's native layout (what its users run).
    x = torch.randn(*x_shape, requires_grad=True)
    w = (torch.randn(*w_shape) * 0.1).requires_grad_(True)
    pad = w_shape[-1] // 2
    g = torch.ones_like(torch.nn.functional.conv2d(x, w, padding=pad))

    def step():
        x.grad = None
        w.grad = None
        y = torch.nn.functional.conv2d(x, w, padding=pad)
        y.backward(g)

    return step


results["conv1_fwd_bwd"] = median_seconds(conv_step((128, 1, 28, 28), (32, 1, 5, 5)))
results["conv2_fwd_bwd"] = median_seconds(conv_step((128, 32, 14, 14), (64, 32, 5, 5)))
x2 = torch.randn(128, 32, 14, 14)
w2 = torch.randn(64, 32, 5, 5) * 0.1
results["conv2_fwd"] = median_seconds(lambda: torch.nn.functional.conv2d(x2, w2, padding=2))
xp = torch.randn(128, 32, 28, 28)
results["max_pool"] = median_seconds(lambda: torch.nn.functional.max_pool2d(xp, 2))
s1 = torch.ones(1)
results["eager_add_1"] = median_seconds(lambda: torch.add(s1, s1))
big = torch.rand(1 << 20)
big2 = torch.rand(1 << 20)
results["add_1M"] = median_seconds(lambda: torch.add(big, big2))
results["tanh_1M"] = median_seconds(lambda: torch.tanh(big))
results["exp_1M"] = median_seconds(lambda: torch.exp(big))
emit(results)
