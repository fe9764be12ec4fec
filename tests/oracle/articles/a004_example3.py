# Seed article 004, example 3, as the article prints it.
# compare: outcome (it prints random numbers or timings)
import tensorflow as tf

tf.config.run_functions_eagerly(True)  # Enable eager execution

# Define a simple dense layer
dense_layer = tf.keras.layers.Dense(units=10)

# Create an input tensor (concrete data)
input_tensor = tf.random.normal(shape=(1,5))

# Apply the layer - output is computed eagerly
output_tensor = dense_layer(input_tensor)

# Display the output tensor
print("Output Tensor (Eager):", output_tensor)

tf.config.run_functions_eagerly(False) # Disable eager execution

# Apply the layer - output is a symbolic tensor
output_tensor = dense_layer(input_tensor)

# Display the symbolic tensor
print("Output Tensor (Graph):", output_tensor)

