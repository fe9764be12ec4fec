# A Keras program with no random numbers (initializers ones and zeros, shuffle=False): a layer subclassed in
# Python, a built-in layer, compile, fit, predict and evaluate print the same values in duet and TensorFlow.
import numpy as np
import tensorflow as tf
from tensorflow import keras

x = np.linspace(-1, 1, 32, dtype="float32").reshape(16, 2)
y = x @ np.array([[2.0], [-1.0]], dtype="float32") + 0.5


class Scale(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * self.w


model = keras.Sequential([keras.Input(shape=(2,)), Scale(), keras.layers.Dense(1, kernel_initializer="zeros")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
print([round(v, 4) for v in history.history["loss"]])
print(np.round(model.predict(x[:3], verbose=0), 4).tolist())
loss, mae = model.evaluate(x, y, verbose=0)
print(round(float(loss), 4), round(float(mae), 4))
print(len(model.trainable_weights), model.count_params())
