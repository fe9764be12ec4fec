"""Imported before jax by jax_peer.py and train_peer.py: JAX's thread count (see jax_peer.py's docstring).
XLA has no flag for its CPU thread pool; JAX 0.10 sizes it by the CPUs the process may run on, so the affinity is
narrowed to DUET_NUM_THREADS CPUs when more are available (on the 2-core bench machine it is left as is)."""
import os

from common import THREADS

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=true").strip()
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > THREADS:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:THREADS])
