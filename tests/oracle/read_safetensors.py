#!/usr/bin/env python3
"""Reads duet's safetensors files with Python's json and numpy only (an independent reader), checks the
format (8-byte little-endian header length, JSON header, contiguous little-endian data) and the values:
a trained duet model's weights, run forward in numpy, must give duet's predictions."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "BOOL": "|b1"}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    out, end = {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, stop = e["data_offsets"]
        assert b == end, f"{path}: {name} starts at {b}, expected {end} (contiguous data)"
        end = stop
        arr = np.frombuffer(data[b:stop], dtype=DTYPES[e["dtype"]])
        out[name] = arr.reshape(e["shape"])
    assert end == len(data), f"{path}: data section {len(data)} bytes, tensors cover {end}"
    return out, meta, n


def main(d):
    failures = []
    w, meta, n = read(f"{d}/model.safetensors")
    if n % 8 != 0:
        failures.append(f"header length {n} is not a multiple of 8")
    if meta.get("format") != "duet.weights" or meta.get("format_version") != "1":
        failures.append(f"metadata {meta}")
    names = list(w)
    kernels = [k for k in names if k.endswith("/kernel")]
    biases = [k for k in names if k.endswith("/bias")]
    if len(kernels) != 2 or len(biases) != 2:
        failures.append(f"expected two dense layers, got {names}")
    io, _, _ = read(f"{d}/io.safetensors")
    h = np.maximum(io["x"].astype(np.float64) @ w[kernels[0]] + w[biases[0]], 0)
    y = h @ w[kernels[1]] + w[biases[1]]
    err = np.max(np.abs(y - io["prediction"]))
    if not err < 1e-5:
        failures.append(f"numpy forward pass differs from duet's predictions by {err}")

    t, meta, _ = read(f"{d}/dtypes.safetensors")
    want = {
        "f32_2x3": np.array([[0, 0.25, 0.5], [0.75, 1, -1.25]], dtype=np.float32),
        "f64_4": np.array([0.0, -1.5, 1e-300, 3.0]),
        "i32_3x1": np.array([[0], [-7], [2147483647]], dtype=np.int32),
        "i64_2": np.array([1 << 40, -(1 << 63)], dtype=np.int64),
        "bool_5": np.array([True, False, False, True, False]),
        "f32_scalar": np.array(3.5, dtype=np.float32),
        "f32_0x2": np.zeros((0, 2), dtype=np.float32),
    }
    for k, v in want.items():
        got = t.get(k)
        if got is None or got.dtype != v.dtype or got.shape != v.shape or not np.array_equal(got, v):
            failures.append(f"{k}: got {got!r}, want {v!r}")
    if meta != {"purpose": "dtype check"}:
        failures.append(f"dtype file metadata {meta}")
    for f in failures:
        print("FAIL:", f)
    print(f"read_safetensors: {len(w) + len(io) + len(t)} tensors in 3 files, max prediction error {err:.2e}, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
