"""The whole pipeline with every augmentation and every representation switched on.

Tiny synthetic corpus, a short training budget: this checks that the pieces fit together
(policy with a per-language override -> AudioAugmenter -> five representations -> a model
with one branch each -> TFMA -> push) and that the pushed serving graph holds no augmentation,
not how accurate the model gets.
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import local_runner
from audio.augment import AugmentationConfig
from config import AUGMENTATION_ALL
from contract import features
from contract.codec import read_floats, read_split
from tests.helpers.graph_ops import augmentation_ops, signature_ops
from tests.helpers.synthetic_corpus import synth_clip

LANGUAGES = ["English", "French", "German"]
RATE = 16000
ALL_REPRESENTATIONS = ["waveform", "stft_magnitude", "power_spectrogram", "log_mel", "mfcc"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_corpus):
    out = tmp_path_factory.mktemp("e2e_all")
    # German overrides every augmentation off, so its copies must come out as its originals.
    policy = {**AUGMENTATION_ALL,
              "per_language": {"German": {name: {"p": 0.0} for name in AugmentationConfig().to_dict()}}}
    argv = ["--corpus-dir", tiny_corpus[0], "--languages", ",".join(LANGUAGES),
            "--output-dir", str(out / "tfx"), "--serving-dir", str(out / "serving"),
            "--train-steps", "30", "--epochs", "1", "--eval-steps", "1", "--augment-copies", "1",
            "--segment-seconds", "1.0", "--eval-fraction", "0.25", "--accuracy-bound", "0.0", "--quiet",
            "--augmentation", json.dumps(policy), "--spec-augment", "on",
            "--representations", ",".join(ALL_REPRESENTATIONS), "--num-mel-bins", "128", "--mfcc-deltas", "2"]
    saved = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        summary = local_runner.run(local_runner.parse_args(argv))
    finally:
        if saved is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved
    return summary, out


def test_every_component_runs_with_everything_on(run):
    summary, _ = run
    assert {c: i["state"] for c, i in summary["components"].items()} == {
        "ImportSchemaGen": "ran", "S3AudioExampleGen": "ran", "AudioAugmenter": "ran", "Transform": "ran",
        "Trainer": "ran", "latest_blessed_model_resolver": "ran", "Evaluator": "ran", "Pusher": "ran",
        "StatisticsGen": "ran", "ValidationSchemaGen": "ran", "ExampleValidator": "ran", "DataValidator": "ran",
        "previous_ingestion_resolver": "ran", "warm_start_model_resolver": "ran"}
    assert summary["pushed_to"] and summary["evaluation"]["accuracy"] is not None


def test_transform_outputs_every_representation_and_the_model_reads_them(run):
    summary, out = run
    transform_graph = glob.glob(str(out / "tfx" / "pipeline_root" / "Transform" / "transform_graph" / "*"))
    spec = tft.TFTransformOutput(transform_graph[0]).transformed_feature_spec()
    frames = 1 + (RATE - 400) // 160
    expected = {"waveform": [RATE], "stft_magnitude": [frames, 257], "power_spectrogram": [frames, 257],
                "log_mel": [frames, 128], "mfcc": [frames, 39]}
    passed_through = (features.LABEL_XF, features.SPEAKER_BUCKET)   # the label; the calibration folds' key
    assert {k: list(v.shape) for k, v in spec.items() if k not in passed_through} == {
        features.transformed_name(k): v for k, v in expected.items()}
    model = tf.saved_model.load(summary["pushed_to"])
    clip = synth_clip("French", 7, 2.2, RATE, np.random.default_rng(5))
    result = model.signatures["predict_waveform"](waveform=tf.constant(clip[None]))
    assert result["probabilities"].shape == (1, len(LANGUAGES))
    assert abs(float(result["probabilities"].numpy().sum()) - 1.0) < 1e-4


def test_pushed_serving_graph_contains_no_augmentation(run):
    summary, _ = run
    for signature in ("serving_default", "predict_waveform", "predict_wav", "embed"):
        ops = signature_ops(summary["pushed_to"], signature)
        assert any(op == "Conv2D" for op, _ in ops)          # the walk reaches the model's layers
        assert any(op == "RFFT" for op, _ in ops)            # ... and the Transform graph's STFT
        assert augmentation_ops(ops) == [], signature


def test_the_per_language_override_reaches_the_augmenter(run):
    """German's override turns everything off: each German copy equals its original segment,
    while the other languages' copies (every augmentation on) mostly differ from theirs."""
    _, out = run
    uri = glob.glob(str(out / "tfx" / "pipeline_root" / "AudioAugmenter" / "augmented_examples" / "*"))[0]
    records: dict = {}
    for example in read_split(uri, "train"):
        f = example.features.feature
        key = (f[features.SOURCE_KEY].bytes_list.value[0].decode(), f[features.SEGMENT_INDEX].int64_list.value[0])
        language = f[features.LANGUAGE].bytes_list.value[0].decode()
        records.setdefault((language, key), []).append(read_floats(f[features.WAVEFORM]))
    changed = {language: [] for language in LANGUAGES}
    for (language, _), waves in records.items():
        assert len(waves) == 2                                   # the original and one copy
        changed[language].append(not np.array_equal(waves[0], waves[1]))
    assert changed["German"] and not any(changed["German"])
    for language in ("English", "French"):
        assert np.mean(changed[language]) > 0.5, language
