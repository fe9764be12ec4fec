# Seed article 002, example 1, as the article prints it.
import tensorflow as tf

class MyCustomLayer(tf.keras.layers.Layer):
  def __init__(self, units):
    super(MyCustomLayer, self).__init__()
    self.unit = units
    self.w = self.add_weight(shape=(units,), initializer='random_normal', trainable=True)

  def call(self, inputs):
      # tf.config.run_functions_eagerly(False) #Explicitly disabling (generally not needed)
      return tf.matmul(inputs, self.w)

model = tf.keras.Sequential([
  MyCustomLayer(10),
  tf.keras.layers.Dense(1)
])

model.compile(optimizer='adam', loss='mse')
