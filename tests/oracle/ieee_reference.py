"""IEEE references (NumPy, which keeps denormals) for the ops whose results TensorFlow distorts by flushing
denormals to zero. Each takes the case's inputs and cotangent (float64 or float32 arrays, computed in that dtype)
and returns duet's expected output and gradients: TensorFlow's own formulas, evaluated without the flush. Only
elements whose inputs hold a denormal are compared against them (tf_differences.py); a float64 case of an op
without an entry here fails there with a message asking for one."""
import math

import numpy as np

SQRT_PI = math.sqrt(math.pi)
erf = np.vectorize(math.erf, otypes=[np.float64])


def _unary(f, df):
    def ref(ins, ct):
        x = ins[0]
        with np.errstate(all="ignore"):
            return {"output": f(x), "0": ct * df(x)}
    return ref


def _binary(f, da, db):
    def ref(ins, ct):
        a, b = ins
        with np.errstate(all="ignore"):
            out = {"output": f(a, b)}
            if da is not None:
                out["0"], out["1"] = ct * da(a, b), db(a, b, ct, out["output"])
            return out
    return ref


def _pow_db(a, b, ct, z):
    # TensorFlow's rule: log(a) where a > 0, else 0
    return ct * z * np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), 0.0)


def _maximum_grads(a, b, ct, pick_a):
    return np.where(pick_a, ct, 0.0), np.where(pick_a, 0.0, ct)


def _extreme(reduce, arg):
    def ref(ins, ct):
        x = ins[0]
        m = reduce(x, axis=-1)
        ties = x == m[:, None]
        # TensorFlow's reduce_max/min gradient: shared equally among the elements equal to the extreme
        return {"output": m, "0": ct[:, None] * ties / ties.sum(-1, keepdims=True)}
    return ref


def _cumprod(exclusive, reverse):
    def cum(x, fn, excl, rev):
        if rev:
            x = x[:, ::-1]
        y = fn(x, axis=1)
        if excl:
            y = np.concatenate([np.full_like(y[:, :1], 1.0 if fn is np.cumprod else 0.0), y[:, :-1]], axis=1)
        return y[:, ::-1] if rev else y

    def ref(ins, ct):
        x = ins[0]
        with np.errstate(all="ignore"):
            prod = cum(x, np.cumprod, exclusive, reverse)
            out = cum(prod * ct, np.cumsum, exclusive, not reverse)
            # TensorFlow's cumprod gradient: div_no_nan(cumsum(prod * g, the other way), x)
            return {"output": prod, "0": np.where(x == 0, 0.0, out / np.where(x == 0, 1.0, x))}
    return ref


def _compare(f):
    return _binary(lambda a, b: f(a, b).astype(np.float64), None, None)


def _elu_grad(x):
    return np.where(x > 0, 1.0, 0.7 * np.exp(x))


def _grad_op(f, d_y, d_dy):
    """relu_grad, sigmoid_grad, tanh_grad (y, dy): TensorFlow's kernels and their gradients."""
    def ref(ins, ct):
        y, dy = ins
        with np.errstate(all="ignore"):
            return {"output": f(y, dy), "0": d_y(y, dy, ct), "1": d_dy(y, ct)}
    return ref


REFERENCES = {
    "relu_grad": _grad_op(lambda y, dy: dy * (y > 0), lambda y, dy, ct: 0 * y, lambda y, ct: ct * (y > 0)),
    # SigmoidGrad is dy * (y * (1 - y)); its gradient for y, gb - 2 gb y with gb = ct dy
    "sigmoid_grad": _grad_op(lambda y, dy: dy * (y * (1 - y)), lambda y, dy, ct: ct * dy - 2 * (ct * dy) * y,
                             lambda y, ct: ct * (y * (1 - y))),
    "tanh_grad": _grad_op(lambda y, dy: dy * (1 - y * y), lambda y, dy, ct: ct * dy * -2 * y,
                          lambda y, ct: ct * (1 - y * y)),
    "abs": _unary(np.abs, np.sign),
    "sign": _unary(np.sign, lambda x: 0 * x),
    "log": _unary(np.log, lambda x: 1 / x),
    "sqrt": _unary(np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "rsqrt": _unary(lambda x: 1 / np.sqrt(x), lambda x: -0.5 / np.sqrt(x) ** 3),
    "relu": _unary(lambda x: np.where(x > 0, x, 0.0), lambda x: (x > 0).astype(np.float64)),
    "relu6": _unary(lambda x: np.minimum(np.maximum(x, 0.0), 6.0), lambda x: ((x > 0) & (x < 6)).astype(np.float64)),
    "leaky_relu": _unary(lambda x: np.where(x > 0, x, np.float32(0.3) * x),
                         lambda x: np.where(x > 0, 1.0, np.float32(0.3))),
    "elu": _unary(lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), _elu_grad),
    "mul": _binary(np.multiply, lambda a, b: b, lambda a, b, ct, z: ct * a),
    # floor, ceil, round and floordiv are piecewise constant: no gradient (zeros), as TensorFlow's
    "floor": _unary(np.floor, np.zeros_like),
    "ceil": _unary(np.ceil, np.zeros_like),
    "round": _unary(np.rint, np.zeros_like),
    "floordiv": _binary(lambda a, b: np.floor(a / b), lambda a, b: np.zeros_like(a),
                        lambda a, b, ct, z: np.zeros_like(b)),
    "div": _binary(np.divide, lambda a, b: 1 / b, lambda a, b, ct, z: ct * (-a / b / b)),
    "pow": _binary(np.power, lambda a, b: b * np.power(a, b - 1), _pow_db),
    "maximum": _binary(np.maximum, lambda a, b: np.where(a >= b, 1.0, 0.0),
                       lambda a, b, ct, z: np.where(a >= b, 0.0, ct)),
    "minimum": _binary(np.minimum, lambda a, b: np.where(a <= b, 1.0, 0.0),
                       lambda a, b, ct, z: np.where(a <= b, 0.0, ct)),
    "equal": _compare(np.equal), "not_equal": _compare(np.not_equal), "less": _compare(np.less),
    "less_equal": _compare(np.less_equal), "greater": _compare(np.greater),
    "greater_equal": _compare(np.greater_equal),
    "max/edges": _extreme(np.max, np.argmax),
    "min/edges": _extreme(np.min, np.argmin),
    "argmax/edges": lambda ins, ct: {"output": np.argmax(ins[0], axis=1).astype(np.float64)},
    "argmin/edges": lambda ins, ct: {"output": np.argmin(ins[0], axis=1).astype(np.float64)},
    "cumprod/edges": _cumprod(False, False),
    "cumprod/edges_exclusive_reverse": _cumprod(True, True),
}


def reference(name):
    return REFERENCES.get(name) or REFERENCES.get(name.split("/")[0])
