"""Python threads and the engine: kernels run without the GIL, traces take it only for the Python body, and
the engine's trace lock never waits on a thread that holds the GIL (no deadlock, right results)."""
import threading

import numpy as np

import duet


def run_threads(n, target):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread did not finish in 120 s (deadlock between the GIL and a trace?)"
    assert not errors, errors


def test_functions_traced_and_called_from_many_threads_at_once():
    shared = duet.function(lambda x, k: duet.reduce_sum(x * k) + duet.py_function(
        lambda v: v.numpy() * 0.0, [duet.reduce_sum(x)], duet.float32, output_shapes=[]))
    results = {}

    def work(i):
        own = duet.function(lambda x: duet.matmul(x, x) + float(i))  # each thread traces its own function
        x = duet.constant(np.full((8, 8), 0.5, np.float32))
        for step in range(20):
            a = float(shared(x, float(i % 3)))  # three Python values: three traces shared by the threads
            b = own(x).numpy()[0, 0]
            c = float(duet.reduce_sum(duet.ones([100]) * 2.0))  # eager, between other threads' traces
            results[(i, step)] = (a, b, c)

    run_threads(6, work)
    for (i, _), (a, b, c) in results.items():
        assert a == 32.0 * (i % 3) and b == 2.0 + i and c == 200.0
    assert shared.trace_count == 3


def test_tapes_in_many_threads():
    w = duet.Variable(np.arange(4, dtype=np.float32))
    grads = {}

    def work(i):
        for _ in range(20):
            with duet.GradientTape() as tape:
                loss = duet.reduce_sum(w * w * float(i + 1))
            grads[i] = tape.gradient(loss, w).numpy().copy()

    run_threads(4, work)
    for i, g in grads.items():
        np.testing.assert_allclose(g, 2.0 * (i + 1) * np.arange(4))
