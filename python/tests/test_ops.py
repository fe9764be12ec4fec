"""The op table from Python: TensorFlow's names, parameters and defaults, errors that name the op."""
import pathlib
import re

import numpy as np
import pytest

import duet
from duet import _ops


def test_reductions_take_tensorflows_arguments():
    x = duet.constant([[1.0, 2.0], [3.0, 4.0]])
    assert float(duet.reduce_sum(x)) == 10.0
    np.testing.assert_allclose(duet.reduce_sum(x, axis=1).numpy(), [3.0, 7.0])
    np.testing.assert_allclose(duet.reduce_mean(x, 0, keepdims=True).numpy(), [[2.0, 3.0]])
    np.testing.assert_allclose(duet.math.reduce_max(x, axis=[0, 1]).numpy(), 4.0)
    assert duet.argmax(x).numpy().tolist() == [1, 1]  # TensorFlow's default axis is 0
    assert duet.argmax(x, axis=1, output_type=duet.int32).dtype == duet.int32
    np.testing.assert_allclose(duet.math.cumsum(duet.constant([1.0, 2.0, 3.0]), exclusive=True).numpy(), [0, 1, 3])


def test_shape_ops_and_constructors():
    x = duet.reshape(duet.range(6), [2, 3])
    assert x.dtype == duet.int32 and x.shape == (2, 3)
    a, b = duet.split(duet.constant(np.arange(6.0)), 2)
    np.testing.assert_array_equal(b.numpy(), [3.0, 4.0, 5.0])
    parts = duet.split(duet.constant(np.arange(6.0)), [1, 5])
    assert [p.shape[0] for p in parts] == [1, 5]
    np.testing.assert_array_equal(duet.concat([x, x], axis=0).numpy().shape, (4, 3))
    np.testing.assert_array_equal(duet.transpose(x).numpy(), np.arange(6).reshape(2, 3).T)
    assert duet.zeros([2, 2]).dtype == duet.float32 and duet.ones([3], dtype=duet.int64).dtype == duet.int64
    np.testing.assert_allclose(duet.fill([2], 7.0).numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(duet.one_hot([0, 2], 3).numpy(), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(duet.range(1.0, 2.0, 0.5).numpy(), [1.0, 1.5])


def test_nn_ops_read_tensorflows_conventions():
    x = duet.random.normal([2, 8, 8, 3], seed=1)
    w = duet.random.normal([3, 3, 3, 4], seed=2)
    y = duet.nn.conv2d(x, w, strides=1, padding="SAME")
    assert y.shape == (2, 8, 8, 4)
    assert duet.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="VALID").shape == (2, 3, 3, 4)
    assert duet.nn.max_pool2d(y, ksize=2, strides=2, padding="VALID").shape == (2, 4, 4, 4)
    with pytest.raises(ValueError, match="NHWC"):
        duet.nn.conv2d(x, w, 1, "SAME", data_format="NCHW")
    # conv2d_transpose: TensorFlow's output_shape (N, H, W, C); its gradient for the input is a conv2d
    wt = duet.random.normal([3, 3, 5, 4], seed=3)
    t = duet.nn.conv2d_transpose(y, wt, [2, 16, 16, 5], strides=2, padding="SAME")
    assert t.shape == (2, 16, 16, 5)
    assert duet.nn.conv2d_transpose(y, wt, (10, 10), 1, "VALID").shape == (2, 10, 10, 5)
    with pytest.raises(ValueError, match="does not fit"):
        duet.nn.conv2d_transpose(y, wt, [2, 12, 12, 5], strides=2, padding="SAME")
    with pytest.raises(ValueError, match="out_channels"):
        duet.nn.conv2d_transpose(y, wt, [2, 16, 16, 4], strides=2, padding="SAME")
    p = duet.nn.softmax(duet.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(duet.reduce_sum(p).numpy(), 1.0, rtol=1e-6)
    assert duet.nn.relu(duet.constant([-1.0, 2.0])).numpy().tolist() == [0.0, 2.0]


def test_random_is_seeded_and_typed():
    a = duet.random.uniform([3], seed=5)
    b = duet.random.uniform([3], seed=5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert duet.random.normal([2], dtype=duet.float64).dtype == duet.float64


def test_bad_arguments_name_the_op_and_parameter():
    with pytest.raises(TypeError, match=r"\[reduce_sum\] argument 'keepdims'"):
        duet.reduce_sum(duet.constant([1.0]), keepdims="yes")
    with pytest.raises(duet.errors.InvalidArgumentError):
        duet.reduce_sum(duet.constant([1.0]), axis=3)
    with pytest.raises(duet.errors.DTypeError):
        duet.math.exp(duet.constant([1, 2]))
    err = duet.errors
    assert issubclass(err.ShapeError, ValueError) and issubclass(err.DTypeError, TypeError)
    assert issubclass(err.InvalidArgumentError, err.Error)


# Public C++ functions that Python knows under another (TensorFlow's) name, or not at all yet (why).
RENAMED = {"sub": "subtract", "mul": "multiply", "div": "truncatediv", "floor_div": "floordiv", "floor_mod": "floormod", "neg": "negative", "sum": "reduce_sum",
           "mean": "reduce_mean", "max": "reduce_max", "min": "reduce_min", "prod": "reduce_prod",
           "clip": "clip_by_value", "full": "fill", "arange": "range"}
NOT_IN_PYTHON = {
    "constant", "scalar", "from_data", "empty",  # duet.constant / convert_to_tensor cover them
    "sum_to", "broadcast_like", "reshape_like", "pad_like", "scatter_add_like", "relu_grad", "sigmoid_grad",
    "tanh_grad", "zero_like_scalar",  # gradient helpers (gradient_ops.h), not TensorFlow ops
    "dropout",  # exposed as nn.dropout with TensorFlow's parameters (the C++ overloads take training)
    "set_seed", "get_state", "set_state",  # duet.random.set_seed
    "allreduce", "broadcast", "barrier",  # collectives: duet.distributed in C++ only for now
    "lit", "weak_scalar", "weak_scalar_int",  # internal:: helpers of the C++ operators (Python numbers are weak)
}


def test_every_public_cpp_op_is_in_python():
    include = pathlib.Path(__file__).resolve().parents[2] / "include" / "duet"
    names = set()
    for header in ("ops.h", "nn.h", "linalg.h", "random.h"):
        for m in re.finditer(r"^(?:\[\[nodiscard\]\]\s+)?(?:Tensor|std::vector<Tensor>)\s+(\w+)\(",
                             (include / header).read_text(), re.M):
            names.add(m.group(1))
    missing = sorted(n for n in names
                     if n not in NOT_IN_PYTHON and RENAMED.get(n, n) not in _ops.FUNCTIONS)
    assert not missing, f"public C++ ops without a Python function: {missing}"
    assert len(_ops.FUNCTIONS) >= 80


def test_division_operators_are_tensorflows():
    a, b = duet.constant([7, -7, 7, -7]), duet.constant([2, 2, -2, -2])
    q = a / b  # true division: integers give float64, as in TensorFlow
    assert q.dtype == duet.float64 and q.numpy().tolist() == [3.5, -3.5, -3.5, 3.5]
    assert duet.divide(a, b).dtype == duet.float64 and duet.math.truediv(a, 2).dtype == duet.float64
    assert (a // b).numpy().tolist() == [3, -4, -4, 3] and (a // b).dtype == duet.int32  # as Python's //
    assert (a % b).numpy().tolist() == [1, 1, -1, -1]  # the divisor's sign, as Python's %
    assert (7 // duet.constant(-2)).numpy().tolist() == -4 and (-7 % duet.constant(3)).numpy() == 2
    x = duet.constant([7.5, -7.5])
    np.testing.assert_allclose((x // 2).numpy(), [3.0, -4.0])
    np.testing.assert_allclose((x % 2).numpy(), [1.5, 0.5])
    np.testing.assert_allclose(duet.math.floormod(x, -2.0).numpy(), np.mod([7.5, -7.5], -2.0))
    v = duet.Variable([5, -5])
    assert (v // 2).numpy().tolist() == [2, -3] and (v % 3).numpy().tolist() == [2, 1]
    with pytest.raises(duet.errors.InvalidArgumentError, match="division by zero"):
        duet.constant([1]) // duet.constant([0])


def test_rounding_ops():
    x = duet.constant([0.5, 1.5, 2.5, -0.5, -1.7, 2.2])
    assert duet.math.round(x).numpy().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 2.0]  # half to even
    assert duet.math.floor(x).numpy().tolist() == [0.0, 1.0, 2.0, -1.0, -2.0, 2.0]
    assert duet.math.ceil(x).numpy().tolist() == [1.0, 2.0, 3.0, -0.0, -1.0, 3.0]
    with pytest.raises(duet.errors.DTypeError, match="floor"):
        duet.math.floor(duet.constant([1, 2]))
    with duet.GradientTape() as tape:
        tape.watch(x)
        y = duet.reduce_sum(duet.math.floor(x) * x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), duet.math.floor(x).numpy())


def test_dtype_objects_reach_any_parameter():
    r = duet.range(6, dtype=duet.float32)
    assert r.dtype == duet.float32 and r.numpy().tolist() == [0, 1, 2, 3, 4, 5]
    assert duet.range(2, 8, 3, dtype="int64").dtype == duet.int64


def test_tensorflow_1_sessions_say_what_to_write_instead():
    with pytest.raises(duet.errors.FailedPreconditionError, match=r"print\(y\) or y.numpy\(\) instead of sess.run"):
        with duet.compat.v1.Session() as sess:
            sess.run(duet.constant(1))
    with pytest.raises(AttributeError, match="TensorFlow 2 programs"):
        duet.compat.v1.placeholder(duet.float32)
