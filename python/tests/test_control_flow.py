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
    # NumPy results convert to Tout, as TensorFlow converts them (a tensor of another dtype is an error).
    out = duet.py_function(lambda x: np.array([1, 2, 3], np.int64), [duet.constant([1.0])], duet.float32)
    assert out.dtype == duet.float32 and out.numpy().tolist() == [1.0, 2.0, 3.0]


def test_py_function_eagerly_returns_what_the_function_returns():
    # Eagerly there is no graph: a result may have any shape, and NumPy results take Tout's dtype.
    total = duet.py_function(lambda x: np.sum(x.numpy()), [duet.constant([1, 2, 3])], duet.int64)
    assert total.dtype == duet.int64 and total.shape == () and int(total) == 6
    pair = duet.py_function(lambda x: (x * 2, x.numpy()[:1]), [duet.constant([1.0, 2.0])], [duet.float32, duet.float64])
    np.testing.assert_allclose(pair[0].numpy(), [2.0, 4.0])
    assert pair[1].dtype == duet.float64 and pair[1].shape == (1,)


def test_py_function_tensor_of_another_dtype_is_an_error_as_in_tensorflow():
    # The seed article's Example 1: x + 1 on an int32 tensor gives int32, but Tout says int64.
    with pytest.raises(duet.errors.InvalidArgumentError, match=r"result 0 is a int32 tensor but Tout declares int64"):
        duet.py_function(lambda x: x + 1, [duet.constant(5)], duet.int64)
    with pytest.raises(duet.errors.InvalidArgumentError, match="returned 1 values but Tout declares 2"):
        duet.py_function(lambda x: x, [duet.constant(5)], [duet.int32, duet.int32])


def test_py_function_traced_results_have_the_declared_or_the_input_rank():
    f = duet.function(lambda x: duet.py_function(lambda v: v.numpy()[:1] * 3.0, [x], duet.float32))
    np.testing.assert_allclose(f(duet.constant([1.0, 2.0])).numpy(), [3.0])  # rank 1, dims unknown
    g = duet.function(lambda x: duet.py_function(lambda v: np.sum(v.numpy()), [x], duet.float32, output_shapes=[]))
    assert float(g(duet.constant([1.0, 2.0]))) == 3.0
    h = duet.function(lambda x: duet.py_function(lambda v: np.sum(v.numpy()), [x], duet.float32))
    with pytest.raises(duet.errors.Error, match=r"shape \(\) but the graph was built for \(None,\).*output_shapes"):
        h(duet.constant([1.0, 2.0]))  # a scalar where rank 1 was assumed: output_shapes says otherwise


def test_print_eagerly_and_on_every_run_of_a_function(capsys):
    import sys

    duet.print("x", duet.constant([1, 2, 3]), {"a": duet.constant(0.5)}, output_stream=sys.stdout)
    duet.print(duet.range(10), duet.constant(1 / 3), output_stream=sys.stdout)

    @duet.function
    def f(x):
        duet.print("in f:", x * 2, output_stream=sys.stdout)
        return x + 1

    f(duet.constant([1.0, 2.0]))
    f(duet.constant([3.0, 4.0]))
    assert f.trace_count == 1
    assert capsys.readouterr().out.splitlines() == [
        "x [1 2 3] {'a': 0.5}", "[0 1 2 ... 7 8 9] 0.333333343", "in f: [2 4]", "in f: [6 8]"]
    with pytest.raises(duet.errors.InvalidArgumentError, match="output_stream"):
        duet.print(duet.constant(1), output_stream="stdout")
