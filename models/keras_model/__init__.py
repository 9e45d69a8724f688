"""The Keras CNN, its training entry point (run_fn) and its serving signatures."""
