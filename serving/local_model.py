"""The pushed SavedModel in this process, through its predict_waveform and embed signatures.

Only TensorFlow is imported (never tensorflow-io): what loads here loads in TF Serving.
"""
from __future__ import annotations

import numpy as np

from serving.model_dir import resolve_model_dir


class LocalModel:
    def __init__(self, model_dir: str):
        import tensorflow as tf

        self._tf = tf
        self.path = resolve_model_dir(model_dir)
        self._model = tf.saved_model.load(self.path)

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        """`waveform` at the model's rate (its `sample_rate` output; a probe's zeros at any)."""
        signature = self._model.signatures["embed" if embeddings else "predict_waveform"]
        out = signature(waveform=self._tf.constant(np.asarray(waveform, np.float32)[None]))
        return {k: v.numpy()[0] for k, v in out.items()}
