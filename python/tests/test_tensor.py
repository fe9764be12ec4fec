"""duet.Tensor from Python: NumPy both ways, TensorFlow's dtype rules, the Python protocol, indexing."""
import gc
import weakref

import numpy as np
import pytest

import duet


def test_constants_take_tensorflows_dtypes():
    assert duet.constant(1.5).dtype == duet.float32  # Python floats: float32
    assert duet.constant([1, 2]).dtype == duet.int32  # Python ints: int32
    assert duet.constant(2**40).dtype == duet.int64  # unless they do not fit
    assert duet.constant([True, False]).dtype == duet.bool
    assert duet.constant(np.zeros(3)).dtype == duet.float64  # NumPy arrays keep theirs
    assert duet.constant(np.zeros(3, np.uint8)).dtype == duet.int32  # small ints widen
    assert duet.constant(np.zeros(3, np.float16)).dtype == duet.float32
    assert duet.constant([1, 2], dtype=duet.float64).dtype == duet.float64
    assert duet.constant(3, dtype="float32").dtype == duet.float32
    with pytest.raises(TypeError):
        duet.constant(3.7, dtype=duet.int32)  # as TensorFlow: no silent truncation
    with pytest.raises(ValueError):
        duet.constant([[1, 2], [3]])  # ragged


def test_numpy_is_a_read_only_view_and_arrays_copy_in():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = duet.constant(a)
    a[0, 0] = 100.0  # the tensor holds a copy (as tf.constant)
    v = t.numpy()
    assert v[0, 0] == 0.0 and v.shape == (2, 3) and v.dtype == np.float32
    assert not v.flags.writeable
    assert np.shares_memory(v, t.numpy())  # no copy on the way out
    np.testing.assert_array_equal(np.asarray(t), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array(t).flags.writeable  # np.array copies
    assert isinstance(duet.constant(2.5).numpy(), np.float32)  # a scalar comes back as a NumPy scalar
    np.testing.assert_array_equal(np.from_dlpack(t), t.numpy())


def test_arrays_nobody_else_can_change_are_shared_not_copied():
    ro = np.arange(6, dtype=np.float32)
    ro.setflags(write=False)
    t = duet.constant(ro)  # read-only: shared
    assert np.shares_memory(t.numpy(), ro)
    assert np.shares_memory(duet.constant(t.numpy()).numpy(), ro)  # numpy() and back: the same memory
    kept = np.arange(6, dtype=np.float32)
    kept.setflags(write=False)
    alive = weakref.ref(kept)
    u = duet.reshape(duet.constant(kept), [2, 3])  # the array lives while any tensor over it does
    del kept
    gc.collect()
    assert alive() is not None and u.numpy().sum() == 15
    del u
    gc.collect()
    assert alive() is None
    v = duet.Variable(duet.constant(ro))
    v.assign_add(np.ones(6, np.float32))  # never written through
    np.testing.assert_array_equal(ro, np.arange(6))
    np.testing.assert_array_equal(v.numpy(), np.arange(1, 7))
    # A writeable array is copied (tf.constant's semantics); converted values become the tensor's own memory.
    w = np.zeros(3, np.float32)
    assert not np.shares_memory(duet.constant(w).numpy(), w)
    assert duet.constant(np.arange(3.0), dtype=duet.float32).numpy().tolist() == [0, 1, 2]


def test_dlpack_in_shares_the_producers_memory():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = duet.from_dlpack(a)
    a[0, 0] = 42  # DLPack shares: the producer's writes show
    assert t.numpy()[0, 0] == 42 and t.shape == (2, 3) and t.dtype == duet.int64
    assert duet.experimental.dlpack.from_dlpack(a.__dlpack__()).numpy()[0, 0] == 42  # a capsule
    np.testing.assert_array_equal(duet.from_dlpack(duet.experimental.dlpack.to_dlpack(t)).numpy(), a)
    with pytest.raises(TypeError, match="astype"):
        duet.from_dlpack(np.zeros(3, np.int8))  # no int8 in duet: say how to convert


def test_shape_dtype_and_repr():
    t = duet.constant([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.shape.as_list() == [2, 2] and t.ndim == 2
    assert isinstance(t.shape, duet.TensorShape)
    assert repr(t.dtype) == "duet.float32" and t.dtype == np.float32 and t.dtype == "float32"
    assert "shape=(2, 2), dtype=float32" in repr(t)
    # TensorFlow's forms: repr <... numpy=...>, str with the values first.
    assert repr(duet.constant([1.0, 2.0])) == \
        "<duet.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert repr(duet.constant(3)) == "<duet.Tensor: shape=(), dtype=int32, numpy=3>"
    assert str(duet.constant([1.0, 2.0])) == "Tensor([1. 2.], shape=(2,), dtype=float32)"


def test_python_protocol():
    t = duet.constant([3.0, 4.0])
    assert len(t) == 2
    assert [float(x) for x in t] == [3.0, 4.0]
    assert float(duet.constant(2.5)) == 2.5 and int(duet.constant(7)) == 7
    assert bool(duet.constant(True)) is True
    with pytest.raises(ValueError):
        bool(t)  # more than one element
    with pytest.raises(TypeError):
        len(duet.constant(1.0))
    with pytest.raises(TypeError):
        hash(t)  # == is elementwise


def test_operators_keep_the_tensors_dtype_for_python_numbers():
    x = duet.constant([1.0, 2.0])
    assert (x + 1).dtype == duet.float32 and (2 * x).dtype == duet.float32
    np.testing.assert_allclose((x * 2 + 1).numpy(), [3.0, 5.0])
    np.testing.assert_allclose((1 - x).numpy(), [0.0, -1.0])
    np.testing.assert_allclose((x / 2).numpy(), [0.5, 1.0])
    np.testing.assert_allclose((x ** 2).numpy(), [1.0, 4.0])
    np.testing.assert_allclose((-x).numpy(), [-1.0, -2.0])
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True])
    m = duet.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose((m @ m).numpy(), np.array([[7, 10], [15, 22]], np.float32))
    i = duet.constant([1, 2])
    assert (i + 1).dtype == duet.int32
    with pytest.raises(duet.errors.ShapeError):
        duet.constant([1.0, 2.0]) + duet.constant([1.0, 2.0, 3.0])


def test_indexing_like_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = duet.constant(a)
    for key in [0, -1, (1, 2), (slice(None), 1), (Ellipsis, -1), (slice(None, None, -1),), (0, slice(1, None, 2)),
                (slice(None), None, 1), (1, slice(None), slice(3, 0, -2)), (slice(-2, None),)]:
        np.testing.assert_array_equal(t[key].numpy(), a[key], err_msg=str(key))
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(IndexError):
        t[0, 0, 0, 0]


def test_variable_takes_tensorflows_arguments():
    v = duet.Variable(1.0, dtype=duet.float64)
    assert v.dtype == duet.float64 and repr(v) == "<duet.Variable 'Variable' shape=(), dtype=float64, numpy=1.0>"
    w = duet.Variable([1, 2], dtype="float32", name="w", shape=[None])
    assert w.dtype == duet.float32 and w.name == "w" and w.shape == (2,)
    assert not duet.Variable(lambda: duet.ones([2]), trainable=False).trainable  # a callable initial value
    with pytest.raises(duet.errors.ShapeError, match=r"shape \(3,\) does not fit"):
        duet.Variable([1.0], shape=[3])
    with pytest.raises(duet.errors.InvalidArgumentError, match="constraint"):
        duet.Variable([1.0], constraint=lambda x: x)


def test_numpy_on_the_left_gives_a_tensor():
    a = np.ones((1, 2), np.float32)
    for r in (a @ duet.ones([2, 1]), a + duet.ones([2]), a * duet.constant(2.0)):
        assert isinstance(r, duet.Tensor)
    assert (a @ duet.ones([2, 1])).numpy().tolist() == [[2.0]]

