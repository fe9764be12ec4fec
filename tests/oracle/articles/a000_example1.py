# Seed article 000, example 1, as the article prints it.
import tensorflow as tf

def elementwise_op(x):
  """Applies a custom element-wise operation."""
  return tf.math.square(x) + tf.math.sin(x)

lambda_layer = tf.keras.layers.Lambda(elementwise_op)

# Example usage:
input_tensor = tf.constant([[1.0, 2.0], [3.0, 4.0]])
output_tensor = lambda_layer(input_tensor)
print(output_tensor)
