"""Calibration, open set and duration slices in the tiny pipeline run (conftest `pipeline_run`):
what the run summary reports, what the pushed SavedModel holds, and `--reject-unknown`."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from models import open_set
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import clip, run_cli, write

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_OF_SET = os.path.join(ROOT, "data", "open_set")


@pytest.fixture(scope="module")
def run(pipeline_run):
    summary, out, _ = pipeline_run
    return summary, summary["pushed_to"]


def test_summary_reports_ece_before_and_after_with_a_reliability_diagram(run):
    summary, _ = run
    calibration = summary["calibration"]
    assert 0.0 <= calibration["ece"] <= 1.0 and 0.0 <= calibration["ece_uncalibrated"] <= 1.0
    assert calibration["temperature"] > 0 and calibration["examples"] == summary["evaluation"]["examples"]
    diagram = [p for p in summary["pngs"] if p.endswith("reliability_diagram.png")]
    assert diagram and os.path.getsize(diagram[0]) > 1000
    with open(os.path.join(os.path.dirname(diagram[0]), "run_summary.json")) as f:
        assert json.load(f)["calibration"]["ece"] == calibration["ece"]


def test_evaluator_slices_by_duration_bucket(run):
    per_duration = run[0]["evaluation"]["per_duration"]
    assert per_duration and all(b.endswith("s") for b in per_duration)
    assert sum(e["examples"] for e in per_duration.values()) == run[0]["evaluation"]["examples"]


def test_signatures_answer_temperature_scaled_probabilities(run):
    """Setting the baked-in temperature back to 1 gives the raw model: softmax(log raw / T) must be
    what the signature answered."""
    _, model_dir = run
    model = tf.saved_model.load(model_dir)
    with open(os.path.join(model_dir, "assets.extra", "calibration.json")) as f:
        temperature = json.load(f)["temperature"]
    assert float(model.calibration_temperature.numpy()) == pytest.approx(temperature)
    waveform = tf.constant(clip("French", 1.5)[None])
    calibrated = model.signatures["predict_waveform"](waveform=waveform)["probabilities"].numpy()[0]
    model.calibration_temperature.assign(1.0)
    raw = model.signatures["predict_waveform"](waveform=waveform)["probabilities"].numpy()[0]
    expected = np.exp(np.log(raw) / temperature)
    np.testing.assert_allclose(calibrated, expected / expected.sum(), atol=1e-5)
    assert temperature == pytest.approx(1.0) or not np.allclose(calibrated, raw, atol=1e-4)


def test_open_set_threshold_is_stored_with_the_model_and_reported(run):
    summary, model_dir = run
    params = open_set.load_params(model_dir)
    assert params["languages"] == LANGUAGES and params["centroids"].shape[0] == len(LANGUAGES)
    report = summary["open_set"]
    assert report["min_probability"] == params["min_probability"]
    roles = {v["role"] for v in report["per_language"].values()}
    with open(os.path.join(OUT_OF_SET, "manifest.jsonl")) as f:
        measure_clips = sum(json.loads(line)["role"] == "measure" for line in f if line.strip())
    assert roles == {"threshold", "measure"} and report["measured"]["out_of_set_examples"] == measure_clips


def _files(tmp_path):
    with open(os.path.join(OUT_OF_SET, "manifest.jsonl")) as f:
        unseen = [os.path.join(OUT_OF_SET, json.loads(line)["key"]) for line in f][:4]
    known = [write(tmp_path / f"{language}.wav", clip(language, 2.5, seed=3), 16000) for language in LANGUAGES]
    return unseen + known


def test_reject_unknown_answers_unknown_or_a_model_language(run, tmp_path, capsys):
    _, model_dir = run
    files = _files(tmp_path)
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", model_dir, "--reject-unknown", *files])
    assert status == 0 and not errors and len(records) == len(files)
    params = open_set.load_params(model_dir)
    for record in records:
        top = max(record["probabilities"].values())
        should_reject = top < params["min_probability"] or record["centroid_distance"] > params["max_distance"]
        assert (record["language"] == "unknown") == should_reject
        assert record["language"] in LANGUAGES + ["unknown"]
    # --unknown-threshold replaces the stored probability threshold (the distance one stays):
    # at the median top probability, the less sure half is unknown.
    tops = sorted(max(r["probabilities"].values()) for r in records)
    threshold = tops[len(tops) // 2]
    _, strict, _ = run_cli(capsys, ["predict", "--model-dir", model_dir, "--reject-unknown",
                                    "--unknown-threshold", str(threshold), *files])
    for record in strict:
        should_reject = max(record["probabilities"].values()) < threshold or \
            record["centroid_distance"] > params["max_distance"]
        assert (record["language"] == "unknown") == should_reject
    assert sum(r["language"] == "unknown" for r in strict) >= len(tops) // 2
    _, plain, _ = run_cli(capsys, ["predict", "--model-dir", model_dir, *files])
    assert all(r["language"] in LANGUAGES and "centroid_distance" not in r for r in plain)


@pytest.mark.parametrize("bad", ["1.5", "-0.2", "x"])
def test_threshold_outside_the_unit_interval_is_refused(run, bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, ["predict", "--model-dir", run[1], "--reject-unknown", "--unknown-threshold", bad, "a.wav"])
    assert exit_info.value.code == 2
    assert "[0, 1]" in capsys.readouterr().err or bad == "x"


def test_reject_unknown_with_a_model_without_threshold_is_a_clear_error(run, tmp_path, capsys):
    old = tmp_path / "old_model"
    shutil.copytree(run[1], old)
    os.remove(old / open_set.PARAMS_FILE)
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", str(old), "--reject-unknown", "a.wav"])
    assert status == 2 and not records and "no open-set threshold" in errors[0]


def test_unknown_threshold_without_reject_unknown_is_an_error(run, capsys):
    status, _, errors = run_cli(capsys, ["predict", "--model-dir", run[1], "--unknown-threshold", "0.5", "a.wav"])
    assert status == 2 and "--unknown-threshold needs --reject-unknown" in errors[0]
