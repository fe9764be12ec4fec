"""Nested structures (lists, tuples, namedtuples, dicts, None) as TensorFlow's tf.nest sees them: flatten to
leaves in a fixed order (dict keys sorted), and pack leaves back into the same structure."""


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def _children(x):
    if isinstance(x, dict):
        return [x[k] for k in sorted(x)]
    return list(x)


def flatten(structure):
    """The leaves of a structure, depth first (None is a leaf)."""
    if not is_nested(structure):
        return [structure]
    out = []
    for c in _children(structure):
        out.extend(flatten(c))
    return out


def pack_sequence_as(structure, flat):
    """`flat`'s leaves in `structure`'s shape."""
    it = iter(flat)

    def build(s):
        if not is_nested(s):
            return next(it)
        if isinstance(s, dict):
            return type(s)((k, build(s[k])) for k in sorted(s))
        items = [build(c) for c in s]
        if _is_namedtuple(s):
            return type(s)(*items)
        return type(s)(items)

    result = build(structure)
    rest = list(it)
    if rest:
        raise ValueError(f"pack_sequence_as: {len(rest)} leaves more than the structure holds")
    return result


def map_structure(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])
