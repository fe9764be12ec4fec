"""What the TensorFlow and Keras oracles share: reading duet's JSON lines, comparing values with NaN, infinities
and signed zeros taken into account, and the tally printed at the end."""
import json
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter on stderr
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

NP_DTYPES = {"float64": np.float64, "float32": np.float32, "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def array(a):
    """A duet tensor from its JSON form ({"dtype", "shape", "values"}) as a numpy array of its dtype."""
    return np.array(a["values"], dtype=np.float64).reshape(a["shape"]).astype(NP_DTYPES[a["dtype"]])


def read_lines(stream):
    return [json.loads(line) for line in stream if line.strip()]


def mismatches(got, want, rtol, atol, zero_sign=False):
    """Indices of the elements of got (duet) outside tolerance of want (the oracle): NaN matches only NaN, an
    infinity only the same infinity; with zero_sign, a zero only the zero of the same sign."""
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    if got.shape != want.shape:
        raise ValueError(f"{got.size} elements vs {want.size}")
    bad = []
    for i, (g, w) in enumerate(zip(got.tolist(), want.tolist())):
        if math.isnan(g) or math.isnan(w):
            ok = math.isnan(g) and math.isnan(w)
        elif math.isinf(g) or math.isinf(w):
            ok = g == w
        elif zero_sign and g == 0 and w == 0:
            ok = math.copysign(1, g) == math.copysign(1, w)
        else:
            ok = abs(g - w) <= atol + rtol * abs(w)
        if not ok:
            bad.append(i)
    return bad


def fmt(v):
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    return repr(float(v))


def describe(got, want, bad, what="TF", limit=3):
    """The first few mismatching elements, 'element i: duet g, TF w'."""
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    parts = [f"element {i}: duet {fmt(got[i])}, {what} {fmt(want[i])}" for i in bad[:limit]]
    more = f" (+{len(bad) - limit} more)" if len(bad) > limit else ""
    return "; ".join(parts) + more


class Tally:
    """Counts per category: compared, passed, documented differences (duet's stated convention checked
    instead of TF's value), failures."""

    def __init__(self, title):
        self.title = title
        self.cats = {}
        self.failures = []
        self.differences = []  # (key, reason, case, examples)
        self.notes = []

    def cat(self, name):
        return self.cats.setdefault(name, {"compared": 0, "passed": 0, "documented": 0, "failed": 0})

    def passed(self, cat):
        self.cat(cat)["compared"] += 1
        self.cat(cat)["passed"] += 1

    def documented(self, cat, case, used):
        """A case that matches TensorFlow except where documented differences cover it: used maps each
        difference (with .key and .reason) to the elements it explained."""
        self.cat(cat)["compared"] += 1
        self.cat(cat)["documented"] += 1
        for d, examples in used.items():
            self.differences.append((d.key, d.reason, case, examples))

    def failed(self, cat, case, why):
        self.cat(cat)["compared"] += 1
        self.cat(cat)["failed"] += 1
        self.failures.append(f"[{cat}] {case}: {why}")

    def error(self, why):
        """A failure outside any one case (coverage, stale documentation)."""
        self.failures.append(why)

    def report(self, verbose=True):
        print(self.title)
        total = {"compared": 0, "passed": 0, "documented": 0, "failed": 0}
        for name, c in self.cats.items():
            print(f"  {name:<12} {c['compared']:5d} compared, {c['passed']:5d} passed, "
                  f"{c['documented']:4d} documented differences, {c['failed']:4d} failures")
            for k in total:
                total[k] += c[k]
        print(f"  {'total':<12} {total['compared']:5d} compared, {total['passed']:5d} passed, "
              f"{total['documented']:4d} documented differences, {len(self.failures):4d} failures")
        if verbose:
            groups = {}
            for key, reason, case, examples in self.differences:
                groups.setdefault((key, reason), []).append((case, examples))
            for (key, reason), cases in groups.items():
                case, examples = cases[0]
                print(f"  differs on purpose, {key}: {reason}. {len(cases)} cases, e.g. {case}: {examples[0]}"
                      + (f" (+{len(examples) - 1} more elements)" if len(examples) > 1 else ""))
            for n in self.notes:
                print(f"  note: {n}")
        for f in self.failures:
            print(f"  FAIL {f}")
        sys.stdout.flush()
        return 1 if self.failures else 0
