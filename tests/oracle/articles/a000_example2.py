# Seed article 000, example 2, as the article prints it.
import tensorflow as tf

def conditional_op(x):
  """Applies a conditional operation based on tensor value."""
  return tf.cond(tf.math.greater(x, 2.0), lambda: tf.math.log(x), lambda: tf.math.exp(x))


lambda_layer = tf.keras.layers.Lambda(conditional_op)

# Example usage:
input_tensor = tf.constant([1.0, 3.0])
output_tensor = lambda_layer(input_tensor)
print(output_tensor)

