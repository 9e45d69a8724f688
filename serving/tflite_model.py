"""TFLite: the SavedModel's waveform path for one window, and a backend that runs it.

`export_tflite` converts predict_waveform traced for exactly one window ([1, window samples]
float32 in: that window's probabilities and speech flag out) and stores the model's geometry
and language names as a constant uint8 output, so the .tflite needs no side file. The backend
cuts windows on the SavedModel's grid and pools them by its rule, both from contract/geometry.py
(NumPy form; the signatures use its TensorFlow form): a window every hop, the last zero-padded,
each weighted by its real audio if it holds speech. So `predict --tflite` pools like
`predict --model-dir`.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from contract.geometry import (
    WindowGeometry,
    pooling_weights,
    real_samples,
    serving_starts,
    weighted_pool,
    window_weight,
)
from serving.model_dir import resolve_model_dir
from serving.retry import ServingError

INPUT = "window"
OUTPUTS = ("window_probabilities", "window_speech", "metadata")
SIGNATURE_KEY = "serving_default"


def export_tflite(model_dir: str, output: str) -> int:
    """Write a float32 .tflite of the one-window waveform path; return its size in bytes."""
    import tensorflow as tf

    path = resolve_model_dir(model_dir)
    model = tf.saved_model.load(path)
    if "predict_waveform" not in model.signatures:
        raise ServingError(f"{path}: the model has no predict_waveform signature (has: {', '.join(model.signatures)})")
    waveform_fn = model.signatures["predict_waveform"]
    probe = waveform_fn(waveform=tf.zeros([1, 1600]))
    geometry = WindowGeometry(int(probe["sample_rate"].numpy()[0]), float(probe["window_seconds"].numpy()[0]))
    rate, window, hop = geometry.sample_rate, geometry.window_samples, geometry.hop_samples
    languages = [v.decode() for v in probe["languages"].numpy()[0]]
    meta = json.dumps({"sample_rate": rate, "window": window, "hop": hop, "languages": languages}).encode()
    meta_bytes = tf.constant(np.frombuffer(meta, np.uint8))

    @tf.function(input_signature=[tf.TensorSpec([1, window], tf.float32, name=INPUT)])
    def one_window(samples):
        out = waveform_fn(waveform=samples)
        return {"window_probabilities": out["window_probabilities"][:, 0, :],
                "window_speech": out["window_speech"][:, 0],
                "metadata": tf.identity(meta_bytes)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([one_window.get_concrete_function()], model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    flatbuffer = converter.convert()
    folder = os.path.dirname(os.path.abspath(output))
    fd, temp = tempfile.mkstemp(prefix=".tflite-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(flatbuffer)
        os.replace(temp, output)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return len(flatbuffer)


class TFLiteModel:
    """A .tflite from export_tflite as a serving backend (serving/windows.py's Backend)."""

    def __init__(self, path: str):
        import tensorflow as tf

        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such .tflite file")
        try:
            self._interpreter = tf.lite.Interpreter(model_path=path)
            signatures = self._interpreter.get_signature_list()
        except (ValueError, RuntimeError) as err:
            raise ServingError(f"{path}: not a usable .tflite ({' '.join(str(err).split())[:160]})") from err
        if SIGNATURE_KEY not in signatures:
            raise ServingError(f"{path}: not a model from `python -m serving export-tflite` (it lacks the "
                               f"{SIGNATURE_KEY} signature; has: {', '.join(signatures) or 'none'})")
        runner = self._interpreter.get_signature_runner(SIGNATURE_KEY)
        details = runner.get_input_details(), runner.get_output_details()
        missing = [name for name in (INPUT,) if name not in details[0]] + \
                  [name for name in OUTPUTS if name not in details[1]]
        if missing:
            raise ServingError(f"{path}: not a model from `python -m serving export-tflite` "
                               f"(its signature lacks {', '.join(missing)})")
        self._runner = runner
        meta = json.loads(bytes(runner(**{INPUT: np.zeros(details[0][INPUT]["shape"], np.float32)})["metadata"]))
        self.geometry = WindowGeometry.from_samples(meta["sample_rate"], meta["window"])
        if meta["hop"] != self.geometry.hop_samples:
            raise ServingError(f"{path}: hop of {meta['hop']} samples, not half its window of {meta['window']}")
        self.sample_rate, self.window, self.hop = meta["sample_rate"], meta["window"], meta["hop"]
        self.languages = tuple(meta["languages"])

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        if embeddings:
            raise ServingError("a .tflite has no embeddings (use --model-dir)")
        n, hop = self.window, self.hop
        waveform = np.asarray(waveform, np.float32)
        starts = serving_starts(len(waveform), n, hop)
        probabilities, speech = [], []
        for start in starts:
            piece = waveform[start:start + n]
            piece = np.pad(piece, (0, n - len(piece)))[None]
            out = self._runner(**{INPUT: piece})
            probabilities.append(out["window_probabilities"][0])
            speech.append(float(out["window_speech"][0]))
        real = real_samples(len(waveform), starts, n)
        weights = pooling_weights(window_weight(real, n), speech)
        pooled = weighted_pool(probabilities, weights)
        return {"probabilities": pooled, "window_probabilities": np.stack(probabilities),
                "window_weight": window_weight(real, n), "window_speech": np.asarray(speech),
                "window_start_s": starts / self.sample_rate, "window_end_s": (starts + real) / self.sample_rate,
                "window_seconds": n / self.sample_rate, "hop_seconds": hop / self.sample_rate,
                "sample_rate": self.sample_rate, "languages": np.asarray(self.languages)}
