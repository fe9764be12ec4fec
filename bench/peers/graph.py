"""PyTorch 1.13 side of bench/bench_graph.cpp: eager and TorchScript (torch.jit.script)."""
from typing import List

from common import emit, median_seconds, torch

B, H, T = 32, 128, 50
torch.manual_seed(0)
wx = (torch.randn(H, 4 * H) * 0.05).requires_grad_(True)
wh = (torch.randn(H, 4 * H) * 0.05).requires_grad_(True)
b = torch.zeros(4 * H, requires_grad=True)
xs = torch.randn(T, B, H)


def lstm_loss(xs: torch.Tensor, wx: torch.Tensor, wh: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
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


def lstm_step(fn):
    def step():
        loss = fn(xs, wx, wh, b)
        torch.autograd.grad(loss, [wx, wh, b])
    return step


def chain10(x: torch.Tensor) -> torch.Tensor:
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


def matmul100(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r = x
    for _ in range(100):
        r = torch.mm(r, w)
    return r


results = {}
results["lstm/eager"] = median_seconds(lstm_step(lstm_loss), repetitions=5)
results["lstm/torchscript"] = median_seconds(lstm_step(torch.jit.script(lstm_loss)), repetitions=5)
x = torch.rand(1 << 20) * 4 - 2
with torch.no_grad():
    results["elementwise10/eager"] = median_seconds(lambda: chain10(x))
    scripted = torch.jit.script(chain10)
    results["elementwise10/torchscript"] = median_seconds(lambda: scripted(x))
    m = torch.rand(10, 10) * 0.2
    w = torch.rand(10, 10) * 0.2
    results["matmul100/eager"] = median_seconds(lambda: matmul100(m, w))
    sm = torch.jit.script(matmul100)
    results["matmul100/torchscript"] = median_seconds(lambda: sm(m, w))
emit(results)
