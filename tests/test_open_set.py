"""The open-set decision (models/open_set.py) on synthetic embeddings."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from models import open_set

LANGS = ["A", "B", "C"]


def _clusters(rng, n_per_class: int, spread: float):
    """Three in-set classes around orthogonal directions; out-of-set around a fourth one."""
    dim = 8
    axes = np.eye(dim)
    emb = np.concatenate([axes[c] + spread * rng.normal(size=(n_per_class, dim)) for c in range(3)])
    labels = np.repeat(np.arange(3), n_per_class)
    unknown = axes[3] + 0.5 * axes[0] + spread * rng.normal(size=(n_per_class, dim))
    return emb, labels, unknown


def test_centroids_point_at_each_class():
    rng = np.random.default_rng(0)
    emb, labels, _ = _clusters(rng, 200, 0.1)
    centres = open_set.centroids(emb, labels, 3)
    assert np.allclose(np.linalg.norm(centres, axis=1), 1.0)
    assert np.array_equal(centres.argmax(axis=1), [0, 1, 2])
    assert np.allclose(open_set.centroid_distance(np.eye(8)[:3], np.arange(3), centres), 0.0, atol=0.02)


def test_chosen_thresholds_reject_the_unknown_cluster_and_keep_the_known():
    rng = np.random.default_rng(1)
    emb, labels, unknown = _clusters(rng, 300, 0.15)
    centres = open_set.centroids(emb, labels, 3)
    top = np.full(len(labels), 0.9)                       # confident everywhere: only distance separates
    in_distance = open_set.centroid_distance(emb, labels, centres)
    out_distance = open_set.centroid_distance(unknown, np.zeros(len(unknown), int), centres)
    chosen = open_set.choose_thresholds(top, in_distance, np.ones(len(labels), bool),
                                        np.full(len(unknown), 0.9), out_distance, min_kept_correct=0.95)
    assert chosen["chosen_kept_correct"] >= 0.95
    assert chosen["chosen_rejected"] > 0.95
    # Fresh draws of both (measured, not chosen on): the same separation.
    emb2, labels2, unknown2 = _clusters(np.random.default_rng(2), 300, 0.15)
    measured = open_set.rates(np.full(900, 0.9), open_set.centroid_distance(emb2, labels2, centres),
                              np.ones(900, bool), np.full(300, 0.9),
                              open_set.centroid_distance(unknown2, np.zeros(300, int), centres),
                              chosen["min_probability"], chosen["max_distance"])
    assert measured["in_set_kept_correct"] >= 0.9
    assert measured["out_of_set_rejected"] > 0.9


def test_probability_threshold_alone_when_embeddings_do_not_separate():
    in_top = np.linspace(0.6, 1.0, 100)
    out_top = np.linspace(0.2, 0.55, 50)
    chosen = open_set.choose_thresholds(in_top, np.zeros(100), np.ones(100, bool), out_top, np.zeros(50),
                                        min_kept_correct=1.0)
    assert 0.55 < chosen["min_probability"] <= 0.6
    assert chosen["chosen_rejected"] == 1.0 and chosen["chosen_kept_correct"] == 1.0


def test_kept_correct_floor_holds_when_unknowns_look_like_knowns():
    # Out-of-set scores overlap the in-set ones: every rejected unknown costs a known.
    in_top = np.linspace(0.3, 1.0, 100)
    correct = np.ones(100, bool)
    chosen = open_set.choose_thresholds(in_top, np.zeros(100), correct, np.linspace(0.3, 1.0, 50), np.zeros(50),
                                        min_kept_correct=0.92)
    assert chosen["chosen_kept_correct"] >= 0.92
    assert 0.0 < chosen["chosen_rejected"] < 0.2
    # Below the target accuracy, no correct answer may be lost (the wrong ones are the least sure).
    correct = np.arange(100) >= 20                     # 80 % accurate
    chosen = open_set.choose_thresholds(in_top, np.zeros(100), correct, np.linspace(0.3, 1.0, 50), np.zeros(50))
    assert chosen["min_kept_correct"] == pytest.approx(0.8)
    assert chosen["chosen_kept_correct"] == pytest.approx(0.8) and chosen["chosen_rejected"] >= 0.18


def _params(tmp_path, **extra):
    params = {"languages": LANGS, "centroids": np.eye(3, 4).tolist(), "min_probability": 0.5,
              "max_distance": 0.3, **extra}
    open_set.save_params(str(tmp_path), params)
    return open_set.load_params(str(tmp_path))


def test_decide(tmp_path):
    params = _params(tmp_path)
    probs = {"A": 0.8, "B": 0.1, "C": 0.1}
    assert open_set.decide(probs, np.array([1.0, 0.1, 0, 0]), params)["language"] == "A"
    far = open_set.decide(probs, np.array([0.0, 1.0, 0, 0]), params)
    assert far["language"] == open_set.UNKNOWN and "distance" in far["unknown_reason"]
    unsure = open_set.decide({"A": 0.4, "B": 0.35, "C": 0.25}, np.array([1.0, 0, 0, 0]), params)
    assert unsure["language"] == open_set.UNKNOWN and "probability" in unsure["unknown_reason"]
    # An explicit threshold overrides the stored one.
    assert open_set.decide({"A": 0.4, "B": 0.35, "C": 0.25}, np.array([1.0, 0, 0, 0]), params,
                           min_probability=0.3)["language"] == "A"


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_threshold_outside_unit_interval_is_refused(tmp_path, bad):
    params = _params(tmp_path)
    with pytest.raises(open_set.OpenSetError, match=r"\[0, 1\]"):
        open_set.decide({"A": 0.8, "B": 0.1, "C": 0.1}, np.ones(4), params, min_probability=bad)
    path = os.path.join(tmp_path, open_set.PARAMS_FILE)
    with open(path) as f:
        stored = json.load(f)
    with open(path, "w") as f:
        json.dump({**stored, "min_probability": bad}, f)
    with pytest.raises(open_set.OpenSetError, match="stored"):
        open_set.load_params(str(tmp_path))


def test_model_without_stored_threshold_is_a_clear_error(tmp_path):
    with pytest.raises(open_set.OpenSetError, match="no open-set threshold"):
        open_set.load_params(str(tmp_path))


def test_languages_must_match_the_model(tmp_path):
    params = _params(tmp_path)
    with pytest.raises(open_set.OpenSetError, match="are for"):
        open_set.decide({"A": 0.5, "D": 0.5}, np.ones(4), params)


def test_serving_help_lists_the_flags_and_client_refuses_them(capsys):
    from serving import cli

    with pytest.raises(SystemExit):
        cli.parse_args(["predict", "--help"])
    text = capsys.readouterr().out
    assert "--reject-unknown" in text and "--unknown-threshold" in text
    with pytest.raises(SystemExit) as exit_info:       # no local model folder to read the thresholds from
        cli.parse_args(["client", "--rest", "http://x", "--reject-unknown", "a.wav"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        cli.parse_args(["predict", "--model-dir", "m", "--reject-unknown", "--unknown-threshold", "2", "a.wav"])
    assert "[0, 1]" in capsys.readouterr().err
