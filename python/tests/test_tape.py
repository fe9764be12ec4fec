"""duet.GradientTape as TensorFlow's: a with block, watch, persistent tapes, nested structures, higher
orders, variables watched when read."""
import numpy as np
import pytest

import duet


def test_gradient_of_a_watched_tensor():
    x = duet.constant(3.0)
    with duet.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 6.0
    with pytest.raises(duet.errors.FailedPreconditionError):
        tape.gradient(y, x)  # not persistent


def test_variables_are_watched_when_read_and_structures_come_back():
    w = duet.Variable([[1.0, 2.0]], name="w")
    b = duet.Variable(0.5, name="b")
    x = duet.constant([[1.0], [2.0]])
    with duet.GradientTape(persistent=True) as tape:
        loss = duet.reduce_sum(x @ w + b)
    g = tape.gradient(loss, {"w": w, "b": b, "other": [x]})
    np.testing.assert_allclose(g["w"].numpy(), [[3.0, 3.0]])
    assert float(g["b"]) == 4.0
    assert g["other"] == [None]  # not watched, so not connected
    zeros = tape.gradient(loss, [x], unconnected_gradients=duet.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(zeros[0].numpy(), [[0.0], [0.0]])
    assert {v.name for v in tape.watched_variables()} == {"w", "b"}


def test_second_order_with_nested_tapes():
    x = duet.constant(2.0)
    with duet.GradientTape() as outer:
        outer.watch(x)
        with duet.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 12.0
    assert float(outer.gradient(dy, x)) == 12.0


def test_stop_recording_and_output_gradients():
    x = duet.constant([1.0, 2.0])
    with duet.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        with tape.stop_recording():
            z = y * 100.0  # not recorded
        total = y + duet.stop_gradient(z)
    np.testing.assert_allclose(tape.gradient(total, x, output_gradients=duet.constant([1.0, 3.0])).numpy(), [2.0, 6.0])


def test_training_loop_updates_a_variable():
    w = duet.Variable(0.0)
    for _ in range(50):
        with duet.GradientTape() as tape:
            loss = (w - 3.0) * (w - 3.0)
        w.assign_sub(0.1 * tape.gradient(loss, w))
    assert abs(float(w) - 3.0) < 1e-3
