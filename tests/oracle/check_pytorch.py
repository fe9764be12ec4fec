#!/usr/bin/env python3
"""The PyTorch oracle: reads duet's results (oracle_dump's JSON lines), computes every case with PyTorch in
float64 (float32 cases: PyTorch float64 on the same float32 inputs), and compares outputs and gradients.
Where duet follows another convention on purpose, the case says so and checks duet's convention.

usage: oracle_dump | check_pytorch.py --headers include/duet
"""
import argparse
import json
import math
import re
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# How far duet may be from PyTorch. float64: libm-level functions differ by a few ulps; convolution and matmul
# sum in another order. float32 cases are compared with PyTorch float64 on the same inputs: duet's own
# exp/tanh/sigmoid are within 2/6/4 ulps, libmvec's log/erf within 4.
TOL = {"float64": (1e-9, 1e-12), "float32": (1.5e-6, 1e-7)}
GRAD_TOL = {"float64": (1e-9, 1e-12), "float32": (1e-5, 1e-6)}


def nhwc(x):  # (N, H, W, C) -> (N, C, H, W)
    return x.permute(0, 3, 1, 2)


def from_nchw(x):
    return x.permute(0, 2, 3, 1)


def hwio(w):  # (KH, KW, I, O) -> (O, I, KH, KW)
    return w.permute(3, 2, 0, 1)


def sum_to(x, shape):
    while x.dim() > len(shape):
        x = x.sum(0)
    for d, n in enumerate(shape):
        if n == 1 and x.shape[d] != 1:
            x = x.sum(d, keepdim=True)
    return x


def tf_max_pool(x, k, s, same):
    n = x.shape[1]
    out = -(-n // s) if same else (n - k) // s + 1
    total = max((out - 1) * s + k - n, 0) if same else 0
    xp = F.pad(nhwc(x), (total // 2, total - total // 2, total // 2, total - total // 2), value=-math.inf)
    return from_nchw(F.max_pool2d(xp, k, s))


def tf_avg_pool(x, k, s, same):
    if not same:
        return from_nchw(F.avg_pool2d(nhwc(x), k, s))
    return from_nchw(F.avg_pool2d(nhwc(x), k, s, padding=(k - 1) // 2, count_include_pad=False))


def int_div_trunc(a, b):
    # C++ truncation, with MIN / -1 wrapping (PyTorch itself traps on that one with SIGFPE).
    out = []
    for x, y in zip(a.flatten().tolist(), b.flatten().tolist()):
        q = abs(int(x)) // abs(int(y)) * (1 if (x >= 0) == (y >= 0) else -1)
        q = (q + 2**31) % 2**32 - 2**31
        out.append(float(q))
    return torch.tensor(out)


def sign_tf(x):
    return torch.where(torch.isnan(x), x.detach(), torch.sign(x))


class AbsTF(torch.autograd.Function):
    # The gradient at NaN is NaN (TensorFlow's grad * sign(x)); PyTorch's sign(NaN) = 0 makes it 0.
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.where(torch.isnan(x), x, torch.sign(x))


def clip_tf(x):
    # clip is minimum(maximum(x, lo), hi): at NaN the gradient follows the NaN (PyTorch's clamp gives 0).
    y = torch.clamp(x, -0.5, 0.8)
    return torch.where(torch.isnan(x), x, y)


def softmax_limit(x):
    # duet takes the limit where the max is +inf: equal shares among the +inf entries (PyTorch: all NaN)
    inf = torch.isinf(x) & (x > 0)
    if inf.any():
        return inf.double() / inf.sum()
    return torch.softmax(x, -1)


def red(fn):
    def apply(mode):
        def f(x):
            if mode == "all":
                return fn(x, None, False)
            if mode == "axis1_keep":
                return fn(x, (1,), True)
            return fn(x, (0, 2), False)
        return f
    return apply


def t_sum(x, dims, keep):
    return x.sum() if dims is None else x.sum(dims, keepdim=keep)


def t_mean(x, dims, keep):
    return x.mean() if dims is None else x.mean(dims, keepdim=keep)


def t_max(x, dims, keep):
    return x.amax() if dims is None else x.amax(dims, keepdim=keep)


def t_min(x, dims, keep):
    return x.amin() if dims is None else x.amin(dims, keepdim=keep)


def t_prod(x, dims, keep):
    if dims is None:
        return x.prod()
    for d in sorted(dims, reverse=True):
        x = x.prod(d, keepdim=keep)
    return x


def first_max_grad(x, dy):
    y = tf_max_pool(x, 2, 2, False)
    (g,) = torch.autograd.grad(y, x, dy, create_graph=True)
    return g


def avg_grad(x, dy):
    y = tf_avg_pool(x, 2, 2, False)
    (g,) = torch.autograd.grad(y, x, dy, create_graph=True)
    return g


# name -> (torch function of the input tensors, note when duet follows another convention on purpose)
CASES = {
    "neg": (lambda x: -x, None),
    "abs": (AbsTF.apply, "the gradient at NaN is NaN, as TensorFlow (PyTorch: 0)"),
    "sign": (sign_tf, "sign(NaN) is NaN as in TensorFlow and NumPy (PyTorch gives 0)"),
    "exp": (torch.exp, None),
    "expm1": (torch.expm1, None),
    "log": (torch.log, None),
    "log1p": (torch.log1p, None),
    "sqrt": (torch.sqrt, None),
    "rsqrt": (torch.rsqrt, None),
    "square": (lambda x: x * x, None),
    "sin": (torch.sin, None),
    "cos": (torch.cos, None),
    "tan": (torch.tan, None),
    "tanh": (torch.tanh, None),
    "atan": (torch.atan, None),
    "erf": (torch.erf, None),
    "sigmoid": (torch.sigmoid, None),
    "relu": (torch.relu, "relu(-0.0) is +0.0 (PyTorch keeps -0.0); equal as numbers"),
    "elu": (lambda x: F.elu(x, 0.7), None),
    "gelu": (F.gelu, None),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), None),
    "softplus": (F.softplus, None),
    "clip": (clip_tf, "at NaN the gradient passes through (clip is minimum(maximum(x))); PyTorch's clamp gives 0"),
    "identity": (lambda x: x, None),
    "check_numerics": (lambda x: x, None),
    "stop_gradient": (lambda x: x.detach() * x, None),
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, None),
    "pow": (torch.pow, None),
    "maximum": (torch.maximum, "at ties the gradient goes to the first operand, as TensorFlow (PyTorch splits it); no ties here"),
    "minimum": (torch.minimum, "as maximum"),
    "equal": (lambda a, b: (a == b).double(), None),
    "not_equal": (lambda a, b: (a != b).double(), None),
    "less": (lambda a, b: (a < b).double(), None),
    "less_equal": (lambda a, b: (a <= b).double(), None),
    "greater": (lambda a, b: (a > b).double(), None),
    "greater_equal": (lambda a, b: (a >= b).double(), None),
    "logical": (lambda a, b: (torch.logical_and(a > 0.5, b > 0.5)).double() + 2 * torch.logical_or(a > 0.5, b > 0.5).double()
                + 4 * torch.logical_not(a > 0.5).double(), None),
    "where": (lambda c, a, b: torch.where(c > 0, a, b), None),
    "int_div": (int_div_trunc, "integers divide truncating, as C++ and TensorFlow's truncatediv; MIN / -1 wraps (PyTorch traps)"),
    "cast_f64_i32": (lambda x: x.to(torch.int32).double(), None),
    "argmax": (lambda x: torch.argmax(x, 1).double(), None),
    "argmin": (lambda x: torch.argmin(x, 0).double(), None),
    "size": (lambda x: torch.tensor(float(x.shape[1])), None),
    "reshape": (lambda x: x.reshape(2, -1, 3), None),
    "transpose": (lambda x: x.permute(2, 0, 1), None),
    "expand_dims": (lambda x: x.unsqueeze(-1), None),
    "squeeze": (lambda x: x.squeeze(1), None),
    "concat": (lambda a, b: torch.cat([a, b], 0), None),
    "stack": (lambda a, b: torch.stack([a, b], 1), None),
    "split": (lambda x: (lambda p: p[0] + 2 * p[1] - p[2])(torch.split(x, 2, 0)), None),
    "split_sizes": (lambda x: (lambda p: torch.cat([p[2], 3 * p[0]], 1) + p[1].sum(1, keepdim=True))(torch.split(x, [2, 4, 1], 1)), None),
    "slice": (lambda x: x[1:3, 2:], None),
    "gather": (lambda x: torch.index_select(x, 0, torch.tensor([4, 0, 4, 2])), None),
    "gather_axis1": (lambda x: torch.index_select(x, 1, torch.tensor([1, 1, 3])), None),
    "one_hot": (lambda x: F.one_hot(x.long(), 4).double(), None),
    "broadcast_to": (lambda x: torch.broadcast_to(x, (2, 3, 4)), None),
    "sum_to": (lambda x, like: sum_to(x, like.shape), None),
    "matmul": (torch.matmul, None),
    "matmul_tt": (lambda a, b: a.T @ b.T, None),
    "matmul_batch_broadcast": (torch.matmul, None),
    "matmul_int": (lambda a, b: (a.long() @ b.long()).double(), None),
    "conv2d_same": (lambda x, w: from_nchw(F.conv2d(nhwc(x), hwio(w), padding="same")), None),
    "conv2d_valid_stride2": (lambda x, w: from_nchw(F.conv2d(nhwc(x), hwio(w), stride=2)), None),
    "conv2d_dilated": (lambda x, w: from_nchw(F.conv2d(nhwc(x), hwio(w), dilation=2)), None),
    "max_pool": (lambda x: tf_max_pool(x, 2, 2, False), None),
    "max_pool_same_3_2": (lambda x: tf_max_pool(x, 3, 2, True), None),
    "avg_pool": (lambda x: tf_avg_pool(x, 2, 2, False), None),
    "avg_pool_same_3_2": (lambda x: tf_avg_pool(x, 3, 2, True), "'same' averages count only real elements, as TensorFlow"),
    "max_pool_grad": (first_max_grad, None),
    "avg_pool_grad": (avg_grad, None),
    "conv2d_backprop_input": (lambda x, w, dy: torch.nn.grad.conv2d_input(nhwc(x).shape, hwio(w), nhwc(dy), padding=1).permute(0, 2, 3, 1), None),
    "conv2d_backprop_filter": (lambda x, w, dy: torch.nn.grad.conv2d_weight(nhwc(x), hwio(w).shape, nhwc(dy), padding=1).permute(2, 3, 1, 0), None),
    "softmax": (lambda x: torch.softmax(x, -1), None),
    "softmax_axis0": (lambda x: torch.softmax(x, 0), None),
    "log_softmax": (lambda x: torch.log_softmax(x, -1), None),
    "softmax/inf": (softmax_limit, "a row whose max is +inf takes the limit (PyTorch: NaN)"),
    "softmax/large": (lambda x: torch.softmax(x, -1), None),
    "sparse_ce": (lambda y, z: F.cross_entropy(z, y.long(), reduction="none"), None),
    "dense_ce": (lambda y, z: -(y * torch.log_softmax(z, -1)).sum(-1), None),
    "bias_add": (lambda x, b: x + b, None),
    "fused_batch_norm": (lambda x, g, b: torch.nn.functional.batch_norm(
        x.reshape(-1, x.shape[-1]), None, None, g, b, training=True, eps=1e-3).reshape(x.shape), None),
    "fused_batch_norm/statistics": (lambda x, g, b: x.reshape(-1, x.shape[-1]).mean(0) * 2
                                    + x.reshape(-1, x.shape[-1]).var(0, unbiased=False) + 0 * (g + b), None),
}
for name, fn in {"sum": t_sum, "mean": t_mean, "max": t_max, "min": t_min, "prod": t_prod}.items():
    for mode in ("all", "axis1_keep", "axes02"):
        CASES[f"{name}/{mode}"] = (red(fn)(mode), None)

# Public functions checked through another case (gradient ops through their forward op's gradient).
COVERED_BY = {
    "relu_grad": "relu", "sigmoid_grad": "sigmoid", "tanh_grad": "tanh", "pad_like": "slice", "scatter_add_like": "gather", "reshape_like": "reshape", "broadcast_like": "sum_to",
    "max_pool2d_grad_grad": "max_pool_grad", "max_pool2d": "max_pool", "avg_pool2d": "avg_pool", "max_pool2d_grad": "max_pool_grad",
    "avg_pool2d_grad": "avg_pool_grad", "conv2d": "conv2d_same", "logical_and": "logical", "logical_or": "logical",
    "logical_not": "logical", "sparse_softmax_cross_entropy_with_logits": "sparse_ce", "softmax_cross_entropy_with_logits": "dense_ce",
    "cast": "cast_f64_i32", "sum": "sum/all", "mean": "mean/all", "max": "max/all", "min": "min/all", "prod": "prod/all",
}
NOT_ORACLE = {
    "dropout": "random: its kept fraction, scale and mask gradient are checked in the op table (tests/op_rows_nn.cpp)",
    "weak_scalar": "an internal helper of the C++ operators", "weak_scalar_int": "an internal helper of the C++ operators",
    "lit": "an internal helper of the C++ operators",
}


def tensor(a):
    dtype = {"float64": torch.float64, "float32": torch.float32, "int32": torch.int32, "int64": torch.int64, "bool": torch.bool}[a["dtype"]]
    return torch.tensor(a["values"], dtype=torch.float64).reshape(a["shape"]).to(dtype)


def compare(got, want, rtol, atol):
    """Index and values of the first element outside tolerance (NaN matches NaN, infinities match exactly)."""
    got = got.detach().double().flatten()
    want = want.detach().double().flatten()
    if got.shape != want.shape:
        return f"shape {list(got.shape)} vs PyTorch {list(want.shape)}"
    for i, (g, w) in enumerate(zip(got.tolist(), want.tolist())):
        if math.isnan(g) and math.isnan(w):
            continue
        if math.isinf(g) or math.isinf(w) or math.isnan(g) or math.isnan(w):
            if g != w:
                return f"element {i}: duet {g}, PyTorch {w}"
            continue
        if abs(g - w) > atol + rtol * abs(w):
            return f"element {i}: duet {g!r}, PyTorch {w!r} (diff {abs(g - w):.3g})"
    return None


def public_ops(headers):
    names = set()
    for h in ("ops.h", "nn.h", "linalg.h", "gradient_ops.h"):
        for line in open(f"{headers}/{h}"):
            m = re.match(r"^(?:\[\[nodiscard\]\] )?(?:Tensor|std::vector<Tensor>) (\w+)\(", line)
            if m:
                names.add(m.group(1))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headers", required=True)
    ap.add_argument("input", nargs="?", type=argparse.FileType("r"), default=sys.stdin)
    args = ap.parse_args()
    results = [json.loads(line) for line in args.input if line.strip()]
    failures, notes, seen = [], [], set()
    grads_checked = 0
    for r in results:
        name = r["case"]
        seen.add(name)
        key = name if name in CASES else name.split("/")[0]
        if key not in CASES:
            failures.append(f"{name}: no PyTorch equivalent in check_pytorch.py")
            continue
        if "error" in r:
            failures.append(f"{name}: duet threw {r['error']}")
            continue
        fn, note = CASES[key]
        if note:
            notes.append(f"{name}: {note}")
        low = r["output"]["dtype"] == "float32"
        kind = "float32" if low else "float64"
        ins = [tensor(a) for a in r["inputs"]]
        ins = [t.double() if t.is_floating_point() else t for t in ins]  # PyTorch computes float64
        grad_idx = [int(k) for k in r.get("grads", {})]
        for k in grad_idx:
            ins[k].requires_grad_(True)
        out = fn(*ins)
        why = compare(tensor(r["output"]), out, *TOL[kind])
        if why:
            failures.append(f"{name} (forward): {why}")
            continue
        if grad_idx:
            ct = tensor(r["cotangent"]).double()
            grads = torch.autograd.grad((out * ct).sum(), [ins[k] for k in grad_idx], allow_unused=True)
            for k, g in zip(grad_idx, grads):
                if g is None:
                    g = torch.zeros_like(ins[k])
                why = compare(tensor(r["grads"][str(k)]), g, *GRAD_TOL[kind])
                grads_checked += 1
                if why:
                    failures.append(f"{name} (gradient of input {k}): {why}")
    # Coverage: every public op has a case, or is checked through one, or says why not.
    for op in sorted(public_ops(args.headers)):
        if op in NOT_ORACLE:
            continue
        via = COVERED_BY.get(op, op)
        if not any(s == via or s.startswith(via + "/") or s.startswith(op) for s in seen):
            failures.append(f"public op {op}: no oracle case (add one to oracle_dump.cpp and check_pytorch.py)")
    print(f"PyTorch {torch.__version__} oracle: {len(results)} cases, {grads_checked} gradients compared, "
          f"{len(failures)} failures")
    for n in notes:
        print(f"  convention: {n}")
    for op, why in NOT_ORACLE.items():
        print(f"  not compared: {op}: {why}")
    for f in failures:
        print(f"  FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
