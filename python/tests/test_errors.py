"""Engine errors reach Python as duet.errors classes with the engine's message, and bad input from Python
never crashes the interpreter."""
import math

import numpy as np
import pytest

import duet


def test_each_engine_error_has_its_class_and_message():
    with pytest.raises(duet.errors.ShapeError, match=r"\[add\] shapes \(2,\) and \(3,\) cannot be broadcast"):
        duet.add(duet.ones([2]), duet.ones([3]))
    with pytest.raises(duet.errors.DTypeError, match=r"\[exp\]"):
        duet.exp(duet.constant([1, 2]))
    with pytest.raises(duet.errors.InvalidArgumentError, match="integer division by zero"):
        duet.constant([1, 2]) // duet.constant([1, 0])
    with pytest.raises(duet.errors.ResourceExhaustedError):
        duet.zeros([1 << 20, 1 << 20, 1 << 10])


@pytest.mark.parametrize("call", [
    lambda: duet.reduce_sum(None),
    lambda: duet.add(None, 1),
    lambda: duet.concat([duet.ones([1]), None], 0),
    lambda: duet.reshape(duet.ones([4]), [3]),
    lambda: duet.reshape(duet.ones([4]), "x"),
    lambda: duet.zeros([-1]),
    lambda: duet.constant(object()),
    lambda: duet.constant("text"),
    lambda: duet.gather(duet.ones([3]), [5]),
    lambda: duet.nn.conv2d(duet.ones([1, 4, 4, 1]), duet.ones([3, 3, 1, 1]), 0, "SAME"),
    lambda: duet.nn.max_pool2d(duet.ones([1, 4, 4, 1]), 2, 2, "FULL"),
    lambda: duet.random.normal([2], seed=-1),
    lambda: duet.one_hot([1], -3),
    lambda: duet.Variable(1.0).assign([1.0, 2.0]),
    lambda: duet.constant(np.array([1 + 2j])),
    lambda: duet.split(duet.ones([5]), 2),
    lambda: duet.GradientTape().gradient(duet.ones([1]), duet.ones([1])),
    lambda: duet.constant(math.nan, dtype=duet.int32),
])
def test_bad_input_raises_a_duet_or_python_error(call):
    with pytest.raises((duet.errors.Error, TypeError, ValueError, IndexError)):
        call()


def test_none_where_a_tensor_is_required_names_the_op_and_argument():
    with pytest.raises(duet.errors.InvalidArgumentError, match=r"add\(\) argument 'x' is None"):
        duet.add(None, 1)


def test_the_engines_advice_names_the_python_api():
    with pytest.raises(duet.errors.DTypeError, match=r"duet\.cast\(x, duet\.float32\) first"):
        duet.math.sqrt(duet.constant(4))
    with pytest.raises(duet.errors.OperatorNotAllowedInGraphError) as info:
        duet.function(lambda x: float(x))(duet.constant(1.0))
    text = str(info.value)
    assert "duet.cond" in text and "duet.py_function" in text and "run_functions_eagerly(True)" in text
    assert "::" not in text and "C++" not in text
