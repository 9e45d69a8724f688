"""Feature definitions, tf.Transform preprocessing and the Keras model."""
