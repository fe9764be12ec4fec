# Seed article 003 (tf.py_function), example 3, as the article prints it.
import tensorflow as tf
import numpy as np

def my_py_function(x):
  # Handling NumPy arrays within tf.py_function
  x_np = x.numpy() # Convert TensorFlow tensor to NumPy array
  y_np = np.square(x_np)  # Perform NumPy operations
  return tf.convert_to_tensor(y_np) # Convert NumPy array back to TensorFlow tensor

x = tf.constant(np.array([1, 2, 3]))
y = tf.py_function(my_py_function, [x], tf.int64)

with tf.compat.v1.Session() as sess:
  print(sess.run(y))
