# Seed article 004, example 1, as the article prints it.
# compare: outcome (it prints random numbers or timings)
import tensorflow as tf

# Define a simple dense layer
dense_layer = tf.keras.layers.Dense(units=10)

# Create an input tensor (symbolic tensor)
input_tensor = tf.keras.Input(shape=(5,))

# Apply the layer. At this point, only the graph is updated
output_tensor = dense_layer(input_tensor)

# Display tensors to show they are not directly computed
print("Input Tensor:", input_tensor)
print("Output Tensor:", output_tensor)

# Create the model using the functional API
model = tf.keras.Model(inputs=input_tensor, outputs=output_tensor)

# Provide concrete input to the model so calculations can be run
input_data = tf.random.normal(shape=(1,5))
result = model(input_data)
print("Result Tensor:", result)
