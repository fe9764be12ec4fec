# Seed article 001, example 1, as the article prints it.
import tensorflow as tf
from tensorflow import keras

class ElementWiseLambda(keras.layers.Layer):
    def __init__(self, func, **kwargs):
        super(ElementWiseLambda, self).__init__(**kwargs)
        self.func = func

    def call(self, inputs):
        return self.func(inputs)

# Example usage:
lambda_layer = ElementWiseLambda(lambda x: tf.math.sqrt(x))
model = keras.Sequential([
    keras.layers.Input(shape=(10,)),
    lambda_layer,
    keras.layers.Dense(5)
])
model.compile(optimizer='adam', loss='mse')
