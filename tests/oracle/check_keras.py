#!/usr/bin/env python3
"""The Keras oracle: reads layer_dump's JSON lines (layers, losses, metrics, optimizers, learning-rate schedules)
and compares each with Keras 3.15 on the TensorFlow backend, built with the same options and given the same
weights and inputs. Where duet differs on purpose, keras_differences.py states duet's convention, which is
checked instead; README.md's table "Where duet differs from TensorFlow" must name it.

usage: layer_dump | check_keras.py --headers include/duet --readme README.md
"""
import argparse
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import oracle_common as oc  # noqa: E402  (first: it selects the TensorFlow backend and quiets its logging)
import keras  # noqa: E402

import keras_differences  # noqa: E402
import keras_layers  # noqa: E402
import keras_training  # noqa: E402

CHECKS = {"layer": keras_layers.check_layer, "loss": keras_training.check_loss,
          "metric": keras_training.check_metric, "optimizer": keras_training.check_optimizer,
          "schedule": keras_training.check_schedule}

# What each header declares (the public factories), and the kind of case that must cover it.
DECLARATIONS = [("layers.h", r"^Ref<\w+Layer> (\w+)\(", "layer"), ("losses.h", r"^LossPtr (\w+)\(", "loss"),
                ("losses.h", r"^MetricPtr (\w+)\(", "metric"), ("optimizers.h", r"^OptimizerPtr (\w+)\(", "optimizer"),
                ("optimizers.h", r"^SchedulePtr (\w+)\(", "schedule")]


def coverage(headers, results, tally):
    seen = {(r["kind"], r["class"]) for r in results} | {(r["kind"], "get") for r in results if r.get("get")}
    seen |= {("metric", "Accuracy") for r in results if r["kind"] == "metric" and r.get("get") == "accuracy"}
    for header, pattern, kind in DECLARATIONS:
        for line in open(f"{headers}/{header}"):
            m = re.match(pattern, line.strip())
            if not m or m.group(1) in keras_layers.NOT_COMPARED:
                continue
            if (kind, m.group(1)) not in seen:
                tally.error(f"{header}: {m.group(1)} has no Keras oracle case (add one to layer_dump.cpp)")
    for name, why in keras_layers.NOT_COMPARED.items():
        tally.notes.append(f"not compared: {name}: {why}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--headers", required=True, help="include/duet: every layer, loss, ... must have a case")
    ap.add_argument("--readme", required=True, help="README.md: its table must list every documented difference")
    ap.add_argument("input", nargs="?", type=argparse.FileType("r"), default=sys.stdin)
    args = ap.parse_args()
    results = oc.read_lines(args.input)
    tally = oc.Tally(f"Keras {keras.__version__} oracle ({keras.backend.backend()} backend): {len(results)} cases "
                     "from layer_dump")
    for r in results:
        CHECKS[r["kind"]](r, tally, keras_differences)
    coverage(args.headers, results, tally)
    keras_differences.check_documentation(tally, args.readme)
    return tally.report()


if __name__ == "__main__":
    sys.exit(main())
