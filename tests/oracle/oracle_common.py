"""What the TensorFlow and Keras oracles share: reading duet's JSON lines, comparing values with NaN, infinities
and signed zeros taken into account, and the tally printed at the end."""
import json
import math
import os
import re
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


class Difference:
    """A difference on purpose: the cases (names, or a function of the name) and dtypes it applies to, which
    elements it covers (covers(ctx, part, i)), duet's convention there (expected(ctx) -> {part: array}, computed
    independently of duet, or a list of such when the convention allows several results), and why. key names it
    in the README's table."""

    def __init__(self, key, cases, reason, covers, expected, dtypes=("float64", "float32")):
        self.key, self.reason, self.dtypes = key, reason, dtypes
        self.cases, self.covers, self.expected = cases, covers, expected
        self.seen = 0

    def applies(self, name, kind="float32"):
        if kind not in self.dtypes:
            return False
        return self.cases(name) if callable(self.cases) else name in self.cases


def judge(tally, cat, case, got, want, tol, candidates, ctx, label, who, problems=()):
    """Compares duet's parts (got: {part: array}) with the oracle's (want). An element outside tolerance passes
    only where a candidate difference covers it and duet matches that difference's convention. tol(part) gives
    (rtol, atol, zero_sign); label(part) names a part in messages."""
    problems, used, expected = list(problems), {}, {}
    missing = sorted(set(want) - set(got)) + sorted(set(got) - set(want))
    if missing:
        problems.append(f"parts only one side has: {missing}")
    for part in [p for p in got if p in want]:
        g, w = np.asarray(got[part]), np.asarray(want[part])
        if g.shape != w.shape:
            problems.append(f"{label(part)}: shape {list(g.shape)} vs {who} {list(w.shape)}")
            continue
        rtol, atol, zero_sign = tol(part)
        unexplained = []
        for i in mismatches(g, w, rtol, atol, zero_sign):
            why = None
            for d in candidates:
                if not d.covers(ctx, part, i):
                    continue
                if id(d) not in expected:
                    try:
                        e = d.expected(ctx)
                        expected[id(d)] = e if isinstance(e, list) else [e]
                    except LookupError as e:
                        expected[id(d)] = []
                        why = str(e)
                convs = [np.ravel(np.asarray(e[part], dtype=np.float64))[i] for e in expected[id(d)] if part in e]
                if any(not mismatches([g.ravel()[i]], [v], rtol, atol, zero_sign) for v in convs):
                    used.setdefault(d, []).append(f"{label(part)} {describe(g, w, [i], who)}")
                    break
                if convs:
                    why = f"the documented convention '{d.key}' says {' or '.join(fmt(v) for v in convs)}"
            else:
                unexplained.append((i, why))
        if unexplained:
            notes = sorted({n for _, n in unexplained if n})
            problems.append(f"{label(part)}: {describe(g, w, [i for i, _ in unexplained], who)}"
                            + (f" ({'; '.join(notes)})" if notes else ""))
    if problems:
        tally.failed(cat, case, "; ".join(problems))
    elif used:
        for d in used:
            d.seen += 1
        tally.documented(cat, case, used)
    else:
        tally.passed(cat)


def readme_keys(readme):
    """The first cells of the rows of README.md's table 'Where duet differs from TensorFlow'."""
    text = open(readme).read()
    m = re.search(r"^#+ Where duet differs from TensorFlow.*?$(.*?)(?=^#)", text, re.S | re.M)
    if not m:
        return None
    return [line.split("|")[1] for line in m.group(1).splitlines() if line.startswith("|") and "---" not in line]


def check_documentation(tally, readme, differences):
    """Each difference must still occur (else it is stale) and have its row in the README's table."""
    rows = readme_keys(readme)
    if rows is None:
        tally.error(f"{readme} has no section 'Where duet differs from TensorFlow'")
        return
    for d in differences:
        if not d.seen:
            tally.error(f"documented difference '{d.key}' ({d.reason}) no longer occurs: the oracle agrees; "
                        "remove it and its README row")
        if not any(f"`{d.key}`" in cell for cell in rows):
            tally.error(f"documented difference '{d.key}' is missing from the README's table "
                        f"'Where duet differs from TensorFlow' (a row whose first cell names `{d.key}`)")


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
