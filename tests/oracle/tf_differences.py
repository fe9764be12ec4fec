"""Where duet differs from TensorFlow on purpose. Each difference names the cases and the elements it covers, the
value duet gives instead (its convention, computed here independently of duet) and why. The checker accepts an
element that differs from TensorFlow only when a difference covers it and duet matches that convention; a
difference that no element needs any more fails the run (so this list cannot go stale), and README.md's table
"Where duet differs from TensorFlow" must name each one by its key."""
import math

import numpy as np

import ieee_reference
import oracle_common as oc


class Ctx:
    """One case as the differences see it: duet's inputs, cotangent and results, TensorFlow's results."""

    def __init__(self, r, tf_parts, tf64):
        self.r, self.name, self.kind = r, r["case"], r["float"]
        self.ins = [oc.array(a) for a in r["inputs"]]
        self.ct = oc.array(r["cotangent"]) if "cotangent" in r else None
        self.tf = tf_parts
        self.tf64 = tf64  # TensorFlow's results on these inputs computed in float64 (a function)
        self.dt = np.float64 if self.kind == "float64" else np.float32

    def at(self, part, i):
        """The input row element i of `part` belongs to: row i * R // n of an input of R rows, for a part of n
        elements. Edge cases are elementwise over flat inputs (each element a row of its own) or work along the
        rows of a matrix (reductions, running sums and products, softmax)."""
        n = np.size(self.tf[part])
        out = []
        for x in self.ins:
            if x.dtype.kind != "f":
                continue
            rows = x.shape[0] if x.ndim else 1
            out.append(x.reshape(rows, -1)[i * rows // n])
        return out


def denormal(v, dt):
    v = np.abs(np.asarray(v, dtype=np.float64))
    return bool(np.any((v > 0) & (v < np.finfo(dt).tiny)))


def any_nan(rows):
    return any(np.isnan(r).any() for r in rows)


def flushed(c):
    """duet's values where TensorFlow flushes denormals, the IEEE results: TensorFlow's formulas evaluated by NumPy
    in the case's dtype (ieee_reference.py; float32 intermediates may overflow, as pow's b * a^(b-1) at a = 1e-40
    does in duet too), and for float32 also TensorFlow itself in float64, where float32's denormals are ordinary
    numbers (the exact result, when duet's order of products avoids an overflow TensorFlow's order has)."""
    out = []
    ref = ieee_reference.reference(c.name)
    if ref is not None:
        out.append(ref(c.ins, c.ct))
    if c.kind == "float32":
        out.append({k: np.asarray(v).astype(np.float32) for k, v in c.tf64().items()})
    if not out:
        raise LookupError(f"no IEEE float64 reference for {c.name} in ieee_reference.py")
    return out


def gelu_exact(c):
    x = c.ins[0]
    with np.errstate(all="ignore"):
        if c.name.startswith("gelu_tanh"):
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (x + 0.044715 * x ** 3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
            return {"output": 0.5 * x * (1 + t), "0": c.ct * d}
        e = ieee_reference.erf(x / math.sqrt(2))
        d = 0.5 * (1 + e) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        return {"output": 0.5 * x * (1 + e), "0": c.ct * d}


def leaky_exact(c):
    x = c.ins[0]
    with np.errstate(all="ignore"):
        return {"output": np.where(x > 0, x, 0.3 * x), "0": c.ct * np.where(x > 0, 1.0, 0.3)}


def softmax_limit(c):
    """A row whose maximum is +inf: its limit, equal shares among the +inf entries (and their log)."""
    x, ct = c.ins[0], c.ct
    inf = np.isposinf(x)
    n = np.maximum(inf.sum(-1, keepdims=True), 1)
    s = inf / n
    if c.name.startswith("log_softmax"):
        with np.errstate(divide="ignore"):
            # x - max - log(count), with x - max = 0 at the +inf entries
            return {"output": np.where(inf, -np.log(n), -np.inf), "0": ct - s * ct.sum(-1, keepdims=True)}
    return {"output": s, "0": s * (ct - (s * ct).sum(-1, keepdims=True))}


def sequential_sum(c):
    x = c.ins[0]
    total = np.zeros(x.shape[0], dtype=c.dt)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(x.shape[1]):
            total = (total + x[:, j]).astype(c.dt)
    return {"output": total / x.shape[1] if c.name.startswith("mean") else total}


def max_min_nan_grads(c):
    a, ct = c.ins[0], c.ct
    return {"0": np.where(np.isnan(a), ct, 0.0), "1": np.where(np.isnan(a), 0.0, ct)}


def dense_ce_grad(c):
    y, z = c.ins
    s = np.exp(z - z.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    return {"1": c.ct[:, None] * (y.sum(-1, keepdims=True) * s - y)}


def truncated(c):
    """C++ integer division: truncation toward zero, MIN / -1 wrapping (as tf.truncatediv)."""
    out = []
    for x, y in zip(c.ins[0].ravel().tolist(), c.ins[1].ravel().tolist()):
        q = abs(int(x)) // abs(int(y)) * (1 if (x >= 0) == (y >= 0) else -1)
        out.append(float((q + 2**31) % 2**32 - 2**31))
    return {"output": np.array(out)}


def relu_select(c):
    y, dy = c.ins
    on = (y > 0) | np.isnan(y)
    return {"output": np.where(on, dy, 0.0), "1": np.where(on, c.ct, 0.0)}


def sigmoid_grad_order(c):
    y, dy = c.ins
    with np.errstate(all="ignore"):
        return {"output": dy * y * (1 - y), "0": c.ct * dy * (1 - 2 * y)}


def huge_row(c, part, i):
    return any(np.any(np.isfinite(r) & (np.abs(r) >= np.finfo(c.dt).max / 10)) for r in c.at(part, i))


def first(name):
    return name.split("/")[0]


def nan_rows(c):
    x = c.ins[0]
    return {"output": np.broadcast_to(np.where(np.isnan(x).any(-1, keepdims=True), np.nan, 0.0), x.shape)}


def square_grad(c):
    return {"0": (2 * c.ct.astype(np.float64) * c.ins[0]).astype(c.dt)}


def square_overflow(c, part, i):
    return part == "0" and np.isinf(np.ravel(c.tf[part])[i]) and not np.isinf(c.ins[0].ravel()[i])


def posinf_row(c, part, i):
    return any(np.isposinf(r).any() and not np.isnan(r).any() for r in c.at(part, i))


def everywhere(c, part, i):
    return True


def denormal_quotient(c, part, i):
    """floordiv's output element i came from a quotient a / b that is a denormal in the case's dtype."""
    a, b = np.broadcast_arrays(*[np.asarray(x, dtype=c.dt) for x in c.ins])
    with np.errstate(all="ignore"):
        q = (a / b).ravel()
    return part == "output" and denormal(q[i], c.dt)


D = oc.Difference
F64, F32 = ("float64",), ("float32",)
DIFFERENCES = [
    D("denormals", lambda n: n.endswith("/edges") or "/edges_" in n,
      "TensorFlow flushes denormals to zero on the CPU (FTZ/DAZ); duet keeps IEEE gradual underflow",
      lambda c, part, i: any(denormal(r, c.dt) for r in c.at(part, i)), flushed),
    D("erf", {"erf/edges"},
      "TensorFlow's float64 erf gives NaN at +-inf and for |x| > ~1e154 (where x^2 overflows); duet gives +-1",
      lambda c, part, i: np.isnan(np.ravel(c.tf[part])[i]) and not any_nan(c.at(part, i)),
      lambda c: {"output": ieee_reference.erf(c.ins[0])}, F64),
    D("gelu", {"gelu", "gelu/edges", "gelu_tanh", "gelu_tanh/edges"},
      "TensorFlow's float64 gelu uses 1/sqrt(2) and 0.044715 rounded to float32 (off by ~1e-8); duet's constants "
      "are float64", everywhere, gelu_exact, F64),
    D("leaky_relu", {"leaky_relu", "leaky_relu/edges"},
      "TensorFlow's alpha is a float32 attribute, so its float64 leaky_relu uses 0.3 rounded to float32 (off by "
      "~4e-8 relative); duet's alpha is a float64", lambda c, part, i: not c.ins[0].ravel()[i] > 0, leaky_exact, F64),
    D("softmax", {"softmax/edges", "log_softmax/edges"},
      "a row whose maximum is +inf gives the limit (equal shares of the +inf entries); TensorFlow: NaN",
      posinf_row, softmax_limit),
    D("softmax", {"softmax/edges"}, "a NaN makes its whole row NaN; TensorFlow's float32 kernel gives 0 beside the NaN",
      lambda c, part, i: part == "output" and any_nan(c.at(part, i)), nan_rows, F32),
    D("argmax", {"argmax/edges", "argmin/edges"},
      "the index of the first NaN, as NumPy (a NaN is neither larger nor smaller); TensorFlow skips NaNs",
      lambda c, part, i: any_nan(c.at(part, i)),
      lambda c: {"output": (np.argmax if c.name.startswith("argmax") else np.argmin)(c.ins[0], 1)}),
    D("maximum", {"maximum/edges", "minimum/edges"},
      "the gradient goes to the NaN operand, the one the output came from (TensorFlow: to the second operand "
      "whenever either is NaN)", lambda c, part, i: part != "output" and any_nan(c.at(part, i)), max_min_nan_grads),
    D("maximum", {"maximum/edges", "minimum/edges"},
      "at a tie of +0 and -0 the result is the first operand, as the gradient (TensorFlow: the second)",
      lambda c, part, i: part == "output" and all(r[0] == 0 for r in c.at(part, i)), lambda c: {"output": c.ins[0]}),
    D("relu", {"relu/edges", "relu6/edges", "clip/edges"}, "at NaN the gradient passes, as the NaN took the x branch (TensorFlow: 0)",
      lambda c, part, i: part == "0" and any_nan(c.at(part, i)), lambda c: {"0": c.ct}),
    D("elu", {"elu/edges"}, "the gradient at NaN is NaN (TensorFlow's EluGrad passes the cotangent)",
      lambda c, part, i: part == "0" and any_nan(c.at(part, i)), lambda c: {"0": np.full_like(c.ct, np.nan)}),
    D("relu_grad", {"relu_grad", "relu_grad/edges"},
      "a select: dy where y > 0 (or y is NaN, as relu's gradient), else +0; TensorFlow multiplies dy * (y > 0): "
      "-0 for dy < 0, NaN for dy = +-inf or NaN",
      lambda c, part, i: part != "0" and not c.ins[0].ravel()[i] > 0, relu_select),
    D("sigmoid_grad", {"sigmoid_grad/edges"},
      "dy y (1 - y) is multiplied left to right and its y-gradient is g dy (1 - 2y); TensorFlow takes y (1 - y) "
      "first and g dy - 2 g dy y: they differ where a product overflows (|y| far outside sigmoid's range)",
      everywhere, sigmoid_grad_order),
    D("square", {"square/edges"},
      "square is x * x, whose gradient g x + g x stays finite where TensorFlow's g (2 x) overflows",
      square_overflow, square_grad, F32),
    D("sum", {"sum/edges", "mean/edges"},
      "a sum whose partial sums overflow depends on the order: duet adds in index order, TensorFlow in pairs",
      huge_row, sequential_sum),
    D("floordiv", {"floordiv/edges"},
      "floor of the IEEE quotient: a tiny negative a / b that is a denormal floors to -1; TensorFlow flushes the "
      "quotient to -0 first (FTZ) and floors that to -0", denormal_quotient, flushed),
    D("div", {"int_div"},
      "integers divide as integers, truncating (as C++ and tf.truncatediv); TensorFlow's divide gives the float64 "
      "quotient", everywhere, truncated),
    D("softmax_cross_entropy_with_logits", {"dense_ce"},
      "the logits' gradient is the derivative of the loss, sum(y) softmax(z) - y; TensorFlow's softmax(z) - y "
      "assumes each label row sums to 1", lambda c, part, i: part == "1", dense_ce_grad),
    D("fused_batch_norm", {"fused_batch_norm/variance"},
      "returns the biased batch variance, the one it normalizes with (as tf.nn.moments and Keras 3); TensorFlow's "
      "FusedBatchNormV3 returns the Bessel-corrected one",
      everywhere, lambda c: {"output": np.var(c.ins[0].reshape(-1, c.ins[0].shape[-1]), 0)}, F32),
]


def candidates(name, kind):
    return [d for d in DIFFERENCES if d.applies(name, kind)]


def check_documentation(tally, readme):
    oc.check_documentation(tally, readme, DIFFERENCES)
