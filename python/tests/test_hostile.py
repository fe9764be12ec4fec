"""Every op of the table called with hostile arguments, one parameter at a time (None, strings, objects,
huge and negative numbers, NaN, ragged and deep lists, tensors of every dtype and odd shapes): each call
either works or raises a duet error or a TypeError/ValueError/IndexError naming the problem. Never a crash,
a hang, or another exception type (a RuntimeError from a failed C++ cast, say)."""
import math

import numpy as np
import pytest

import duet
from duet import _ops

ALLOWED = (duet.errors.Error, TypeError, ValueError, IndexError)


def hostile_values():
    return [
        None, "text", object(), 2**70, -(2**70), -1, 0, 2**40, math.nan, math.inf, -0.0, True, [], [[]],
        [1, [2]], [[1, 2], [3]], [None], ["a"], [2**40, 2**40], (1 << 62,), np.array([], np.float32),
        np.zeros((0, 3), np.float32), np.full((2, 2), np.nan, np.float32), np.array([1, 2], np.uint64),
        np.array([1 + 2j]), duet.constant(True), duet.constant([1, 2]), duet.constant(2**40, duet.int64),
        duet.constant([[1.0]], duet.float64), duet.ones([0, 2]), duet.ones([1, 1, 1, 1, 1]),
        duet.float32, duet.int64, [duet.ones([2]), None],
    ]


def good_value(param):
    kind = param["kind"]
    if not param["required"]:
        return param["default"]
    return {"Tensor": duet.ones([2, 2]), "list of Tensors": [duet.ones([2, 2]), duet.ones([2, 2])],
            "bool": False, "int": 1, "float": 0.5, "str": "SAME", "int or list of ints": [2, 2],
            "dtype": duet.float32, "int or None": None}[kind]


ENTRIES = {e["name"]: e for e in duet._duet._api_functions()}


@pytest.mark.parametrize("name", sorted(_ops.FUNCTIONS))
def test_hostile_arguments_get_clean_errors(name):
    fn = _ops.FUNCTIONS[name]
    params = ENTRIES[name]["params"]
    for i, p in enumerate(params):
        for bad in hostile_values():
            args = [good_value(q) for q in params]
            args[i] = bad
            try:
                fn(*args)
            except ALLOWED:
                pass
            except Exception as e:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{name}({p['name']}={bad!r}) raised {type(e).__name__}: {e}")


@pytest.mark.parametrize("bad", [None, "a", object(), 2**70, [1, [2]], np.array([1 + 2j]), duet.ones([3, 3])])
def test_operators_with_hostile_operands(bad):
    t = duet.ones([2])
    for op in (lambda: t + bad, lambda: bad - t, lambda: t * bad, lambda: t / bad, lambda: t // bad,
               lambda: t % bad, lambda: t ** bad, lambda: t @ bad, lambda: t < bad, lambda: t == bad):
        try:
            op()
        except ALLOWED:
            pass


@pytest.mark.parametrize("key", ["a", 1.5, 100, -100, slice(None, None, 0), (0, 0, 0), [0.5], object(),
                                 duet.constant(1.5), (Ellipsis, Ellipsis)])
def test_indexing_with_hostile_keys(key):
    with pytest.raises(ALLOWED):
        duet.ones([2, 2])[key]
