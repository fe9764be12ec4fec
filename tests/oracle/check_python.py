"""duet's Python package against TensorFlow 2.21 itself, from Python (make test-oracle):

1. every op duet has under a TensorFlow name takes TensorFlow's parameter names, in TensorFlow's order
   (extra duet parameters only after TensorFlow's; known differences listed with their reason);
2. small programs written against `tf.` run with `tf` bound to tensorflow and to duet: the same outcome
   (both succeed, or both raise) and, when they succeed, the same values, dtypes and shapes;
3. the seed articles' programs (tests/oracle/articles), run as printed with only the import line changed,
   and whole programs of our own (tests/oracle/programs), each in its own process: the same outcome and,
   where both succeed, the same printed output.

Usage: PYTHONPATH=build/python python check_python.py   (the peers' venv: it has TensorFlow)"""
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import duet  # noqa: E402
from duet import _ops  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

# duet parameters TensorFlow does not have, or has elsewhere in the order; each with why.
SIGNATURE_DIFFERENCES = {
    "eye": "no batch_shape yet (duet's eye makes one matrix)",
    "linalg.eye": "no batch_shape yet (duet's eye makes one matrix)",
    "fill": "duet's fill takes a dtype (TensorFlow's takes the value's); layout is TensorFlow's DTensor",
    "gather": "no validate_indices (deprecated in TensorFlow) or batch_dims yet",
    "linspace": "dtype instead of TensorFlow's axis (duet makes one vector)",
    "one_hot": "no axis yet (the new dim is last, TensorFlow's default)",
    "nn.dropout": "no noise_shape yet",
    "nn.elu": "alpha as Keras's ELU takes it (tf.nn.elu has alpha 1)",
}


def check_signatures():
    failures, checked = [], 0
    for module, fns in sorted(_ops.MODULES.items()):
        for name, fn in sorted(fns.items()):
            label = f"{module}.{name}" if module else name
            tf_module = tf
            for part in filter(None, module.split(".")):
                tf_module = getattr(tf_module, part, None)
            tf_fn = getattr(tf_module, name, None) if tf_module is not None else None
            if tf_fn is None or label in SIGNATURE_DIFFERENCES:
                continue  # a name TensorFlow has only elsewhere (tf.log is tf.math.log), or a known difference
            try:
                theirs = [p for p in inspect.signature(tf_fn).parameters if p != "name"]
            except (TypeError, ValueError):
                continue
            ours = [p for p in inspect.signature(fn).parameters if p != "name"]
            common = [p for p in ours if p in theirs]
            checked += 1
            if ours[: len(common)] != common or theirs[: len(common)] != common or len(common) < len(ours):
                failures.append(f"{label}: duet ({', '.join(ours)}) vs TensorFlow ({', '.join(theirs)})")
    return checked, failures


# Each program computes `result` (a structure of tensors and numbers) from `tf`, or raises.
PROGRAMS = {
    "elementwise and reductions": """
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        result = [tf.math.square(x) + tf.math.sin(x), tf.reduce_sum(x, axis=1, keepdims=True),
                  tf.reduce_mean(x), tf.math.log(x) - tf.exp(-x), x / 2, 1 - x, x ** 2]
    """,
    "weak typing of Python numbers": """
        result = [tf.constant(5, dtype=tf.int64) + 1, tf.constant(2.5) * 2, tf.constant([1, 2]) // 2]
    """,
    "division and rounding as Python's": """
        a = tf.constant([7, -7, 7, -7])
        b = tf.constant([2, 2, -2, -2])
        x = tf.constant([7.5, -7.5, 0.5, 1.5, 2.5])
        result = [a / b, a // b, a % b, tf.math.floordiv(a, 3), tf.math.floormod(x, 2.0), x // -2.0,
                  tf.math.round(x), tf.math.floor(x), tf.math.ceil(x), tf.truncatediv(a, b), 7 // b, -7 % b]
    """,
    "matmul, concat, reshape, transpose": """
        a = tf.reshape(tf.range(6, dtype=tf.float32), [2, 3])
        result = [tf.matmul(a, a, transpose_b=True), tf.concat([a, a], axis=0), tf.transpose(a),
                  a @ tf.ones([3, 1]), tf.stack([a, a], axis=1), tf.expand_dims(a, -1)]
    """,
    "indexing and slicing": """
        a = tf.reshape(tf.range(24), [2, 3, 4])
        result = [a[1], a[:, -1], a[..., ::-2], a[0, 1:, None], a[-1, ::2, 1:3]]
    """,
    "casts, argmax, one_hot, where": """
        x = tf.constant([[1.7, -1.7, 0.2]])
        result = [tf.cast(x, tf.int32), tf.argmax(x, axis=1), tf.one_hot([0, 2], 3),
                  tf.where(x > 0, x, tf.zeros_like(x)), tf.clip_by_value(x, -1.0, 1.0)]
    """,
    "cond with Python callables": """
        x = tf.constant(3.0)
        result = [tf.cond(tf.math.greater(x, 2.0), lambda: tf.math.log(x), lambda: tf.math.exp(x)),
                  tf.cond(x < 2.0, lambda: {"a": x}, lambda: {"a": -x})]
    """,
    "cond on a vector predicate fails": """
        result = tf.cond(tf.constant([1.0, 3.0]) > 2.0, lambda: 1.0, lambda: 2.0)
    """,
    "while_loop": """
        result = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), [tf.constant(0), tf.constant(0)])
    """,
    "GradientTape: variables, watch, persistent, second order": """
        v = tf.Variable([1.0, 2.0])
        x = tf.constant(3.0)
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = x ** 3
            dy = inner.gradient(y, x)
            loss = tf.reduce_sum(v * v) * x
        result = [dy, outer.gradient(dy, x), outer.gradient(loss, {"v": v, "x": x})]
    """,
    "tf.function: structures, retracing on Python values": """
        traces = []

        @tf.function
        def f(x, scale):
            traces.append(1)
            return {"y": x * scale, "pair": (x, x + 1.0)}

        a = f(tf.constant([1.0, 2.0]), 2.0)
        b = f(tf.constant([3.0, 4.0]), 2.0)
        c = f(tf.constant([3.0, 4.0]), 3.0)
        result = [a, b, c, len(traces)]
    """,
    "reading a symbolic value inside tf.function fails": """
        result = tf.function(lambda x: float(x) * 2.0)(tf.constant(1.0))
    """,
    "run_functions_eagerly": """
        tf.config.run_functions_eagerly(True)
        try:
            result = tf.function(lambda x: tf.constant(float(x.numpy()) * 2.0))(tf.constant(1.5))
        finally:
            tf.config.run_functions_eagerly(False)
    """,
    "py_function: NumPy inside, eager and traced": """
        import numpy as np
        double = lambda x: np.square(x.numpy())
        eager = tf.py_function(double, [tf.constant([1.0, 2.0])], tf.float32)
        traced = tf.function(lambda x: tf.py_function(double, [x], tf.float32) + 1.0)(tf.constant([3.0]))
        result = [eager, traced]
    """,
    "py_function result dtype differs from Tout": """
        result = tf.py_function(lambda x: x + 1, [tf.constant(5)], tf.int64)
    """,
    "shape errors": """
        result = tf.matmul(tf.ones([2, 3]), tf.ones([2, 3]))
    """,
    "reshape error": """
        result = tf.reshape(tf.ones([6]), [4, -1])
    """,
    "None where a tensor is required": """
        result = tf.add(None, 1)
    """,
    "NumPy in and out": """
        import numpy as np
        t = tf.constant(np.arange(6, dtype=np.int64).reshape(2, 3))
        result = [t, np.asarray(t) * 2, tf.convert_to_tensor(np.float32(2.5)), t.numpy().sum(), len(t),
                  [int(r[0]) for r in t]]
    """,
}


def to_numpy(value):
    if isinstance(value, (duet.Tensor, tf.Tensor)):
        return np.asarray(value.numpy())
    if isinstance(value, (duet.Variable, tf.Variable)):
        return np.asarray(value.numpy())
    return value


def flatten(value):
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in flatten(value[k])]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in flatten(v)]
    return [to_numpy(value)]


def run_program(source, module):
    scope = {"tf": module}
    try:
        exec(compile(textwrap.dedent(source), "<program>", "exec"), scope)  # noqa: S102 - our own programs
        return "ok", flatten(scope["result"])
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return "raised", f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"


def same_values(a, b):
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} results"
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape or x.dtype != y.dtype:
                return f"result {i}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}"
            if not np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
                return f"result {i}: {x.tolist()} vs {y.tolist()}"
        elif x != y:
            return f"result {i}: {x!r} vs {y!r}"
    return None


def check_programs():
    failures = []
    for name, source in PROGRAMS.items():
        (ours, a), (theirs, b) = run_program(source, duet), run_program(source, tf)
        if ours != theirs:
            failures.append(f"{name}: duet {ours} ({a if ours == 'raised' else 'values'}), "
                            f"TensorFlow {theirs} ({b if theirs == 'raised' else 'values'})")
        elif ours == "ok" and (diff := same_values(a, b)):
            failures.append(f"{name}: {diff}")
        else:
            print(f"  program {name}: both {ours}" + (f" (duet {a}; TensorFlow {b})" if ours == "raised" else ""))
    return failures


# Programs whose printed output depends on random numbers or timings: only their outcome is compared.
OUTCOME_ONLY = "# compare: outcome"


def run_article(path, as_duet):
    source = path.read_text()
    if as_duet:
        source = source.replace("import tensorflow as tf", "import duet as tf")
        source = source.replace("from tensorflow import keras", "from duet import keras")
    r = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    last = (r.stderr.strip().splitlines() or [""])[-1]
    return r.returncode == 0, r.stdout, last


def check_articles():
    failures = []
    for path in sorted((HERE / "articles").glob("*.py")) + sorted((HERE / "programs").glob("*.py")):
        ok_d, out_d, err_d = run_article(path, True)
        ok_t, out_t, err_t = run_article(path, False)
        if ok_d != ok_t:
            failures.append(f"program {path.name}: duet {'ran' if ok_d else 'raised ' + err_d}, "
                            f"TensorFlow {'ran' if ok_t else 'raised ' + err_t}")
        elif ok_d and OUTCOME_ONLY not in path.read_text() and out_d != out_t.replace("tf.Tensor(", "Tensor("):
            failures.append(f"program {path.name}: printed\n{out_d}\nwhere TensorFlow printed\n{out_t}")
        else:
            print(f"  program {path.name}: both {'ran' if ok_d else 'raised'}"
                  + ("" if ok_d else f"\n    duet:       {err_d}\n    TensorFlow: {err_t}"))
    return failures


def main():
    checked, failures = check_signatures()
    print(f"signatures: {checked} ops under TensorFlow's names, {len(failures)} differ "
          f"({len(SIGNATURE_DIFFERENCES)} known differences listed)")
    failures += check_programs()
    failures += check_articles()
    for f in failures:
        print("FAIL", f)
    print(f"check_python: {'FAILED' if failures else 'passed'} ({len(PROGRAMS)} programs, "
          f"{len(list((HERE / 'articles').glob('*.py')))} article programs, "
          f"{len(list((HERE / 'programs').glob('*.py')))} whole programs)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
