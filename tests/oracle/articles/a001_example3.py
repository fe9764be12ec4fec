# Seed article 001, example 3, as the article prints it.
import tensorflow as tf
from tensorflow import keras

class ComplexLambda(keras.layers.Layer):
    def __init__(self, func, **kwargs):
        super(ComplexLambda, self).__init__(**kwargs)
        self.func = func

    def call(self, inputs):
        if isinstance(inputs, list): #handle multiple inputs
            return self.func(*inputs)
        else:
            return self.func(inputs)

#Example Usage
def my_complex_function(x, y):
    return tf.concat([tf.math.sin(x), tf.math.cos(y)], axis=-1)

complex_layer = ComplexLambda(my_complex_function)

input1 = keras.layers.Input(shape=(10,))
input2 = keras.layers.Input(shape=(5,))
output = complex_layer([input1, input2]) #Multiple inputs
model = keras.Model(inputs=[input1, input2], outputs=output)
model.compile(optimizer='adam', loss='mse')
