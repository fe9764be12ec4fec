# Seed article 003 (tf.py_function), example 1, as the article prints it.
import tensorflow as tf

def my_py_function(x):
  # Incorrect:  Assumes eager execution within tf.py_function
  y = x + 1  # This will likely fail if x is a tf.Tensor
  return y

x = tf.constant(5)
y = tf.py_function(my_py_function, [x], tf.int64)

with tf.compat.v1.Session() as sess:
  print(sess.run(y))
