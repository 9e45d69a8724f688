"""TFLite: the SavedModel's waveform path, window grid and pooling included, and a backend that runs it.

`export_tflite` converts predict_waveform traced for one recording of any length ([1, samples]
float32 in; the pooled `probabilities` and the per-window outputs out) and stores the model's
geometry and language names as a constant uint8 output, so the .tflite needs no side file.
The windows are cut and pooled inside the converted graph, by the SavedModel's own ops
(contract/geometry.py's rule in its TensorFlow form), so `predict --tflite` pools exactly like
`predict --model-dir` and this module holds no copy of the grid or the pooling.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from contract.geometry import WindowGeometry
from serving.model_dir import resolve_model_dir
from serving.retry import ServingError

INPUT = "waveform"
WINDOW_OUTPUTS = ("probabilities", "window_probabilities", "window_weight", "window_speech", "window_start_s",
                  "window_end_s")
OUTPUTS = (*WINDOW_OUTPUTS, "metadata")
SIGNATURE_KEY = "serving_default"


def export_tflite(model_dir: str, output: str) -> int:
    """Write a float32 .tflite of the waveform path for one recording; return its size in bytes."""
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

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.float32, name=INPUT)])
    def one_recording(samples):
        out = waveform_fn(waveform=samples)
        return {**{k: out[k][0] for k in WINDOW_OUTPUTS}, "metadata": tf.identity(meta_bytes)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([one_recording.get_concrete_function()], model)
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
        if INPUT not in details[0] and "window" in details[0]:
            raise ServingError(f"{path}: a one-window .tflite (it leaves windowing and pooling to its runner); "
                               "write it again with `python -m serving export-tflite`")
        if missing:
            raise ServingError(f"{path}: not a model from `python -m serving export-tflite` "
                               f"(its signature lacks {', '.join(missing)})")
        self._runner = runner
        meta = json.loads(bytes(runner(**{INPUT: np.zeros([1, 1], np.float32)})["metadata"]))
        self.geometry = WindowGeometry.from_samples(meta["sample_rate"], meta["window"])
        self.sample_rate, self.languages = self.geometry.sample_rate, tuple(meta["languages"])

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        if embeddings:
            raise ServingError("a .tflite has no embeddings (use --model-dir)")
        out = self._runner(**{INPUT: np.asarray(waveform, np.float32)[None]})
        return {**{k: np.asarray(out[k]) for k in WINDOW_OUTPUTS},
                "window_seconds": self.geometry.window_seconds, "hop_seconds": self.geometry.hop_seconds,
                "sample_rate": self.sample_rate, "languages": np.asarray(self.languages)}
