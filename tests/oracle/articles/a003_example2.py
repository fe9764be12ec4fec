# Seed article 003 (tf.py_function), example 2, as the article prints it.
import tensorflow as tf

def my_py_function(x):
  # Correct: Uses TensorFlow operations within tf.py_function
  y = tf.add(x, 1)
  return y

x = tf.constant(5)
y = tf.py_function(my_py_function, [x], tf.int64)

with tf.compat.v1.Session() as sess:
  print(sess.run(y))
