# tf.print's format (numbers, nesting, summarize, structures) and its runs inside tf.function, printed by
# TensorFlow and by duet: check_python.py compares the two outputs.
import sys
import tensorflow as tf
tf.print("x", tf.constant([1, 2, 3]), output_stream=sys.stdout)
tf.print(tf.range(10), output_stream=sys.stdout)
tf.print({"a": tf.constant(1.5)}, [tf.constant(True)], output_stream=sys.stdout)
tf.print(tf.constant([[1.5, 2], [3, 4]]), tf.constant(1 / 3), output_stream=sys.stdout)
tf.print(tf.reshape(tf.range(24), [2, 3, 4]), summarize=2, output_stream=sys.stdout)
tf.print(tf.constant([1e-7, 123456789.0]), output_stream=sys.stdout)
@tf.function
def f(x):
    tf.print("in f:", x * 2, output_stream=sys.stdout)
    return x + 1
f(tf.constant([1.0, 2.0]))
f(tf.constant([3.0, 4.0]))
print(tf.ones([2])[tf.newaxis].shape)
