#!/usr/bin/env python3
"""The TensorFlow oracle: reads duet's results (oracle_dump's JSON lines), computes every case with TensorFlow
2.21 in the case's dtype (tf.GradientTape for the gradient of sum(output * cotangent)) and compares outputs and
gradients. Where duet differs from TensorFlow on purpose, tf_differences.py says how and why; the checker then
checks duet against its stated convention (and fails when TensorFlow no longer differs), and README.md's table
"Where duet differs from TensorFlow" must name the case.

usage: oracle_dump | check_tensorflow.py --headers include/duet --readme README.md
"""
import argparse
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import numpy as np  # noqa: E402
import oracle_common as oc  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
import tensorflow as tf  # noqa: E402

import tf_differences  # noqa: E402
import tf_ops  # noqa: E402

# How far duet may be from TensorFlow (relative, absolute).
# float64: duet's libm and vectorized routines against TensorFlow's Eigen, sums (matmul, convolution,
# reductions) added in another order: the largest difference seen is 4e-14 relative (a 3x3x3 convolution's
# gradient), so 1e-12 leaves a factor of 25 and still catches an error in the 12th digit.
# float32: both sides compute in float32. duet's own exp/tanh/sigmoid are within 2/6/4 ulps, Eigen's within a
# few; composites (gelu, softplus, batch norm) round a few times more: 2e-6 relative is ~17 ulps at 1 (the
# largest seen: 1.2e-6, batch norm). Sums of up to 27 products of unit normals (3x3x3 convolutions) lose
# about 27 * 6e-8 * |terms| absolutely (the largest seen: 4e-6): 1e-5 absolute, where a wrong element is off
# by O(1). Gradients chain a few more roundings (tanh's 1 - y^2 near |y| = 1 loses digits): 1e-5 relative.
TOL = {"float64": (1e-12, 1e-13), "float32": (2e-6, 1e-5)}
GRAD_TOL = {"float64": (1e-12, 1e-13), "float32": (1e-5, 1e-5)}


def category(r):
    if "/edges" in r["case"]:
        return "edge cases"
    return "ops f64" if r["float"] == "float64" else "ops f32"


def tf_tensor(a):
    return tf.constant(oc.array(a))


def run_tf(r, upcast=False):
    """TensorFlow's output and gradients for a case (or the error it raises); upcast: computed in float64."""
    fn = tf_ops.lookup(r["case"])
    # (upcast in NumPy: TensorFlow's own Cast would flush float32's denormals on the way)
    ins = [tf.constant(oc.array(a).astype(np.float64) if upcast and a["dtype"] == "float32" else oc.array(a))
           for a in r["inputs"]]
    idx = [int(k) for k in r.get("grads", {})]
    try:
        with tf.GradientTape(persistent=True) as tape:
            for k in idx:
                tape.watch(ins[k])
            out = fn(*ins)
            if idx:
                ct = tf.cast(tf_tensor(r["cotangent"]), out.dtype)
                target = tf.reduce_sum(out * ct)
        parts = {"output": out.numpy()}
        for k in idx:
            g = tape.gradient(target, ins[k], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            parts[str(k)] = tf.convert_to_tensor(g).numpy()
        return parts, None
    except (tf.errors.InvalidArgumentError, ValueError) as e:
        return {}, str(e).split("\n")[0]


def check_case(r, tally):
    name, cat, kind = r["case"], category(r), r["float"]
    case = f"{name} ({kind})"
    if tf_ops.lookup(name) is None:
        tally.failed(cat, case, "no TensorFlow expression in tf_ops.py")
        return
    tf_parts, tf_error = run_tf(r)
    if "error" in r or tf_error:
        if "error" in r and tf_error:
            tally.passed(cat)  # both refuse (check_numerics on a NaN)
        else:
            tally.failed(cat, case, f"duet: {r.get('error', 'no error')}; TF: {tf_error or 'no error'}")
        return
    duet = {"output": oc.array(r["output"])}
    problems = []
    for k, g in r.get("grads", {}).items():
        if "error" in g:
            problems.append(f"gradient of input {k}: duet threw {g['error']}")
        else:
            duet[k] = oc.array(g)

    def tol(part):
        # A wrong sign of zero counts in outputs (sqrt(-0) is -0); in gradients it carries no meaning.
        return (*(TOL if part == "output" else GRAD_TOL)[kind], part == "output")

    ctx = tf_differences.Ctx(r, tf_parts, lambda: run_tf(r, upcast=True)[0])
    oc.judge(tally, cat, case, duet, tf_parts, tol, tf_differences.candidates(name, kind), ctx,
             lambda part: "output" if part == "output" else f"gradient of input {part}", "TF", problems)


def public_ops(headers):
    names = set()
    for h in ("ops.h", "nn.h", "linalg.h", "gradient_ops.h", "random.h"):
        for line in open(f"{headers}/{h}"):
            m = re.match(r"^(?:\[\[nodiscard\]\] )?(?:Tensor|std::vector<Tensor>) (\w+)\(", line)
            if m:
                names.add(m.group(1))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headers", required=True, help="include/duet: every public op must have a case")
    ap.add_argument("--readme", required=True, help="README.md: its table must list every documented difference")
    ap.add_argument("input", nargs="?", type=argparse.FileType("r"), default=sys.stdin)
    args = ap.parse_args()
    results = oc.read_lines(args.input)
    tally = oc.Tally(f"TensorFlow {tf.__version__} oracle: {len(results)} cases from oracle_dump")
    seen = set()
    for r in results:
        seen.add(r["case"])
        check_case(r, tally)
    # Coverage: every public op has a case, is checked through one, or says why not.
    for op in sorted(public_ops(args.headers)):
        if op in tf_ops.NOT_ORACLE:
            continue
        via = tf_ops.COVERED_BY.get(op, op)
        if not any(s == via or s.startswith(via + "/") for s in seen):
            tally.error(f"public op {op}: no oracle case (add one to oracle_dump.cpp and tf_ops.py)")
    for op, why in tf_ops.NOT_ORACLE.items():
        tally.notes.append(f"not compared: {op}: {why}")
    tf_differences.check_documentation(tally, args.readme)
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())
