"""Where duet's layers, losses, metrics and optimizers differ from Keras 3 on purpose (see tf_differences.py for
how a difference is stated and checked)."""
import numpy as np  # noqa: F401

import oracle_common as oc

DIFFERENCES = []


def candidates(name):
    return [d for d in DIFFERENCES if d.applies(name)]


def check_documentation(tally, readme):
    oc.check_documentation(tally, readme, DIFFERENCES)
