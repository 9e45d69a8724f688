"""The tf.Example contract every step shares: feature names, schema file, codec, example key.

Ingestion and the augmenter write these records, Transform, Trainer and Evaluator read them,
and the serving signatures accept them; all import the names from here, so no step reaches
into another step's package for them.
"""
