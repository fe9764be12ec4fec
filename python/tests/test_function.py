"""duet.function as tf.function: one trace per signature (Python side effects once per trace), retraces on
new Python values, nested structures in and out, gradients inside, symbolic value reads refused with
TensorFlow's error, run_functions_eagerly, and calls from many threads (the GIL never deadlocks a trace)."""
import threading

import numpy as np
import pytest

import duet


def test_traces_once_per_signature_and_side_effects_run_per_trace():
    traced = []

    @duet.function
    def f(x):
        traced.append(1)
        return x * x + 1.0

    np.testing.assert_allclose(f(duet.constant([1.0, 2.0])).numpy(), [2.0, 5.0])
    f(duet.constant([3.0, 4.0]))
    assert len(traced) == 1 and f.trace_count == 1
    f(duet.constant([1.0, 2.0, 3.0]))  # a new shape retraces
    assert len(traced) == 2
    assert any("dim 0" in r for r in f.retrace_reasons())


def test_python_values_are_part_of_the_key_and_structures_pass_through():
    @duet.function
    def g(inputs, scale, flags=None):
        return {"sum": inputs["a"] * scale + inputs["b"], "pair": (inputs["a"], scale)}

    out = g({"a": duet.constant(2.0), "b": duet.constant(1.0)}, 3.0)
    assert float(out["sum"]) == 7.0 and float(out["pair"][0]) == 2.0
    g({"a": duet.constant(5.0), "b": duet.constant(1.0)}, 3.0)
    assert g.trace_count == 1
    g({"a": duet.constant(5.0), "b": duet.constant(1.0)}, 4.0)  # a new Python value retraces
    assert g.trace_count == 2


def test_input_signature_and_reduce_retracing():
    f = duet.function(lambda x: duet.reduce_sum(x, axis=1),
                      input_signature=[duet.TensorSpec([None, 2], duet.float32)])
    for n in (1, 3, 5):
        assert f(duet.ones([n, 2])).shape == (n,)
    assert f.trace_count == 1
    h = duet.function(lambda x: x + 1.0, reduce_retracing=True)
    for n in (1, 2, 3, 4):
        h(duet.ones([n]))
    assert h.trace_count <= 2


def test_gradients_and_variables_inside_a_function():
    w = duet.Variable([1.0, -1.0])

    @duet.function
    def step(x):
        with duet.GradientTape() as tape:
            loss = duet.reduce_sum(w * x)
        g = tape.gradient(loss, w)
        w.assign_sub(0.5 * g)
        return loss

    x = duet.constant([2.0, 4.0])
    assert float(step(x)) == -2.0
    np.testing.assert_allclose(w.numpy(), [0.0, -3.0])
    step(x)
    np.testing.assert_allclose(w.numpy(), [-1.0, -5.0])
    assert step.trace_count == 1


def test_reading_a_symbolic_value_is_tensorflows_error():
    @duet.function
    def f(x):
        if x > 0:  # a Python if on a symbolic tensor
            return x
        return -x

    with pytest.raises(duet.errors.OperatorNotAllowedInGraphError) as e:
        f(duet.constant(1.0))
    assert isinstance(e.value, TypeError) and "cond" in str(e.value)


def test_run_functions_eagerly_runs_the_python_body_every_call():
    calls = []

    @duet.function
    def f(x):
        calls.append(float(x))  # a value read: fine eagerly
        return x

    duet.config.run_functions_eagerly(True)
    try:
        f(duet.constant(1.0))
        f(duet.constant(2.0))
    finally:
        duet.config.run_functions_eagerly(False)
    assert calls == [1.0, 2.0]


def test_many_threads_call_one_function_while_it_traces():
    @duet.function
    def f(x):
        return duet.reduce_sum(x * 2.0)

    errors, results = [], []

    def worker(n):
        try:
            for _ in range(20):
                results.append(float(f(duet.ones([n]))) == 2.0 * n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(1 + i % 3,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock between the GIL and a trace)"
    assert not errors and all(results) and len(results) == 120


def test_none_and_python_numbers_in_results_keep_their_place():
    f = duet.function(lambda x: {"a": x * 2.0, "b": [x, None], "c": 3.0})
    out = f(duet.constant(1.0))
    assert out["b"][1] is None and float(out["a"]) == 2.0 and float(out["b"][0]) == 1.0
    assert isinstance(out["c"], duet.Tensor) and float(out["c"]) == 3.0
    assert f(duet.constant(2.0))["b"][1] is None and f.trace_count == 1


def test_shape_reads_unknown_dims_when_the_graph_runs():
    spec = [duet.TensorSpec([None, 2, 2], duet.float32)]
    g = duet.function(lambda x: duet.reshape(x, [-1, 4]) * duet.cast(duet.shape(x)[0], duet.float32),
                      input_signature=spec)
    assert g(duet.ones([3, 2, 2])).numpy().tolist() == [[3.0] * 4] * 3
    assert g(duet.ones([5, 2, 2])).numpy()[0].tolist() == [5.0] * 4 and g.trace_count == 1
    assert duet.shape(duet.ones([2, 3])).numpy().tolist() == [2, 3] and duet.shape(duet.constant(1.0)).shape == (0,)
    # A shape argument computed while tracing has no value yet: the error says what to write instead.
    f = duet.function(lambda x: duet.reshape(x, [duet.shape(x)[0], -1]), input_signature=spec)
    with pytest.raises(duet.errors.InvalidArgumentError, match=r"\[reshape\] argument 'shape', element 0.*use -1"):
        f(duet.ones([3, 2, 2]))
