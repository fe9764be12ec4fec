# Seed article 002, example 2, as the article prints it.
# compare: outcome (it prints random numbers or timings)
import tensorflow as tf
import time

#Simplified Example - Actual performance differences will be more pronounced with more complex layers.
class MyLayerEager(tf.keras.layers.Layer):
    def call(self, inputs):
        tf.config.run_functions_eagerly(True)
        return tf.math.square(inputs)

class MyLayerGraph(tf.keras.layers.Layer):
    def call(self, inputs):
        tf.config.run_functions_eagerly(False)
        return tf.math.square(inputs)

# Test
input_tensor = tf.random.normal((1000,1000))
start_time = time.time()
MyLayerEager()(input_tensor)
end_time = time.time()
print(f"Eager execution time: {end_time - start_time} seconds")

start_time = time.time()
MyLayerGraph()(input_tensor)
end_time = time.time()
print(f"Graph execution time: {end_time - start_time} seconds")

