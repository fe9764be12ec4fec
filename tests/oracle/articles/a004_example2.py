# Seed article 004, example 2, as the article prints it.
# compare: outcome (it prints random numbers or timings)
import tensorflow as tf

class MyModel(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = tf.keras.layers.Dense(units=32, activation='relu')
        self.dense2 = tf.keras.layers.Dense(units=10)

    def call(self, inputs):
        x = self.dense1(inputs)  # Layer call - graph building
        return self.dense2(x)   # Layer call - graph building

# Create an instance of the custom model
model = MyModel()

# Create an input tensor (symbolic tensor)
input_tensor = tf.keras.Input(shape=(100,))

# Call model on symbolic tensor
output_tensor = model(input_tensor)

print("Output Tensor from symbolic pass:", output_tensor)

# Create some actual data
input_data = tf.random.normal(shape=(1,100))

# Provide concrete input to the model so calculations can be run
result = model(input_data)

print("Result tensor after eager execution:", result)
