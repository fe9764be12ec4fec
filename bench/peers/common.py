"""Shared by the peer scripts (torch_peer.py, tf_peer.py, jax_peer.py, train_peer.py): thread count and quiet
logs (set before any framework is imported), the timing helper, the command line and the JSON output.
Imports no framework."""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np

THREADS = int(os.environ.get("DUET_NUM_THREADS", "2"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)  # PyTorch's and inductor's OpenMP pool
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS threads would fight the frameworks' pools
# TensorFlow's C++ info and warning logs off (only its oneDNN notice, printed before that setting is read, still
# reaches stderr); stdout carries nothing but the JSON.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORKLOADS = ["eager_add_1", "add_1M", "tanh_1M", "exp_1M", "matmul/64", "matmul/256", "matmul/1024", "matmul/2048",
             "conv1_fwd_bwd", "conv2_fwd_bwd", "conv2_fwd", "max_pool", "lstm", "elementwise10", "matmul100"]
N1M = 1 << 20
LSTM_B, LSTM_H, LSTM_T = 32, 128, 50  # bench_graph.cpp's Lstm: batch 32, hidden 128, 50 steps


def median_seconds(fn, min_time=0.3, repetitions=5):
    """Median over `repetitions` of the mean time of fn() in a batch lasting at least min_time (after 2 warm-up calls:
    a compiling mode compiles in the first one, which is not timed)."""
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


def parse_args(doc):
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--only", help="comma-separated workloads (default: all): " + ",".join(WORKLOADS))
    ap.add_argument("--quick", action="store_true", help="short batches and 2 repetitions, for testing the script")
    args = ap.parse_args()
    args.workloads = args.only.split(",") if args.only else WORKLOADS
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; valid: {','.join(WORKLOADS)}")
    return args


def error_text(e):
    first = (str(e).strip().splitlines() or [""])[0]
    return f"error: {type(e).__name__}: {first}"[:300]


def run(peer, workloads, args, notes=None):
    """workloads: {workload: {mode: make}}, where make() builds (and may compile) the workload and returns the
    callable to time (which waits for its results), or a (callable, note) pair. A failure in make() or in a call is
    recorded as the mode's result "error: ..."; the JSON document goes to stdout."""
    timing = dict(min_time=0.05, repetitions=2) if args.quick else {}
    results, notes = {}, dict(notes or {})
    for w in args.workloads:
        for mode, make in workloads[w].items():
            print(f"[{peer}] {w} {mode}", file=sys.stderr, flush=True)
            try:
                fn = make()
                if isinstance(fn, tuple):
                    fn, notes[f"{w}/{mode}"] = fn
                results.setdefault(w, {})[mode] = median_seconds(fn, **timing)
            except Exception as e:  # noqa: BLE001  (a mode that fails is reported, the others still run)
                results.setdefault(w, {})[mode] = error_text(e)
    doc = {"peer": peer, "threads": THREADS, "results": results}
    if notes:
        doc["notes"] = notes
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


def normal(shape, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def uniform(shape, lo=0.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path, scale=None):
    """An IDX (gz) file as a numpy array, decoded chunk by chunk straight into float32 / scale when scale is given
    (as duet's reader does: no full-size uint8 or float64 copy on the way), else as uint8."""
    with gzip.open(path, "rb") as f:
        head = f.read(4)
        dims = [int.from_bytes(f.read(4), "big") for _ in range(head[3])]
        out = np.empty(dims, np.float32 if scale else np.uint8)
        flat = out.reshape(-1)
        for i in range(0, flat.size, 1 << 20):
            chunk = np.frombuffer(f.read(min(1 << 20, flat.size - i)), np.uint8)
            flat[i:i + chunk.size] = chunk
    if scale:
        out /= scale
    return out


def fashion_mnist(batch, steps):
    """The first min(batch * steps, 60000) training images (N, 28, 28, float32 in [0, 1]) and labels (uint8): the
    whole set is loaded, then sliced (a copy, so the full set is freed) unless every image is used, as duet does."""
    x = read_idx(f"{FASHION_MNIST}/train-images-idx3-ubyte.gz", 255.0)
    y = read_idx(f"{FASHION_MNIST}/train-labels-idx1-ubyte.gz")
    n = min(batch * steps, x.shape[0])
    if n < x.shape[0]:
        x, y = x[:n].copy(), y[:n].copy()
    return x, y
