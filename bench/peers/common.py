"""Shared timing helpers for the PyTorch peer scripts (median of repeated timed batches)."""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # its BLAS threads would fight torch's own pool
import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("DUET_NUM_THREADS", "2")))


def median_seconds(fn, min_time=0.3, repetitions=5):
    """Median over `repetitions` of the mean time of fn() in a batch lasting at least min_time."""
    fn()
    fn()
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < min_time / 3:
        fn()
        calls += 1
    per_batch = max(1, int(calls * 3))
    samples = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - t0) / per_batch)
    return statistics.median(samples)


def emit(results):
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}, sys.stdout, indent=1)
    sys.stdout.write("\n")
