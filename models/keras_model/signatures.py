"""Serving signatures of the exported SavedModel; they all apply the tf.Transform graph.

- serving_default: serialized tf.Examples holding a raw `waveform` (what TFMA and TF
  Serving's classify-style callers send);
- predict_waveform: float32 [batch, samples] at the pipeline's sample rate, any length:
  cut into half-overlapping training-length windows whose probabilities are averaged,
  weighted by how much real audio each window holds.
Both return `probabilities` [batch, languages] and `language` [batch] (the name).
"""
from __future__ import annotations

import tensorflow as tf

from models import features


def _outputs(probabilities: tf.Tensor, languages: tf.Tensor) -> dict:
    return {"probabilities": probabilities, "language": tf.gather(languages, tf.argmax(probabilities, axis=-1))}


def make_signatures(model, tf_transform_output, languages: list[str], segment_samples: int) -> dict:
    model.tft_layer = tf_transform_output.transform_features_layer()
    names = tf.constant(languages, dtype=tf.string)
    raw_spec = tf_transform_output.raw_feature_spec()
    for key in features.METADATA_KEYS:
        raw_spec.pop(key, None)

    def classify(raw_features):
        transformed = model.tft_layer(raw_features)
        inputs = {k: transformed[k] for k in model.input_names}
        return model(inputs, training=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        raw = tf.io.parse_example(serialized, raw_spec)
        return _outputs(classify(raw), names)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")])
    def predict_waveform(waveform):
        n, hop = segment_samples, max(1, segment_samples // 2)
        length = tf.shape(waveform)[1]
        padded = tf.pad(waveform, [[0, 0], [0, tf.maximum(n - length, 0)]])
        windows = tf.signal.frame(padded, n, hop, pad_end=True)           # [batch, W, n]
        batch, count = tf.shape(windows)[0], tf.shape(windows)[1]
        real = tf.clip_by_value(length - tf.range(count) * hop, 0, n)     # real samples per window
        weights = tf.cast(real, tf.float32) / float(n)
        flat = tf.reshape(windows, [-1, n])
        probabilities = classify({features.WAVEFORM: tf.sparse.from_dense(flat)})
        probabilities = tf.reshape(probabilities, [batch, count, -1])
        pooled = tf.reduce_sum(probabilities * weights[None, :, None], axis=1) / tf.reduce_sum(weights)
        return _outputs(pooled, names)

    return {"serving_default": serve_examples, "predict_waveform": predict_waveform}
