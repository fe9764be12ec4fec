"""TensorShape: a tensor's shape as a tuple of ints, None for a dim unknown while tracing."""


class TensorShape(tuple):
    """A tuple of dims (int, or None when unknown) with TensorFlow's TensorShape methods."""

    def __new__(cls, dims=()):
        if dims is None:
            raise ValueError("duet shapes always have a known rank")
        return super().__new__(cls, tuple(None if d is None else int(d) for d in dims))

    @property
    def rank(self):
        return len(self)

    @property
    def ndims(self):
        return len(self)

    @property
    def dims(self):
        return list(self)

    def as_list(self):
        return list(self)

    def is_fully_defined(self):
        return all(d is not None for d in self)

    def is_compatible_with(self, other):
        other = TensorShape(other)
        return len(self) == len(other) and all(a is None or b is None or a == b for a, b in zip(self, other))

    def num_elements(self):
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key):
        r = super().__getitem__(key)
        return TensorShape(r) if isinstance(key, slice) else r

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):
        inner = ", ".join("None" if d is None else str(d) for d in self)
        return f"({inner},)" if len(self) == 1 else f"({inner})"
