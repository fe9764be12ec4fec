"""cond, while_loop and py_function with Python callables, eagerly and inside duet.function."""
import numpy as np
import pytest

import duet


def test_cond_eager_and_traced():
    f = duet.function(lambda x: duet.cond(duet.reduce_sum(x) > 0, lambda: x * 2.0, lambda: -x))
    np.testing.assert_allclose(f(duet.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(f(duet.constant([-1.0, -2.0])).numpy(), [1.0, 2.0])
    assert f.trace_count == 1  # one graph holds both branches
    assert float(duet.cond(duet.constant(False), lambda: duet.constant(1.0), lambda: duet.constant(2.0))) == 2.0
    out = duet.cond(duet.constant(True), lambda: {"a": duet.constant(1.0)}, lambda: {"a": duet.constant(2.0)})
    assert float(out["a"]) == 1.0


def test_while_loop_eager_and_traced():
    def count(n):
        return duet.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + duet.cast(i, duet.float32)),
                               (duet.constant(0), duet.constant(0.0)))

    i, s = count(duet.constant(5))
    assert int(i) == 5 and float(s) == 10.0
    i, s = duet.function(count)(duet.constant(4))
    assert int(i) == 4 and float(s) == 6.0


def test_py_function_reads_values_inside_a_trace():
    seen = []

    def host(x):
        seen.append(x.numpy().copy())  # concrete here, even though the caller is traced
        return x.numpy() * 10.0

    f = duet.function(lambda x: duet.py_function(host, [x], duet.float32) + 1.0)
    np.testing.assert_allclose(f(duet.constant([1.0, 2.0])).numpy(), [11.0, 21.0])
    np.testing.assert_allclose(f(duet.constant([3.0, 4.0])).numpy(), [31.0, 41.0])
    assert len(seen) == 2 and f.trace_count == 1  # runs on every call, traced once


def test_py_function_errors_reach_the_caller():
    def bad(x):
        raise RuntimeError("boom from Python")

    with pytest.raises(Exception, match="boom from Python"):
        duet.py_function(bad, [duet.constant(1.0)], duet.float32)
    with pytest.raises(duet.errors.Error):  # a declared dtype it does not return
        duet.py_function(lambda x: np.array([1, 2, 3], np.int64), [duet.constant([1.0])], duet.float32)
