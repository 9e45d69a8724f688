"""The whole pipeline on a corpus with planted anomalies: warned about by default (with the clip
keys), the model still pushed with its model card; --halt-on-anomalies stops before Transform."""
from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf

from components.data_validator.checks import read_clip_records
from tests.helpers import planted_anomalies as planted
from tests.helpers.pipeline_runs import pipeline_argv, run_local_pipeline


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("planted_corpus")
    planted.make_planted_corpus(str(corpus))
    out = tmp_path_factory.mktemp("planted_run")
    argv = pipeline_argv(str(corpus), out)
    # A bucket of its own: embedded S3 servers started in this test process share moto's state,
    # and the other pipeline tests' demo bucket must keep exactly their corpus (and its cache key).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LANGID_BUCKET", "planted-anomalies")
        warned = run_local_pipeline(argv)
        halted = run_local_pipeline(argv + ["--halt-on-anomalies"])
    return warned, halted, out


def by_check(summary: dict) -> dict:
    out = {}
    for entry in summary["data_validation"]["anomalies"]:
        out.setdefault(entry["check"], []).append(entry)
    return out


def test_each_planted_anomaly_is_reported_with_its_clip_keys(runs):
    warned, _, _ = runs
    checks = by_check(warned)
    clipped = checks["schema:clip_clipped_fraction"][0]
    assert clipped["keys"] == [f"{planted.CLIPPED}"] and clipped["severity"] == "error"
    assert clipped["example_validator"]          # TFDV's own finding, not just ours
    assert planted.NOISE in checks["schema:clip_silent_fraction"][0]["keys"]
    duplicate = checks["duplicate_audio_conflicting_labels"][0]
    assert duplicate["keys"] == sorted([planted.DUPLICATE_SOURCE, planted.DUPLICATE_COPY])
    assert duplicate["languages"] == ["French", "German"]
    bilingual = checks["speaker_in_several_languages"]
    assert len(bilingual) == 1 and list(bilingual[0]["speakers"]) == ["en-s3"]
    assert planted.BILINGUAL in bilingual[0]["keys"]
    # Nothing else is flagged on the clean synthetic clips.
    flagged = {key for entries in checks.values() for entry in entries for key in entry["keys"]}
    assert flagged <= {planted.CLIPPED, planted.NOISE, planted.DUPLICATE_SOURCE, planted.DUPLICATE_COPY,
                       planted.BILINGUAL} | {key for key in flagged if key.startswith("English/en-s3__")}


def test_duplicates_land_on_one_side_of_the_split(runs):
    warned, _, _ = runs
    split_of = {r["source_key"]: r["split"] for r in read_clip_records(warned["examples_uri"])}
    assert split_of[planted.DUPLICATE_SOURCE] == split_of[planted.DUPLICATE_COPY]


def test_default_run_warns_and_pushes_with_a_model_card(runs):
    warned, _, out = runs
    assert warned["components"]["Transform"]["state"] == "ran" and warned["pushed_to"]
    card = (out / "tfx" / "reports" / "model_card.md").read_text()
    assert "Trained on synthetic speech" in card
    assert f"Overall accuracy **{warned['evaluation']['accuracy']:.3f}**" in card
    assert "duplicate_audio_conflicting_labels" in card
    html = (out / "tfx" / "reports" / "model_card.html").read_text()
    assert "<table>" in html and "Lineage" in html
    pushed_card = os.path.join(warned["pushed_to"], "assets.extra", "model_card.md")
    with open(pushed_card) as f:
        assert f.read() == card
    model = tf.saved_model.load(warned["pushed_to"])     # the card does not disturb loading
    assert "predict_waveform" in model.signatures


def test_halt_on_anomalies_stops_before_transform(runs):
    _, halted, out = runs
    with open(out / "tfx" / "reports" / "run_summary.json") as f:
        on_disk = json.load(f)
    assert on_disk["halted"] == halted["halted"] and on_disk["data_validation"] == halted["data_validation"]
    assert "--halt-on-anomalies" in halted["halted"] and planted.CLIPPED in halted["halted"]
    assert halted["components"]["AnomalyGate"]["state"] == "failed"
    assert "Transform" not in halted["components"] and "pushed_to" not in halted
    assert halted["data_validation"]["errors"] >= 3
