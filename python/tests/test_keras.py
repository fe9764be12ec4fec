"""duet.keras: built-in layers from the engine's registry, layers and models subclassed in Python, Lambda,
Input / Sequential / functional / subclassed models, compile / fit / evaluate / predict on NumPy, callbacks,
Ctrl-C during fit, save / load_model, and the errors Keras users meet."""
import os
import signal
import threading

import numpy as np
import pytest

import duet
from duet import keras


def data(n=64, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    w = rng.normal(size=(d, k)).astype("float32")
    return x, x @ w


# Built-in layers: the registry's classes with Keras's arguments.
def test_builtin_layer_arguments_by_position_and_keyword():
    d = keras.layers.Dense(4, "relu", use_bias=False, name="d4")
    assert isinstance(d, keras.layers.Dense) and not isinstance(d, keras.layers.Conv2D)
    c = d.get_config()
    assert (c["units"], c["activation"], c["use_bias"], c["name"]) == (4, "relu", False, "d4")
    conv = keras.layers.Conv2D(8, 3, strides=2, padding="same")
    assert conv.get_config()["kernel_size"] == (3, 3) and conv.get_config()["strides"] == (2, 2)
    y = conv(np.ones((2, 8, 8, 1), "float32"))
    assert tuple(y.shape) == (2, 4, 4, 8)
    assert keras.layers.MaxPooling2D(3).get_config()["pool_size"] == (3, 3)
    assert keras.layers.Dense(2, activation=keras.activations.relu).get_config()["activation"] == "relu"
    assert "Dense" in dir(keras.layers) and "LSTM" in dir(keras.layers)


def test_conv1d_and_transposed_convolutions_have_kerases_sizes():
    up = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    assert tuple(up(np.ones((1, 5, 5, 2), "float32")).shape) == (1, 10, 10, 4)
    assert up.get_config()["kernel_size"] == (3, 3) and "output_padding" not in up.get_config()
    assert [tuple(w.shape) for w in up.weights] == [(3, 3, 4, 2), (4,)]  # kernel (kh, kw, filters, in), bias
    y = keras.layers.Conv2DTranspose(2, 3, strides=2, output_padding=1)(np.ones((1, 3, 3, 1), "float32"))
    assert tuple(y.shape) == (1, 8, 8, 2)
    assert tuple(keras.layers.Conv1D(2, 3, padding="causal", dilation_rate=2)(np.ones((1, 7, 3), "float32")).shape) \
        == (1, 7, 2)
    assert tuple(keras.layers.Conv1DTranspose(2, 3, 2, output_padding=1)(np.ones((1, 4, 3), "float32")).shape) \
        == (1, 10, 2)
    with pytest.raises(duet.errors.InvalidArgumentError, match="output_padding"):
        keras.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(duet.errors.InvalidArgumentError, match="channels last"):
        keras.layers.Conv1D(2, 3, data_format="channels_first")


def test_builtin_layer_bad_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="unexpected keyword argument 'unitz'"):
        keras.layers.Dense(4, unitz=3)
    with pytest.raises(TypeError, match="at most 2 positional"):
        keras.layers.Dense(4, "relu", True)
    with pytest.raises(ValueError, match="has no 'units'"):
        keras.layers.Dense()
    with pytest.raises(ValueError, match="kernel_size' needs 2 integers"):
        keras.layers.Conv2D(8, (3, 3, 3))
    with pytest.raises(ValueError, match="channels last"):
        keras.layers.Conv2D(8, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="regularizers"):
        keras.layers.Dense(4, kernel_regularizer="l2")
    with pytest.raises(TypeError, match="cannot be subclassed"):
        class MyDense(keras.layers.Dense):
            pass
    with pytest.raises(duet.errors.InvalidArgumentError, match="Lambda layer"):
        keras.layers.Dense(4, activation=lambda x: x)


def test_activations_by_every_keras_name_and_the_activation_merge_shape_layers():
    names = ["celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
             "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
             "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
             "squareplus", "swish", "tanh", "tanh_shrink"]
    x = np.array([[-2.5, -0.7, 0.2, 1.5, 4.0, 7.0]], "float32")
    for n in names:
        f = getattr(keras.activations, n)
        assert keras.layers.Dense(2, activation=f).get_config()["activation"] == n
        np.testing.assert_array_equal(keras.layers.Activation(n)(x).numpy(), f(x).numpy())
    np.testing.assert_allclose(keras.activations.hard_sigmoid(x).numpy(), np.clip(x + 3, 0, 6) / 6, rtol=1e-6)
    np.testing.assert_allclose(keras.activations.leaky_relu(x).numpy(), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    np.testing.assert_allclose(keras.layers.LeakyReLU()(x).numpy(), np.where(x > 0, x, 0.3 * x), rtol=1e-6)
    np.testing.assert_allclose(keras.layers.ReLU(6.0, 0.1)(x).numpy(), np.where(x > 0, np.minimum(x, 6), 0.1 * x),
                               rtol=1e-6)
    np.testing.assert_allclose(keras.layers.ReLU(threshold=1.0)(x).numpy(), np.where(x > 1, x, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown activation 'leakyrelu'.*leaky_relu"):
        keras.layers.Dense(2, activation="leakyrelu")
    # layers: arguments by position as Keras's
    assert keras.layers.ELU(0.5).get_config()["alpha"] == 0.5
    assert keras.layers.Softmax(1).get_config()["axis"] == 1
    assert keras.layers.Dot(1, True).get_config()["normalize"] is True
    assert keras.layers.Permute((2, 1)).get_config()["dims"] == (2, 1)
    p = keras.layers.PReLU(shared_axes=[1])
    assert tuple(p(np.ones((2, 3, 4), "float32")).shape) == (2, 3, 4) and tuple(p.weights[0].shape) == (1, 4)
    a, b = np.ones((2, 3), "float32"), np.full((2, 3), 3.0, "float32")
    np.testing.assert_array_equal(keras.layers.Subtract()([a, b]).numpy(), a - b)
    np.testing.assert_array_equal(keras.layers.Average()([a, b]).numpy(), (a + b) / 2)
    np.testing.assert_array_equal(keras.layers.Maximum()([a, b]).numpy(), b)
    np.testing.assert_array_equal(keras.layers.Minimum()([a, b]).numpy(), a)
    np.testing.assert_array_equal(keras.layers.Dot(axes=1)([a, b]).numpy(), np.full((2, 1), 9.0))
    assert tuple(keras.layers.RepeatVector(4)(a).shape) == (2, 4, 3)
    np.testing.assert_array_equal(keras.layers.Identity()(a).numpy(), a)
    with pytest.raises(ValueError, match="RepeatVector.*>= 1"):
        keras.layers.RepeatVector(-1)
    with pytest.raises(ValueError, match=r"Permute\] dims must be a permutation"):
        keras.layers.Permute((1, 3))


# Layers subclassed in Python.
class Scale(keras.layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.seen_training = []

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, training=None):
        self.seen_training.append(training)
        return duet.matmul(inputs, self.kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_python_layer_builds_once_and_computes_eagerly():
    layer = Scale(2)
    y = layer(np.ones((4, 3)))
    assert layer.built and [tuple(w.shape) for w in layer.weights] == [(3, 2), (2,)]
    np.testing.assert_allclose(y.numpy(), np.full((4, 2), 3.0))
    assert layer.seen_training == [False]
    layer(np.ones((1, 3)), training=True)
    assert layer.seen_training[-1] is True
    assert [w.name for w in layer.weights] == ["scale/kernel", "scale/bias"]


def test_python_layer_without_super_init_says_so():
    class Bad(keras.layers.Layer):
        def __init__(self):
            self.units = 3

    with pytest.raises(RuntimeError, match="forgot to call `super"):
        Bad()


def test_unknown_layer_keyword_is_rejected_like_keras_3():
    class Stateful(keras.layers.Layer):
        def __init__(self):
            super().__init__(dynamic=True)

    with pytest.raises(ValueError, match="Keras 3 has no dynamic"):
        Stateful()


def test_python_layer_traced_in_fit_matches_eager_and_learns():
    x, y = data()
    layer = Scale(3)
    model = keras.Sequential([keras.Input(shape=(6,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    before = model.predict(x)
    np.testing.assert_allclose(before, layer(x).numpy(), rtol=1e-6)
    assert layer.seen_training.count(True) == 0
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first / 5
    assert True in layer.seen_training  # traced once with training=True for the train step
    # The compiled model and the layer called eagerly agree after training too.
    np.testing.assert_allclose(model.predict(x), layer(x).numpy(), rtol=1e-5, atol=1e-6)


def test_python_exception_inside_call_reaches_the_caller_unchanged():
    class Boom(keras.layers.Layer):
        def call(self, inputs):
            raise ZeroDivisionError("boom inside call")

    with pytest.raises(ZeroDivisionError, match="boom inside call"):
        Boom()(np.ones((2, 2)))
    model = keras.Sequential([Boom()])
    model.compile(loss="mse")
    with pytest.raises(ZeroDivisionError):
        model.fit(np.ones((4, 2)), np.ones((4, 2)), verbose=0)


# Lambda: traced when it uses ops, a host step when it reads values.
def test_lambda_traced_and_as_host_step_give_the_eager_result():
    traced = keras.layers.Lambda(lambda t: duet.square(t) + 1.0)
    host = keras.layers.Lambda(lambda t: duet.constant(np.where(t.numpy() > 0, t.numpy(), 0.0), dtype=duet.float32))
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    for layer, expect in ((traced, x * x + 1), (host, np.maximum(x, 0))):
        model = keras.Sequential([keras.Input(shape=(3,)), layer])
        model.compile(loss="mse")
        np.testing.assert_allclose(layer(x).numpy(), expect, rtol=1e-6)
        np.testing.assert_allclose(model.predict(x), expect, rtol=1e-6)
        model.fit(x, expect, verbose=0)  # trains through the layer (no weights) without error
    assert host.runs_as_host_step and not traced.runs_as_host_step


# Models: functional (several inputs), Sequential, subclassed.
def test_functional_model_with_two_inputs_and_get_layer():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(2,), name="b")
    merged = keras.layers.Concatenate()([a, b])
    out = keras.layers.Dense(1, name="head")(merged)
    model = keras.Model(inputs=[a, b], outputs=out)
    assert isinstance(model, keras.Model) and model.get_layer("head").name == "head"
    xa, xb = np.ones((5, 3), "float32"), np.ones((5, 2), "float32")
    kernel, bias = model.get_layer("head").get_weights()
    np.testing.assert_allclose(model.predict([xa, xb]), np.ones((5, 5)) @ kernel + bias, rtol=1e-5)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = model.fit([xa, xb], np.zeros((5, 1)), epochs=2, verbose=0)
    assert sorted(h.history) == ["loss", "mae"] and h.epoch == [0, 1]
    loss, mae = model.evaluate([xa, xb], np.zeros((5, 1)), verbose=0)
    assert loss >= 0 and mae >= 0


def test_subclassed_model_tracks_layers_and_trains():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.out = keras.layers.Dense(3)

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    x, y = data()
    model = Net()
    sym = model(keras.Input(shape=(6,)))
    assert tuple(sym.shape) == (None, 3)
    assert len(model.trainable_weights) == 4
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=keras.losses.MeanSquaredError())
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first
    assert "net" in str(model.summary(print_fn=lambda s: None) or "net")


def test_loss_function_and_printed_progress(capsys):
    x, y = data(32)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3)])

    def my_mse(y_true, y_pred):
        return duet.reduce_mean(duet.square(y_true - y_pred), axis=-1)

    model.compile(optimizer="sgd", loss=my_mse)
    model.fit(x, y, epochs=2, batch_size=8)
    printed = capsys.readouterr().out
    assert "Epoch 1/2" in printed and "Epoch 2/2" in printed and "loss:" in printed
    ref = keras.losses.MeanSquaredError()(y, model.predict(x))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), float(ref), rtol=1e-5)


# Callbacks and stopping.
def test_python_callback_sees_every_event_and_stops_training():
    events = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("begin")

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch", batch, "loss" in logs))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch", epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

    x, y = data(32)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3)])
    model.compile(loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=10, batch_size=16, verbose=0, callbacks=[Recorder()], validation_split=0.25)
    assert events[0] == "begin" and h.epoch == [0, 1]
    assert ("batch", 0, True) in events and ("epoch", 1, ["loss", "mae", "val_loss", "val_mae"]) in events


def test_ctrl_c_during_fit_stops_after_the_current_step():
    x, y = data(64)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)  # compiled before the clock starts
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=100000, batch_size=8, verbose=0)
    finally:
        timer.cancel()
    steps = int(model.optimizer.iterations.numpy())
    assert 8 < steps < 100000 * 8
    assert model.predict(x).shape == (64, 3)  # the model is intact and usable


# Saving.
def test_save_and_load_model_round_trip(tmp_path):
    x, _ = data(8)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2)])
    path = str(tmp_path / "m.duet")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_python_layer_saved_when_registered(tmp_path):
    @keras.saving.register_keras_serializable()
    class Doubling(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = keras.Sequential([keras.Input(shape=(3,)), Doubling(3.0), keras.layers.Dense(2)])
    path = str(tmp_path / "d.duet")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)

    # Unregistered: saved as its traced graph (loads without the class), unless it cannot be traced.
    class Unregistered(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0 + 1.0

    model = keras.Sequential([keras.Input(shape=(3,)), Unregistered()])
    model.save(str(tmp_path / "u.duet"))
    np.testing.assert_allclose(keras.models.load_model(str(tmp_path / "u.duet")).predict(x), x * 2 + 1)

    class ReadsValues(keras.layers.Layer):
        def call(self, inputs):
            return duet.constant(inputs.numpy() * 2.0)

    with pytest.raises(ValueError, match="get_config"):
        keras.Sequential([keras.Input(shape=(3,)), ReadsValues()]).save(str(tmp_path / "r.duet"))


def test_bad_data_gets_clear_errors():
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3)])
    model.compile(loss="mse")
    with pytest.raises(duet.errors.InvalidArgumentError, match="dict"):
        model.fit({"a": np.ones((4, 6))}, np.ones((4, 3)), verbose=0)
    with pytest.raises(duet.errors.InvalidArgumentError, match="issue 30"):
        model.fit(np.ones((4, 6)), np.ones((4, 3)), sample_weight=np.ones(4), verbose=0)
    with pytest.raises(duet.errors.Error):
        model.fit(np.ones((4, 5)), np.ones((4, 3)), verbose=0)
    with pytest.raises(duet.errors.DTypeError, match="optimizer"):
        model.compile(optimizer=3, loss="mse")


def test_models_with_python_layers_train_in_many_threads_at_once():
    class Sq(keras.layers.Layer):
        def call(self, x):
            return duet.square(x) * 2.0

    results, errors = {}, []

    def work(i):
        try:
            m = keras.Sequential([keras.Input(shape=(4,)), Sq(), keras.layers.Dense(2, kernel_initializer="ones")])
            m.compile(optimizer="sgd", loss="mse")
            x = np.full((8, 4), 0.1 * i, "float32")
            m.fit(x, np.zeros((8, 2)), epochs=2, verbose=0)
            results[i] = (m.predict(x), m.layers[-1].get_weights())
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads)
    for i, (pred, (kernel, bias)) in results.items():  # each model's own weights, its own data
        x = np.full((8, 4), 0.1 * i, "float32")
        np.testing.assert_allclose(pred, (2 * x * x) @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_compiled_fit_equals_eager_fit_in_weights_and_side_effects():
    class Counted(keras.layers.Layer):
        """A Python layer with a trainable weight and a side effect (a call counter) in every call."""

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

        def call(self, inputs):
            self.calls.assign_add(1.0)
            return inputs * self.w

    x, y = data(32, d=6, k=1)
    trained = []
    for run_eagerly in (True, False):
        model = keras.Sequential([keras.Input(shape=(6,)), Counted(),
                                  keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", run_eagerly=run_eagerly)
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    eager, compiled = trained
    assert float(eager[1]) == float(compiled[1]) == 12.0  # 4 steps x 3 epochs: the side effect ran once each
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_py_function_saved_by_registered_name(tmp_path):
    x = np.arange(6, dtype="float32").reshape(2, 3) - 2.0

    def clip_np(a):
        return np.clip(a, -1.0, 1.0).astype(np.float64)  # float64: converted to the declared float32

    def halve(t):
        return t * 0.5

    def layer_fn(t):
        t = duet.numpy_function(clip_np, [t], duet.float32)
        return duet.py_function(halve, [t], duet.float32)

    def build():
        return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Lambda(layer_fn, output_shape=(3,))])

    # Not registered: the graph calls Python callables a file cannot hold; the message says what to do.
    with pytest.raises(ValueError, match="register_py_function"):
        build().save(str(tmp_path / "n.duet"))
    duet.register_py_function("test_clip_np", clip_np)
    duet.register_py_function("test_halve")(halve)  # also a decorator
    model = build()
    want = np.clip(x, -1, 1) * 0.5
    np.testing.assert_allclose(model.predict(x), want)
    path = str(tmp_path / "p.duet")
    model.save(path)
    # The loading program's registration is what runs: a new function under the same name changes the result.
    duet.register_py_function("test_halve", lambda t: t * 0.25)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x), np.clip(x, -1, 1) * 0.25)
    duet.register_py_function("test_halve", halve)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x), want)
    with pytest.raises(TypeError, match="not callable"):
        duet.register_py_function("bad", 3)


def test_initializer_objects_with_arguments(tmp_path):
    init = keras.initializers.RandomNormal(stddev=0.02, seed=1)
    w = init(shape=(200, 300)).numpy()
    assert w.dtype == np.float32 and abs(w.std() - 0.02) < 1e-3
    np.testing.assert_array_equal(init((200, 300)).numpy(), w)  # a seed repeats, as in Keras
    assert init.get_config() == {"mean": 0.0, "stddev": 0.02, "seed": 1}
    assert keras.initializers.RandomNormal(0.5, 0.1).get_config()["mean"] == 0.5  # Keras's positional order
    q = keras.initializers.Orthogonal(gain=2.0)((5, 3)).numpy()
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(3), atol=1e-5)
    assert isinstance(keras.initializers.get("he_normal"), keras.initializers.HeNormal)
    assert isinstance(keras.initializers.get({"class_name": "Constant", "config": {"value": 2.0}}),
                      keras.initializers.Constant)
    with pytest.raises(TypeError, match="stdev"):
        keras.initializers.RandomNormal(stdev=0.1)
    with pytest.raises(ValueError, match="fan_in, fan_out or fan_avg"):
        keras.initializers.VarianceScaling(mode="fan_up")

    # In a layer's config (saved and loaded with the model), and in add_weight.
    layer = keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomUniform(-2.0, -1.0, seed=5),
                               bias_initializer=keras.initializers.Constant(0.5))
    model = keras.Sequential([keras.Input(shape=(4,)), layer])
    k, b = layer.get_weights()
    assert k.min() >= -2.0 and k.max() < -1.0 and np.all(b == 0.5)
    config = layer.get_config()
    assert config["kernel_initializer"] == "random_uniform" and config["kernel_initializer_minval"] == -2.0
    path = str(tmp_path / "init.duet")
    model.save(path)
    again = keras.models.load_model(path)
    assert again.layers[0].get_config()["kernel_initializer_seed"] == 5

    class Scaled(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(3.0))

        def call(self, x):
            return x * self.w

    np.testing.assert_allclose(Scaled()(np.ones((1, 2), "float32")).numpy(), [[3.0, 3.0]])


def test_merge_functions_as_keras_has_them():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    outs = [keras.layers.concatenate([a, b]), keras.layers.concatenate([a, b], axis=1), keras.layers.add([a, b]),
            keras.layers.subtract([a, b]), keras.layers.multiply([a, b]), keras.layers.average([a, b]),
            keras.layers.maximum([a, b]), keras.layers.minimum([a, b]), keras.layers.dot([a, b], axes=1)]
    model = keras.Model([a, b], outs)
    x, y = np.array([[1.0, -2.0, 3.0]], "float32"), np.array([[2.0, 2.0, -1.0]], "float32")
    got = model.predict([x, y], verbose=0)
    want = [np.concatenate([x, y], 1)] * 2 + [x + y, x - y, x * y, (x + y) / 2, np.maximum(x, y), np.minimum(x, y),
                                              (x * y).sum(1, keepdims=True)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_model_checkpoint_saves_the_best_epochs(tmp_path):
    x = np.linspace(-1, 1, 64, dtype="float32").reshape(32, 2)
    y = x @ np.array([[1.0], [-2.0]], "float32")
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    pattern = str(tmp_path / "ckpt" / "m-{epoch:02d}-{loss:.3f}.keras")
    best = str(tmp_path / "best.keras")
    saved = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(logs["loss"])

    model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False, callbacks=[
        keras.callbacks.ModelCheckpoint(pattern),
        keras.callbacks.ModelCheckpoint(best, monitor="loss", save_best_only=True), Record()])
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == [f"m-{e + 1:02d}-{saved[e]:.3f}.keras" for e in range(3)]
    again = keras.models.load_model(best)  # the last epoch had the lowest loss: the final weights
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    weights = str(tmp_path / "w.weights")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(weights, save_weights_only=True)])
    assert os.path.exists(weights)
    with pytest.raises(duet.errors.InvalidArgumentError, match="save_freq"):
        keras.callbacks.ModelCheckpoint(best, save_freq=10)
