"""The whole pipeline through local_runner on a tiny corpus, twice, then on a new scrape.

First run: ingestion from the embedded S3 endpoint through Pusher; the pushed SavedModel must
load on its own and classify fresh clips. Second run: every component is reused from the
ML Metadata cache. Third run (new audio): the Trainer warm-starts from the first model.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from contract import features
from contract.codec import float_feature
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.pipeline_runs import pipeline_argv, run_local_pipeline
from tests.helpers.synthetic_corpus import make_corpus, synth_clip

RATE = 16000


@pytest.fixture(scope="module")
def runs(pipeline_run):
    first, out, argv = pipeline_run
    return first, run_local_pipeline(argv), out


def test_first_run_ingests_trains_blesses_and_pushes(runs):
    first, _, out = runs
    assert {c: info["state"] for c, info in first["components"].items()} == {
        "ImportSchemaGen": "ran", "S3AudioExampleGen": "ran", "AudioAugmenter": "ran", "Transform": "ran",
        "Trainer": "ran", "latest_blessed_model_resolver": "ran", "Evaluator": "ran", "Pusher": "ran",
        "StatisticsGen": "ran", "ValidationSchemaGen": "ran", "ExampleValidator": "ran", "DataValidator": "ran",
        "previous_ingestion_resolver": "ran", "warm_start_model_resolver": "ran"}
    split = first["ingestion"]["per_split"]
    # A first run: every clip of the tiny corpus is ingested by this run, as span 0.
    assert first["ingestion"]["clips_ingested"] == first["ingestion"]["clips_total"] == 36
    assert first["ingestion"]["clips_carried_over"] == 0 and first["ingestion"]["span"] == 0
    assert set(split["train"]) == set(split["eval"]) == set(LANGUAGES)
    assert first["evaluation"]["accuracy"] > 0.5
    assert set(first["evaluation"]["per_language"]) == set(LANGUAGES)
    assert first["blessed"] is True
    assert first["pushed_to"].startswith(str(out / "serving"))
    assert os.path.exists(os.path.join(first["pushed_to"], "saved_model.pb"))
    for png in first["pngs"]:
        with open(png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert {os.path.basename(p) for p in first["pngs"]} == {"augmentations.png", "training_curves.png",
                                                            "confusion_matrix.png", "reliability_diagram.png"}


def test_second_run_reuses_the_cache(runs):
    """Every component whose inputs are unchanged is reused. The Evaluator is the exception
    README names: its baseline input is now the first run's blessed model, so it re-runs, and
    Pusher follows its new blessing; the resolver always runs (it is a query, not a step)."""
    first, second, _ = runs
    states = {c: info["state"] for c, info in second["components"].items()}
    reused = ["ImportSchemaGen", "S3AudioExampleGen", "AudioAugmenter", "Transform", "Trainer"]
    assert {c: states[c] for c in reused} == dict.fromkeys(reused, "cached")
    assert set(states) == set(first["components"])
    assert {states[c] for c in set(states) - set(reused)} <= {"ran", "cached"}


def test_a_run_on_a_new_scrape_warm_starts_from_the_blessed_model(runs, tmp_path_factory):
    """Run 1 trains from scratch; run 2 (same bucket) keeps the Trainer cached, so its record is run 1's;
    a run on a changed bucket trains again, starting from run 1's blessed model."""
    first, second, out = runs
    assert first["trainer"] == {"warm_started_from": None, "warm_start_reason": "no blessed model"}
    assert second["trainer"] == first["trainer"] and first["blessed"]
    scrape = tmp_path_factory.mktemp("new_scrape")
    make_corpus(str(scrape), speakers_per_language=4, clips_per_speaker=3, seed=5)   # same names, new audio
    third = run_local_pipeline(pipeline_argv(str(scrape), out))
    assert third["components"]["Trainer"]["state"] == "ran"
    assert third["trainer"] == {"warm_started_from": first["trained_model_uri"],
                                "warm_start_reason": "same languages: continue"}


def test_run_summary_matches_a_hand_count_of_the_models_eval_predictions(runs):
    """Accuracy, per-language accuracy, per-class precision/recall and the confusion matrix of the
    summary, against counts made here from the eval split and the pushed model's own predictions."""
    import glob

    from contract.codec import read_split

    first, _, out = runs
    uris = glob.glob(str(out / "tfx" / "pipeline_root" / "S3AudioExampleGen" / "examples" / "*"))
    # The first run's ingestion is the oldest one (a later test ingests a new scrape into `out`).
    first_ingestion = min(uris, key=lambda uri: int(uri.rsplit("/", 1)[1]))
    examples = list(read_split(first_ingestion, "eval"))
    model = tf.saved_model.load(first["pushed_to"])
    predicted = []
    for start in range(0, len(examples), 32):
        batch = [e.SerializeToString() for e in examples[start:start + 32]]
        predicted += list(np.argmax(model.signatures["serving_default"](examples=tf.constant(batch))["probabilities"]
                                    .numpy(), axis=1))
    actual = [e.features.feature[features.LABEL].int64_list.value[0] for e in examples]
    n = len(LANGUAGES)
    confusion = np.zeros((n, n))
    for a, p in zip(actual, predicted):
        confusion[a, p] += 1

    evaluation = first["evaluation"]
    np.testing.assert_array_equal(np.array(evaluation["confusion"]), confusion)
    assert evaluation["examples"] == len(examples)
    assert evaluation["accuracy"] == pytest.approx(np.trace(confusion) / len(examples), abs=1e-6)
    for i, language in enumerate(LANGUAGES):
        row, column = confusion[i].sum(), confusion[:, i].sum()
        assert evaluation["per_language"][language]["accuracy"] == pytest.approx(confusion[i, i] / row, abs=1e-6)
        assert evaluation["per_class"][language]["recall"] == pytest.approx(confusion[i, i] / row, abs=1e-6)
        if column:
            assert evaluation["per_class"][language]["precision"] == pytest.approx(confusion[i, i] / column, abs=1e-6)


def test_pushed_model_classifies_unseen_clips_through_both_signatures(runs):
    first, _, _ = runs
    model = tf.saved_model.load(first["pushed_to"])
    rng = np.random.default_rng(123)
    # A speaker the corpus never had (index 7), clips of different lengths.
    clips = {lang: synth_clip(lang, 7, seconds, RATE, rng) for lang, seconds in zip(LANGUAGES, (1.2, 2.0, 3.1))}

    waveform_fn = model.signatures["predict_waveform"]
    for language, clip in clips.items():
        out = waveform_fn(waveform=tf.constant(clip[None]))
        probabilities = out["probabilities"].numpy()[0]
        assert probabilities.shape == (len(LANGUAGES),)
        assert abs(probabilities.sum() - 1.0) < 1e-4
        assert out["language"].numpy()[0].decode() == language

    examples_fn = model.signatures["serving_default"]
    serialized = []
    for clip in clips.values():
        feature = {features.WAVEFORM: float_feature(clip[: int(1.5 * RATE)])}
        serialized.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    out = examples_fn(examples=tf.constant(serialized))
    assert [x.decode() for x in out["language"].numpy()] == LANGUAGES


def test_pushed_serving_graph_contains_no_augmentation(runs):
    from tests.helpers.graph_ops import augmentation_ops, signature_ops

    first, _, _ = runs
    for signature in ("serving_default", "predict_waveform"):
        ops = signature_ops(first["pushed_to"], signature)
        assert any(op == "Conv2D" for op, _ in ops) and any(op == "RFFT" for op, _ in ops)
        assert augmentation_ops(ops) == [], signature
