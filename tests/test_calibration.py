"""Temperature scaling and ECE (models/calibration.py) against known answers."""
from __future__ import annotations

import numpy as np
import pytest

from models import calibration


def _sample(n: int, temperature: float, classes: int = 5, seed: int = 0):
    """Labels drawn from softmax(z / temperature): T is then the calibrating temperature for z."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, classes))
    truth = calibration.softmax(logits / temperature)
    labels = np.array([rng.choice(classes, p=p) for p in truth])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 2.0])
def test_fit_temperature_recovers_the_generating_temperature(true_t):
    logits, labels = _sample(20000, true_t)
    assert calibration.fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.05)


def test_ece_by_hand():
    # 15 bins: confidence 0.9 -> bin 13 (4 examples, 3 right: |0.75 - 0.9| = 0.15), 0.6 -> bin 8
    # (1 example, right: |1.0 - 0.6| = 0.4). ECE = 4/5 * 0.15 + 1/5 * 0.4 = 0.2.
    probs = np.array([[0.9, 0.1]] * 4 + [[0.4, 0.6]])
    labels = np.array([0, 0, 0, 1, 1])
    assert calibration.expected_calibration_error(probs, labels) == pytest.approx(0.2)


def test_ece_is_zero_for_perfectly_calibrated_bins():
    # Confidence 0.75 in one bin, 3 of 4 right.
    probs = np.tile([[0.75, 0.25]], (4, 1))
    assert calibration.expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_temperature_keeps_the_argmax_and_cross_fit_lowers_ece():
    logits, labels = _sample(6000, 0.4, seed=1)        # the raw model is far under-confident
    folds = np.arange(len(labels)) // 3000             # two "speakers"
    result = calibration.cross_fit(logits, labels, folds)
    assert result["fold_by"] == "speaker"
    assert result["ece_uncalibrated"] > 0.1
    assert result["ece"] < 0.03
    assert np.array_equal(result["calibrated_probabilities"].argmax(1), logits.argmax(1))
    assert all(t == pytest.approx(0.4, rel=0.1) for t in result["fold_temperatures"])


def test_cross_fit_with_one_speaker_fold_splits_by_segment():
    logits, labels = _sample(400, 1.0, seed=2)
    result = calibration.cross_fit(logits, labels, np.zeros(len(labels)))
    assert result["fold_by"] == "segment"
    assert len(result["fold_temperatures"]) == 2


def test_fit_temperature_refuses_no_examples():
    with pytest.raises(ValueError):
        calibration.fit_temperature(np.zeros((0, 3)), np.zeros(0, np.int64))
