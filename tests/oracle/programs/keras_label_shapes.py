# Labels of shape (N,) against predictions of shape (N, 1), the usual binary classifier's data, and token ids
# (int32) fed to a float32 Input in front of an Embedding: Keras squeezes or expands labels to the
# predictions' rank and converts inputs to the Input's dtype. The losses and metrics must print the same
# values in duet and TensorFlow (no random numbers: ones and zeros initializers).
import numpy as np
import tensorflow as tf
from tensorflow import keras

x = np.array([[2.0], [-2.0], [3.0], [1.0]], "float32")
y = np.array([1, 1, 0, 1], "float32")
for loss, metrics, activation in (("binary_crossentropy", ["accuracy"], "sigmoid"), ("mse", ["mae"], None),
                                  ("mae", ["mae"], None)):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation=activation, kernel_initializer="ones",
                                                                    bias_initializer="zeros")])
    model.compile(optimizer="sgd", loss=loss, metrics=metrics)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    print(loss, {k: round(float(v), 4) for k, v in sorted(logs.items())})

ids = np.array([[1, 2, 3], [4, 5, 6]], "int32")
model = keras.Sequential([keras.Input((3,)), keras.layers.Embedding(10, 2, embeddings_initializer="ones"),
                          keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, kernel_initializer="ones")])
model.compile(optimizer="sgd", loss="mse")
print("token ids:", model.predict(ids, verbose=0).ravel().tolist())
print("fit:", [round(v, 4) for v in model.fit(ids, np.array([1.0, 0.0], "float32"), epochs=2, batch_size=2,
                                                shuffle=False, verbose=0).history["loss"]])
