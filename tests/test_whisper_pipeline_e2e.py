"""The pipeline on `--representations whisper`, end to end (conftest `whisper_pipeline_run`: the
tiny run's flags plus the representation): Transform's pooled encoder features, the head with
Whisper's zero-shot term, the Evaluator's blessing, Pusher, the model card, and what the
pushed SavedModel's four signatures answer. One run, paid once, behind every test here."""
from __future__ import annotations

import gc
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from config import TrainingConfig
from contract import features
from contract.codec import float_feature
from models.whisper.languages import CODES, NAMES
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import RATE, clip, run_cli, wav_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHISPER_OUT = "whisper_language_probabilities"
WINDOW_SECONDS = 1.5                      # the tiny run's --segment-seconds: one window per clip below
POOLED_DIM = 1024                         # mean_std pooling (the default) of 512 encoder states
# A transformed window: the pooled states (4,096 bytes) and Whisper's 99 log-probabilities
# (396 bytes) as floats, plus the label, the speaker fold and the tf.Example framing.
MAX_EXAMPLE_BYTES = 5_000


@pytest.fixture(scope="module")
def run(whisper_pipeline_run):
    summary, out, _ = whisper_pipeline_run
    return summary, out


@pytest.fixture(scope="module")
def model(run):
    yield tf.saved_model.load(run[0]["pushed_to"])
    gc.collect()          # the loaded model holds Whisper's weights: free them for the next module


@pytest.fixture(scope="module")
def clips() -> list[tuple[str, np.ndarray]]:
    """Two one-window clips per language by a speaker the corpus never had."""
    return [(language, clip(language, WINDOW_SECONDS, seed=seed)) for language in LANGUAGES for seed in (1, 2)]


def _outputs(result: dict) -> dict:
    return {k: v.numpy() for k, v in result.items()}


def _names(values) -> list[str]:
    return [v.decode() for v in values]


def test_whisper_run_trains_blesses_and_pushes_a_model_on_whisper_features_only(run):
    summary, out = run
    states = {c: info["state"] for c, info in summary["components"].items()}
    assert {states[c] for c in ("Transform", "Trainer", "Evaluator", "Pusher")} == {"ran"}
    assert summary["evaluation"]["accuracy"] >= 0.8
    assert set(summary["evaluation"]["per_language"]) == set(LANGUAGES)
    assert summary["blessed"] is True
    pushed = summary["pushed_to"]
    assert pushed.startswith(str(out / "serving")) and os.path.exists(os.path.join(pushed, "saved_model.pb"))
    with open(os.path.join(pushed, "warm_start", "meta.json")) as f:
        meta = json.load(f)
    # The head reads the pooled encoder states and Whisper's log-probabilities, nothing else.
    assert meta["input_shapes"] == {features.WHISPER_XF: [POOLED_DIM], features.WHISPER_LANGUAGE_XF: [len(CODES)]}


def test_model_card_states_whispers_licence_and_pretraining_data(run):
    summary, _ = run
    for key in ("md", "pushed_md"):
        with open(summary["model_card"][key], encoding="utf-8") as f:
            card = f.read()
        assert "Whisper-base" in card and "MIT licence" in card, key
        assert "680,000 hours" in card, key


def _transformed(out, split: str) -> list[bytes]:
    uris = glob.glob(str(out / "tfx" / "pipeline_root" / "Transform" / "transformed_examples" / "*"))
    assert len(uris) == 1, uris
    records = []
    for path in sorted(glob.glob(os.path.join(uris[0], f"Split-{split}", "*"))):
        compression = "GZIP" if path.endswith(".gz") else ""
        records += [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type=compression)]
    return records


def test_transformed_examples_carry_the_pooled_encoder_features_in_a_few_kilobytes(run):
    summary, out = run
    per_split = summary["ingestion"]["per_split"]
    for split, copies in (("train", 1), ("eval", 0)):       # --augment-copies 1: augmented train copies too
        records = _transformed(out, split)
        segments = sum(v["segments"] for v in per_split[split].values())
        assert len(records) == segments * (1 + copies), split
        assert max(len(r) for r in records) <= MAX_EXAMPLE_BYTES, split
        parsed = [tf.train.Example.FromString(r).features.feature for r in records]
        assert set(parsed[0]) == {features.WHISPER_XF, features.WHISPER_LANGUAGE_XF, features.LABEL_XF,
                                  features.SPEAKER_BUCKET}, split
        states = np.array([list(p[features.WHISPER_XF].float_list.value) for p in parsed])
        log_probs = np.array([list(p[features.WHISPER_LANGUAGE_XF].float_list.value) for p in parsed])
        assert states.shape == (len(records), POOLED_DIM) and np.isfinite(states).all()
        assert len(np.unique(states.round(4), axis=0)) == len(records), "every window its own encoder output"
        # Whisper's own log-probabilities over its 99 languages, one distribution per window
        assert log_probs.shape == (len(records), len(CODES))
        np.testing.assert_allclose(np.log(np.exp(log_probs).sum(axis=1)), 0.0, atol=1e-3)


def test_every_signature_answers_whisper_languages_and_scores(model, clips):
    waves = np.stack([c for _, c in clips])
    expected = [language for language, _ in clips]
    by_waveform = _outputs(model.signatures["predict_waveform"](waveform=tf.constant(waves)))
    by_wav = _outputs(model.signatures["predict_wav"](audio=tf.constant([wav_bytes(c, RATE) for _, c in clips])))
    embedded = _outputs(model.signatures["embed"](waveform=tf.constant(waves)))
    for name, out in (("predict_waveform", by_waveform), ("predict_wav", by_wav), ("embed", embedded)):
        whisper = out[WHISPER_OUT]
        assert whisper.shape == (len(clips), len(CODES)), name
        np.testing.assert_allclose(whisper.sum(axis=1), 1.0, atol=1e-4, err_msg=name)
        assert (whisper >= 0).all(), name
        assert all(_names(row) == list(CODES) for row in out["whisper_languages"]), name
        assert out["window_whisper_language_probabilities"].shape == (len(clips), 1, len(CODES)), name
        assert out["probabilities"].shape == (len(clips), len(LANGUAGES)), name
        np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-4, err_msg=name)
        assert _names(out["language"]) == expected, name
    # only the 16-bit WAV encoding differs between the waveform and the WAV file
    np.testing.assert_allclose(by_wav[WHISPER_OUT], by_waveform[WHISPER_OUT], atol=1e-2)
    np.testing.assert_allclose(embedded[WHISPER_OUT], by_waveform[WHISPER_OUT], atol=1e-6)
    assert embedded["embedding"].shape[0] == len(clips)
    # serving_default (TFMA's, TF Serving's classify-style callers) scores with the same model
    serialized = [tf.train.Example(features=tf.train.Features(feature={features.WAVEFORM: float_feature(c)}))
                  .SerializeToString() for _, c in clips]
    by_examples = _outputs(model.signatures["serving_default"](examples=tf.constant(serialized)))
    assert _names(by_examples["language"]) == expected
    np.testing.assert_allclose(by_examples["probabilities"], by_waveform["probabilities"], atol=1e-4)
    # ... and carries Whisper's own distribution too (one window a clip here: equal to the pooled one)
    np.testing.assert_allclose(by_examples[WHISPER_OUT], by_waveform[WHISPER_OUT], atol=1e-4)
    assert _names(by_examples["whisper_languages"][0]) == list(CODES)


def test_served_probabilities_are_the_head_plus_the_weighted_zero_shot_term(run, model, clips):
    """softmax(head logits + w x Whisper's log-softmax over the model's languages), recomputed here
    from the pushed head weights and the model's own window outputs, at temperature 1."""
    summary, _ = run
    pushed = summary["pushed_to"]
    with open(os.path.join(pushed, "warm_start", "meta.json")) as f:
        layers = [name for name, _ in json.load(f)["layers"]]
    weights = np.load(os.path.join(pushed, "warm_start", "weights.npz"))
    index = f"{layers.index('logits'):03d}"
    kernel, bias = weights[f"{index}/0"], weights[f"{index}/1"]
    temperature = float(model.calibration_temperature.numpy())
    model.calibration_temperature.assign(1.0)
    try:
        out = _outputs(model.signatures["embed"](waveform=tf.constant(np.stack([c for _, c in clips]))))
    finally:
        model.calibration_temperature.assign(temperature)
    head = out["window_embeddings"][:, 0] @ kernel + bias
    whisper = np.log(out["window_whisper_language_probabilities"][:, 0])
    mine = whisper[:, [CODES.index(code) for code in ("en", "fr", "de")]]          # LANGUAGES' codes
    zero_shot = mine - np.log(np.exp(mine).sum(axis=1, keepdims=True))

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    weight = TrainingConfig().zero_shot_weight
    assert weight > 0
    served = out["window_probabilities"][:, 0]
    np.testing.assert_allclose(served, softmax(head + weight * zero_shot), atol=1e-4)
    # the term is not negligible on these clips, so the comparison above can tell it is there
    assert np.abs(served - softmax(head)).max() > 1e-3


def test_pushed_model_classifies_the_test_speakers_clips_well_above_chance(model):
    rng = np.random.default_rng(7)
    waves, expected = [], []
    for language in LANGUAGES:
        for seconds in (1.2, 2.0, 3.1):
            waves.append(clip(language, seconds, seed=int(rng.integers(1 << 30))))
            expected.append(language)
    fn = model.signatures["predict_waveform"]
    answers = [_names(fn(waveform=tf.constant(w[None]))["language"].numpy())[0] for w in waves]
    accuracy = np.mean([a == e for a, e in zip(answers, expected)])
    assert accuracy >= 7 / 9, list(zip(expected, answers))     # chance: 1/3


def test_whisper_serving_graph_has_only_core_ops_and_no_augmentation(run):
    from tensorflow.python.framework import op_def_registry

    from tests.helpers.graph_ops import augmentation_ops, signature_ops

    pushed = run[0]["pushed_to"]
    for signature in ("serving_default", "predict_waveform", "predict_wav", "embed"):
        ops = signature_ops(pushed, signature)
        types = {op for op, _ in ops}
        # Whisper in the graph: its log-mel (RFFT), its encoder's GELU (Erf), its language head (LogSoftmax)
        assert {"RFFT", "Erf", "LogSoftmax"} <= types, signature
        assert [op for op in sorted(types) if op_def_registry.get(op) is None or op.startswith("IO>")] == [], \
            signature
        assert augmentation_ops(ops) == [], signature


def test_reject_unknown_names_whispers_guess_for_languages_outside_the_model(run, capsys):
    """Out-of-set speech (data/open_set) answered "unknown", with what Whisper hears instead."""
    pushed = run[0]["pushed_to"]
    files = [os.path.join(ROOT, "data", "open_set", key) for key in
             ("Japanese/espeak-f1__01.mp3", "Hindi/espeak-f1__01.mp3")]
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, "--reject-unknown", *files])
    assert status == 0 and errors == [], errors
    for record in records:
        assert record["language"] == "unknown", record
        assert record["unknown_guess"] in set(NAMES.values()) - set(LANGUAGES), record
        assert 0.0 < record["unknown_guess_probability"] <= 1.0, record
