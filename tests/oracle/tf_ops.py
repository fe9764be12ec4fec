"""Each oracle_dump case as a TensorFlow 2.21 expression of the case's input tensors (in the case's dtype: float64
cases compute in float64, float32 cases in float32). A case name is looked up whole, then by the part before
its first '/' ("exp/edges" uses "exp")."""
import numpy as np
import tensorflow as tf


def pattern(shape, dtype):
    """oracle_dump's cotangent pattern 0.5 + 0.6 (i % 5) - 0.35 (i % 3), which its 'where' cases use."""
    n = int(np.prod(shape))
    i = np.arange(n)
    return tf.constant((0.5 + 0.6 * (i % 5) - 0.35 * (i % 3)).reshape(shape), dtype)


def f64(t):
    return tf.cast(t, tf.float64)


def reduction(fn):
    axes = {"all": (None, False), "axis1_keep": ([1], True), "axes02": ([0, -1], False),
            "axes12_keep": ([1, 2], True), "edges": ([-1], False), "zeros_infs_axes01": ([0, 1], False),
            "axes_neg": ([-1, -3], False)}

    def make(mode):
        axis, keep = axes[mode]
        return lambda x: fn(x, axis=axis, keepdims=keep)
    return make


def cumulative(fn):
    modes = {"axis1": (1, False, False), "axis0_exclusive": (0, True, False), "axis_last_reverse": (-1, False, True),
             "axis1_exclusive_reverse": (1, True, True), "edges": (1, False, False),
             "edges_exclusive_reverse": (1, True, True)}

    def make(mode):
        axis, exclusive, reverse = modes[mode]
        return lambda x: fn(x, axis=axis, exclusive=exclusive, reverse=reverse)
    return make


def sum_to(x, like):
    # TensorFlow's own rule for undoing a broadcast (what its gradients of broadcasting ops use)
    _, axes = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(x), s1=tf.shape(like))
    return tf.reshape(tf.reduce_sum(x, axes), tf.shape(like))


def pad_like(x, like):
    begin = [1, 2]
    pads = [[b, int(n) - int(s) - b] for b, s, n in zip(begin, x.shape, like.shape)]
    return tf.pad(x, pads)


def max_pool_grad(x, dy):
    y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=dy, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                  padding="VALID")


def max_pool_grad_grad(x, dd):
    y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    return tf.raw_ops.MaxPoolGradGrad(orig_input=x, orig_output=y, grad=dd, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                      padding="VALID")


def avg_pool_grad(x, dy):
    return tf.raw_ops.AvgPoolGrad(orig_input_shape=tf.shape(x), grad=dy, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1],
                                  padding="VALID")


def fused_batch_norm(x, gamma, beta):
    if x.dtype == tf.float32:  # TensorFlow's fused kernel (float32 only), on (1, 4, 3, C) NHWC
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x[None], gamma, beta, epsilon=1e-3, is_training=True)
        return y[0]
    mean, var = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)


def batch_statistics(x, gamma, beta):
    # duet returns the batch mean and the biased batch variance, as tf.nn.moments
    mean, var = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
    return mean * 2 + var + 0 * (gamma + beta)


def fused_variance(x, gamma, beta):
    if x.dtype == tf.float32:  # the batch variance TensorFlow's fused kernel returns
        return tf.compat.v1.nn.fused_batch_norm(x[None], gamma, beta, epsilon=1e-3, is_training=True)[2]
    return tf.nn.moments(x, axes=[0, 1])[1]  # float64: TensorFlow has no fused kernel


def conv(strides=1, padding="SAME", dilations=1):
    return lambda x, w: tf.nn.conv2d(x, w, strides, padding, dilations=dilations)


def int_arith(a, b):
    return f64(tf.stack([a + b, a - b, a * b, tf.maximum(a, b), tf.minimum(a, b), tf.abs(a), -a, tf.sign(a),
                         tf.square(a)]))


def cast_float(x):
    return tf.cast(x, tf.float32 if x.dtype == tf.float64 else tf.float64)


CASES = {
    "neg": tf.negative, "abs": tf.abs, "sign": tf.sign, "exp": tf.exp, "expm1": tf.math.expm1, "log": tf.math.log,
    "log1p": tf.math.log1p, "sqrt": tf.sqrt, "rsqrt": tf.math.rsqrt, "square": tf.square, "sin": tf.sin,
    "cos": tf.cos, "tan": tf.tan, "tanh": tf.tanh, "atan": tf.atan, "erf": tf.math.erf, "sigmoid": tf.sigmoid,
    "relu": tf.nn.relu,
    # Keras's elu(x, alpha) on TensorFlow (tf.nn.elu has no alpha)
    "elu": lambda x: tf.where(x > 0, tf.nn.elu(x), 0.7 * tf.nn.elu(x)),
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "gelu_tanh": lambda x: tf.nn.gelu(x, approximate=True),
    "softplus": tf.math.softplus,
    "relu6": tf.nn.relu6,
    "leaky_relu": lambda x: tf.nn.leaky_relu(x, alpha=0.3),
    "selu": tf.nn.selu,
    "silu": tf.nn.silu,
    "silu_beta": lambda x: tf.nn.silu(x, beta=1.5),
    "softsign": tf.nn.softsign,
    "log_sigmoid": tf.math.log_sigmoid,
    "clip": lambda x: tf.clip_by_value(x, -0.5, 0.8),
    "identity": tf.identity,
    "check_numerics": lambda x: tf.debugging.check_numerics(x, "oracle"),
    "stop_gradient": lambda x: tf.stop_gradient(x) * x,
    "cast_float": cast_float,
    "vector_kernels": lambda x: tf.stack([tf.exp(x), tf.tanh(x), tf.sigmoid(x), tf.math.log(tf.abs(x) + 0.05),
                                          tf.math.erf(x)]),
    "floor": tf.math.floor, "ceil": tf.math.ceil, "round": tf.math.round, "round_ties": tf.math.round,
    "floordiv": tf.math.floordiv, "floormod": tf.math.floormod,
    "int_floordiv_floormod": lambda a, b: f64(tf.stack([tf.math.floordiv(a, b), tf.math.floormod(a, b)])),
    "add": tf.add, "sub": tf.subtract, "mul": tf.multiply, "div": tf.divide, "pow": tf.pow,
    "maximum": tf.maximum, "minimum": tf.minimum,
    "equal": lambda a, b: f64(tf.equal(a, b)), "not_equal": lambda a, b: f64(tf.not_equal(a, b)),
    "less": lambda a, b: f64(tf.less(a, b)), "less_equal": lambda a, b: f64(tf.less_equal(a, b)),
    "greater": lambda a, b: f64(tf.greater(a, b)), "greater_equal": lambda a, b: f64(tf.greater_equal(a, b)),
    "where": lambda a, b: tf.where(pattern(a.shape, tf.float64) > 0.6, a, b),
    "where_broadcast": lambda c, a, b: tf.where(c > 0, a, b),
    "logical": lambda a, b: (f64(tf.logical_and(a > 0, b > 0)) + 2 * f64(tf.logical_or(a > 0, b > 0))
                             + 4 * f64(tf.logical_not(a > 0))),
    # TensorFlow's divide of integers is true division (float64); duet's truncates (tf_differences.py)
    "int_div": lambda a, b: f64(tf.math.divide(a, b)),
    "int_arith": int_arith,
    "cast_f64_i32": lambda x: f64(tf.cast(x, tf.int32)),
    "argmax": lambda x: f64(tf.argmax(x, 1)),
    "argmin": lambda x: f64(tf.argmin(x, 0)),
    "argmax/edges": lambda x: f64(tf.argmax(x, 1)),
    "argmin/edges": lambda x: f64(tf.argmin(x, 1)),
    "size": lambda x: f64(tf.shape(x)[1]),
    "reshape": lambda x: tf.reshape(x, [2, -1, 3]),
    "transpose": lambda x: tf.transpose(x, [2, 0, 1]),
    "expand_dims": lambda x: tf.expand_dims(x, -1),
    "squeeze": lambda x: tf.squeeze(x, [1]),
    "concat": lambda a, b: tf.concat([a, b], 0),
    "stack": lambda a, b: tf.stack([a, b], 1),
    "split": lambda x: (lambda p: p[0] + 2 * p[1] - p[2])(tf.split(x, 3, 0)),
    "split_sizes": lambda x: (lambda p: tf.concat([p[2], 3 * p[0]], 1) + tf.reduce_sum(p[1], 1, keepdims=True))(
        tf.split(x, [2, -1, 1], 1)),
    "slice": lambda x: tf.slice(x, [1, 2], [2, -1]),
    "pad": lambda x: tf.pad(x, [[0, 1], [2, 0], [1, 3]]),
    "pad_constant": lambda x: tf.pad(x, [[1, 2], [0, 1]], constant_values=-1.5),
    "gather": lambda x: tf.gather(x, [4, 0, 4, 2], axis=0),
    "gather_axis1": lambda x: tf.gather(x, [1, 1, 3], axis=1),
    "one_hot": lambda x: tf.one_hot(x, 4, dtype=tf.float64),
    "broadcast_to": lambda x: tf.broadcast_to(x, [2, 3, 4]),
    "sum_to": sum_to,
    "broadcast_like": lambda x, like: tf.broadcast_to(x, tf.shape(like)),
    "reshape_like": lambda x, like: tf.reshape(x, tf.shape(like)),
    "pad_like": pad_like,
    "slice_like": lambda x, like: tf.slice(x, [1, 2], tf.shape(like)),
    "scatter_add_like": lambda u, like: tf.math.unsorted_segment_sum(u, [4, 0, 4, 2], like.shape[0]),
    "relu_grad": lambda y, dy: tf.raw_ops.ReluGrad(gradients=dy, features=y),
    "sigmoid_grad": lambda y, dy: tf.raw_ops.SigmoidGrad(y=y, dy=dy),
    "tanh_grad": lambda y, dy: tf.raw_ops.TanhGrad(y=y, dy=dy),
    "matmul": tf.matmul,
    "matmul_tt": lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
    "matmul_ta": lambda a, b: tf.matmul(a, b, transpose_a=True),
    "matmul_batch_broadcast": tf.matmul,
    "matmul_int": lambda a, b: f64(tf.matmul(a, b)),
    "conv2d_same": conv(),
    "conv2d_same_stride2": conv(strides=2),
    "conv2d_valid_stride2": conv(strides=2, padding="VALID"),
    # TensorFlow's CPU Conv2D has no dilated gradient kernels; atrous_conv2d is its dilated convolution for CPUs
    "conv2d_dilated": lambda x, w: tf.nn.atrous_conv2d(x, w, rate=2, padding="VALID"),
    "conv2d_transpose_same_stride2": lambda x, w: tf.nn.conv2d_transpose(x, w, [2, 6, 6, 4], 2, "SAME"),
    "conv2d_transpose_valid_stride2": lambda x, w: tf.nn.conv2d_transpose(x, w, [1, 8, 9, 2], 2, "VALID"),
    "max_pool": lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"),
    "max_pool_same_3_2": lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"),
    "avg_pool": lambda x: tf.nn.avg_pool2d(x, 2, 2, "VALID"),
    "avg_pool_same_3_2": lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"),
    "max_pool_grad": max_pool_grad,
    "max_pool_grad_grad": max_pool_grad_grad,
    "avg_pool_grad": avg_pool_grad,
    "conv2d_backprop_input": lambda x, w, dy: tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME"),
    "conv2d_backprop_filter": lambda x, w, dy: tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME"),
    "softmax": lambda x: tf.nn.softmax(x, -1),
    "softmax_axis0": lambda x: tf.nn.softmax(x, 0),
    "log_softmax": lambda x: tf.nn.log_softmax(x, -1),
    "sparse_ce": lambda y, z: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z),
    "dense_ce": lambda y, z: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z),
    "dense_ce_normalized": lambda y, z: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z),
    "bias_add": tf.nn.bias_add,
    "fused_batch_norm": fused_batch_norm,
    "fused_batch_norm/statistics": batch_statistics,
    "fused_batch_norm/variance": fused_variance,
}
for _name, _fn in {"sum": tf.reduce_sum, "mean": tf.reduce_mean, "max": tf.reduce_max, "min": tf.reduce_min,
                   "prod": tf.reduce_prod}.items():
    for _mode in ("all", "axis1_keep", "axes02", "axes12_keep", "edges"):
        CASES[f"{_name}/{_mode}"] = reduction(_fn)(_mode)
for _mode in ("zeros_infs_axes01", "axes_neg"):
    CASES[f"prod/{_mode}"] = reduction(tf.reduce_prod)(_mode)
for _name, _fn in {"cumsum": tf.math.cumsum, "cumprod": tf.math.cumprod}.items():
    for _mode in ("axis1", "axis0_exclusive", "axis_last_reverse", "axis1_exclusive_reverse", "edges",
                  "edges_exclusive_reverse"):
        CASES[f"{_name}/{_mode}"] = cumulative(_fn)(_mode)

# Public functions checked through a case of another name.
COVERED_BY = {
    "max_pool2d": "max_pool", "avg_pool2d": "avg_pool", "max_pool2d_grad": "max_pool_grad",
    "max_pool2d_grad_grad": "max_pool_grad_grad", "avg_pool2d_grad": "avg_pool_grad", "conv2d": "conv2d_same",
    "conv2d_transpose": "conv2d_transpose_same_stride2",
    "logical_and": "logical", "logical_or": "logical", "logical_not": "logical",
    "sparse_softmax_cross_entropy_with_logits": "sparse_ce", "softmax_cross_entropy_with_logits": "dense_ce",
    "cast": "cast_float", "floor_div": "floordiv", "floor_mod": "floormod",
}
NOT_ORACLE = {
    "dropout": "random: TensorFlow draws another mask; its kept fraction, scale and mask gradient are checked in "
               "the op table (tests/op_rows_nn.cpp) and the Dropout layer's in the Keras oracle",
    "normal": "random: TensorFlow's generator gives other numbers for a seed; the op table "
              "(tests/op_table_test.cpp) checks the mean, standard deviation and range of 100,000 draws",
    "uniform": "random, as normal", "truncated_normal": "random, as normal",
    "weak_scalar": "an internal helper of the C++ operators",
    "weak_scalar_int": "an internal helper of the C++ operators",
    "lit": "an internal helper of the C++ operators",
}


def lookup(name):
    if name in CASES:
        return CASES[name]
    return CASES.get(name.split("/")[0])
