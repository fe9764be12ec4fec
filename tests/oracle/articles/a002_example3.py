# Seed article 002, example 3, as the article prints it.
import tensorflow as tf

class MyStatefulLayer(tf.keras.layers.Layer):
    def __init__(self):
        super(MyStatefulLayer, self).__init__(dynamic=True) #dynamic=True required for stateful layers
        self.state = self.add_weight(shape=(1,), initializer='zeros', trainable=False)

    def call(self, inputs):
        self.state.assign_add(inputs)
        return self.state

model = tf.keras.Sequential([MyStatefulLayer()])
model.compile(optimizer='adam', loss='mse')
