"""Warm start and transfer: reuse a blessed model's trained weights in the next Trainer run.

The exported SavedModel carries signatures only (no Keras objects), so the Trainer also writes
plain per-layer weights and what they were trained for (languages, input shapes, model sizes)
into `<serving model dir>/warm_start/`. A later run reads them back:

- same languages, shapes and sizes: every layer is copied ("same languages: continue");
- other languages, same shapes and sizes: every layer but the output layer is copied, and the
  output layer keeps the base's rows for the languages both lists share; languages the base
  never saw start from the fresh initialisation ("languages added: transfer");
- anything else (other features, other sizes, files missing as in models from before this
  module): training starts from scratch, and the reason says why.
"""
from __future__ import annotations

import io
import json
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

WARM_START_DIR = "warm_start"
WEIGHTS_FILE = "weights.npz"
META_FILE = "meta.json"
OUTPUT_LAYERS = ("probabilities", "logits")   # the CNN's softmax layer, the whisper head's logits
FROM_SCRATCH = None   # mode when nothing is copied


def _weighted_layers(model: keras.Model) -> list:
    """Layers that hold weights, in graph order: unnamed layers (BatchNormalization after the
    temporal convs) get process-wide counters in their names, so order, not name, matches them."""
    return [layer for layer in model.layers if layer.weights]


def save(model: keras.Model, serving_model_dir: str, languages, input_shapes: dict, model_config: dict) -> str:
    """Write weights + meta.json beside the export; each file appears complete or not at all."""
    directory = os.path.join(serving_model_dir, WARM_START_DIR)
    tf.io.gfile.makedirs(directory)
    arrays = {f"{i:03d}/{j}": w for i, layer in enumerate(_weighted_layers(model))
              for j, w in enumerate(layer.get_weights())}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    meta = {"languages": list(languages), "input_shapes": {k: list(v) for k, v in input_shapes.items()},
            "model_config": model_config,
            "layers": [[layer.name, [list(w.shape) for w in layer.get_weights()]] for layer in _weighted_layers(model)]}
    for name, payload in ((WEIGHTS_FILE, buffer.getvalue()), (META_FILE, json.dumps(meta, indent=1).encode())):
        tmp = os.path.join(directory, f".{name}.tmp")
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(payload)
        tf.io.gfile.rename(tmp, os.path.join(directory, name), overwrite=True)
    return directory


def load(base_model_dir: str) -> tuple[dict | None, dict | None]:
    """(meta, {layer index: [arrays]}) of a base model, or (None, None) when it has no warm-start files."""
    directory = os.path.join(base_model_dir, WARM_START_DIR)
    meta_path, weights_path = os.path.join(directory, META_FILE), os.path.join(directory, WEIGHTS_FILE)
    if not (tf.io.gfile.exists(meta_path) and tf.io.gfile.exists(weights_path)):
        return None, None
    with tf.io.gfile.GFile(meta_path) as f:
        meta = json.load(f)
    with tf.io.gfile.GFile(weights_path, "rb") as f:
        archive = np.load(io.BytesIO(f.read()))
        weights: dict[int, list] = {}
        for key in sorted(archive.files, key=lambda k: (int(k.split("/")[0]), int(k.split("/")[1]))):
            weights.setdefault(int(key.split("/")[0]), []).append(archive[key])
    return meta, weights


def plan(meta: dict | None, languages, input_shapes: dict, model_config: dict) -> tuple[str | None, str]:
    """(mode, reason): mode "continue", "transfer" or FROM_SCRATCH, with the reason in words."""
    if meta is None:
        return FROM_SCRATCH, "base model has no warm-start weights (older version)"
    if {k: list(v) for k, v in input_shapes.items()} != meta["input_shapes"]:
        return FROM_SCRATCH, "feature shapes differ"
    if json.loads(json.dumps(model_config)) != meta["model_config"]:
        return FROM_SCRATCH, "model config differs"
    if list(languages) == meta["languages"]:
        return "continue", "same languages: continue"
    added = [lang for lang in languages if lang not in meta["languages"]]
    removed = [lang for lang in meta["languages"] if lang not in languages]
    if added and not removed:
        return "transfer", "languages added: transfer"
    return "transfer", "languages changed: transfer"


def apply(model: keras.Model, meta: dict, weights: dict, mode: str, languages) -> None:
    """Copy the base's weights into the freshly built `model` (see the module docstring)."""
    layers = _weighted_layers(model)
    if len(layers) != len(meta["layers"]):
        raise ValueError(f"base model has {len(meta['layers'])} weighted layers, this one {len(layers)}")
    for index, layer in enumerate(layers):
        base = weights[index]
        if layer.name in OUTPUT_LAYERS and mode == "transfer":
            kernel, bias = layer.get_weights()
            for new_row, language in enumerate(languages):
                if language in meta["languages"]:
                    old_row = meta["languages"].index(language)
                    kernel[:, new_row], bias[new_row] = base[0][:, old_row], base[1][old_row]
            layer.set_weights([kernel, bias])
            continue
        layer.set_weights(base)   # raises on a shape mismatch


def warm_start(model: keras.Model, base_model_dir: str | None, languages, input_shapes: dict,
               model_config: dict, enabled: bool = True) -> dict:
    """Load what can be reused from `base_model_dir` into `model`; returns the record for the reports:
    {"warm_started_from": dir or None, "warm_start_reason": ...}."""
    if not enabled:
        return {"warm_started_from": None, "warm_start_reason": "disabled"}
    if not base_model_dir:
        return {"warm_started_from": None, "warm_start_reason": "no blessed model"}
    meta, weights = load(base_model_dir)
    mode, reason = plan(meta, languages, input_shapes, model_config)
    if mode is FROM_SCRATCH:
        return {"warm_started_from": None, "warm_start_reason": reason}
    apply(model, meta, weights, mode, languages)
    return {"warm_started_from": base_model_dir, "warm_start_reason": reason}
