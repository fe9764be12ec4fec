"""duet.keras's pooling and resizing layers from Python (Keras's argument forms: ints, tuples, tuples of
pairs, strides None), and tf.pad's spelling."""
import numpy as np
import pytest

import duet
from duet import keras


def test_pooling_and_resizing_take_kerases_argument_forms():
    x = np.arange(2 * 4 * 6 * 1, dtype="float32").reshape(2, 4, 6, 1)
    assert tuple(keras.layers.ZeroPadding2D(((1, 2), (0, 3)))(x).shape) == (2, 7, 9, 1)
    assert tuple(keras.layers.ZeroPadding2D((1, 2))(x).shape) == (2, 6, 10, 1)
    assert keras.layers.ZeroPadding2D(((1, 2), (0, 3))).get_config()["padding"] == (1, 2, 0, 3)
    assert tuple(keras.layers.Cropping2D(((1, 0), (2, 1)))(x).shape) == (2, 3, 3, 1)
    np.testing.assert_array_equal(keras.layers.UpSampling2D((2, 1))(x).numpy()[:, ::2], x)
    up = keras.layers.UpSampling2D(2, interpolation="bilinear")(x).numpy()
    assert up.shape == (2, 8, 12, 1)
    np.testing.assert_allclose(up[0, 0, :3, 0], [0, 0.25, 0.75])  # half-pixel centers, clamped at the edge
    seq = np.random.default_rng(0).normal(size=(3, 7, 2)).astype("float32")
    pooled = keras.layers.MaxPooling1D(2, strides=None)(seq).numpy()
    np.testing.assert_array_equal(pooled, seq[:, :6].reshape(3, 3, 2, 2).max(axis=2))
    assert keras.layers.AveragePooling1D(3, 1, "same").get_config()["strides"] == 1
    assert tuple(keras.layers.GlobalMaxPooling1D(keepdims=True)(seq).shape) == (3, 1, 2)
    assert tuple(keras.layers.Resizing(3, 5, interpolation="nearest")(x).shape) == (2, 3, 5, 1)
    vol = np.ones((1, 4, 4, 4, 2), "float32")
    assert tuple(keras.layers.MaxPooling3D(2)(vol).shape) == (1, 2, 2, 2, 2)
    assert tuple(keras.layers.GlobalAveragePooling3D()(vol).shape) == (1, 2)
    with pytest.raises(Exception, match="channels last"):
        keras.layers.Cropping1D(1, data_format="channels_first")
    with pytest.raises(Exception, match="bicubic"):
        keras.layers.UpSampling2D(2, interpolation="bicubic")


def test_pad_takes_tensorflows_paddings():
    x = duet.constant([[1.0, 2.0]])
    np.testing.assert_array_equal(duet.pad(x, [[1, 0], [0, 1]]).numpy(), [[0, 0, 0], [1, 2, 0]])
    np.testing.assert_array_equal(duet.pad(x, [[0, 0], [1, 1]], constant_values=5).numpy(), [[5, 1, 2, 5]])
    with pytest.raises(Exception, match="REFLECT"):
        duet.pad(x, [[0, 0], [1, 1]], mode="REFLECT")
