# Seed article 000, example 3, as the article prints it.
import tensorflow as tf
import numpy as np

def custom_eager_op(x):
  """A custom function with internal eager operations (use with caution)."""
  x_np = x.numpy() #Convert to NumPy for custom processing.
  intermediate_result = np.where(x_np > 1, x_np * 2, x_np / 2) # NumPy operation
  return tf.convert_to_tensor(intermediate_result, dtype=tf.float32) # Convert back to Tensor

lambda_layer = tf.keras.layers.Lambda(custom_eager_op)

# Example usage:
input_tensor = tf.constant([1.0, 3.0])
output_tensor = lambda_layer(input_tensor)
print(output_tensor)
