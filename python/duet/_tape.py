"""duet.GradientTape: records the ops run inside its `with` block on this thread, then gives gradients of a
target with respect to tensors and variables, for any nested structure of sources (as TensorFlow's)."""
import contextlib
import enum

from . import _duet
from . import _nest


class UnconnectedGradients(enum.Enum):
    NONE = "none"
    ZERO = "zero"


class GradientTape:
    """Records operations for automatic differentiation (tf.GradientTape)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._tape = _duet._Tape(persistent, watch_accessed_variables)
        self._persistent = persistent

    def __enter__(self):
        self._tape.enter()
        return self

    def __exit__(self, *exc):
        self._tape.exit()
        return False

    def watch(self, tensor):
        """Records ops on these tensors (or variables) too; any nested structure."""
        for t in _nest.flatten(tensor):
            if not isinstance(t, (_duet.Tensor, _duet.Variable)):
                raise ValueError(f"GradientTape.watch takes tensors or variables, got {type(t).__name__}")
            self._tape.watch(t)

    def watched_variables(self):
        return tuple(self._tape.watched_variables())

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops in this block are not recorded."""
        pause = self._tape.stop_recording()
        try:
            yield
        finally:
            del pause

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
        """d target / d source for every source of the structure `sources` (None where a source does not
        reach the target, unless unconnected_gradients is ZERO). A structure of targets is summed."""
        targets = [t for t in _nest.flatten(target) if t is not None]
        if not targets:
            raise ValueError("GradientTape.gradient needs a target tensor")
        from ._ops import FUNCTIONS

        total = targets[0]
        if len(targets) > 1:
            total = FUNCTIONS["reduce_sum"](targets[0])
            for t in targets[1:]:
                total = total + FUNCTIONS["reduce_sum"](t)
        flat = _nest.flatten(sources)
        zero = UnconnectedGradients(unconnected_gradients) == UnconnectedGradients.ZERO
        grads = self._tape.gradient(total, flat, output_gradients, zero)
        return _nest.pack_sequence_as(sources, grads)
