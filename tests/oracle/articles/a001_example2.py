# Seed article 001, example 2, as the article prints it.
import tensorflow as tf
from tensorflow import keras

class WeightedLambda(keras.layers.Layer):
    def __init__(self, func, **kwargs):
        super(WeightedLambda, self).__init__(**kwargs)
        self.func = func
        self.weight = self.add_weight(shape=(1,), initializer='ones', trainable=True)

    def call(self, inputs):
        return self.func(inputs, self.weight)

# Example usage (requires a lambda function that accepts weights):
lambda_layer = WeightedLambda(lambda x, w: x * w)
model = keras.Sequential([
    keras.layers.Input(shape=(10,)),
    lambda_layer,
    keras.layers.Dense(5)
])
model.compile(optimizer='adam', loss='mse')
