"""The Trainer's open-set choice (models/keras_model/held_out.choose_open_set): a model that reads
Whisper's language log-probabilities stores the Whisper rule beside the two thresholds, one
without keeps the two thresholds alone, and what is stored is what serving decides with."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from models import open_set
from models.keras_model import held_out
from models.whisper import languages as wl

LANGS = ["English", "French", "Mandarin"]
IN_CODES = ("en", "fr", "zh")
TWO_THRESHOLD_KEYS = {"languages", "centroids", "min_probability", "max_distance", "temperature"}


def _whisper(mass: dict) -> np.ndarray:
    w = np.zeros(99)
    for code, p in mass.items():
        w[wl.CODES.index(code)] = p
    rest = w == 0
    w[rest] = (1.0 - w.sum()) / rest.sum()
    return w


def _clip(rng, label: int, unknown: bool) -> dict:
    """Probabilities, embedding [6], Whisper's encoder features [8] and distribution [99] of one
    clip: out-of-set ones sit off the class clusters, are less sure, and Whisper hears Italian."""
    emb = np.eye(6)[label] + 0.1 * rng.normal(size=6)
    encoder = 3.0 * np.eye(8)[label] + 0.3 * rng.normal(size=8)
    probs = np.full(3, 0.02)
    probs[label] = 0.96
    whisper = _whisper({IN_CODES[label]: rng.uniform(0.5, 0.8), "ja": 0.1})
    if unknown:
        emb = emb + 0.8 * np.eye(6)[3 + rng.integers(0, 3)]
        encoder = encoder + 3.0 * np.eye(8)[3 + rng.integers(0, 5)]
        probs = np.roll([0.6, 0.3, 0.1], label)      # still the clip's label on top, less sure
        whisper = _whisper({IN_CODES[label]: 0.1, "it": rng.uniform(0.4, 0.7)})
    return {"probabilities": probs / probs.sum(), "embedding": emb, "whisper": whisper, "encoder": encoder}


class _Tensor:
    def __init__(self, value):
        self.value = np.asarray(value)

    def numpy(self):
        return self.value


def _embed_fn(outputs: dict, whisper: bool):
    """The `embed` signature of a fake model: looks each waveform up by its first sample."""
    def embed(waveform):
        clip = outputs[int(np.asarray(waveform)[0, 0])]
        result = {"probabilities": _Tensor(clip["probabilities"][None]), "embedding": _Tensor(clip["embedding"][None])}
        if whisper:
            result["whisper_language_probabilities"] = _Tensor(clip["whisper"][None])
            result["whisper_embedding"] = _Tensor(clip["encoder"][None])
        return result
    return embed


def _scores(rng, n: int, whisper: bool) -> dict:
    labels = rng.integers(0, 3, n)
    clips = [_clip(rng, int(y), unknown=False) for y in labels]
    out = {"probabilities": np.stack([c["probabilities"] for c in clips]),
           "embedding": np.stack([c["embedding"] for c in clips]), "label": labels, "fold": np.arange(n) % 8}
    if whisper:
        out["whisper"] = np.stack([c["whisper"] for c in clips])
        out["whisper_embedding"] = np.stack([c["encoder"] for c in clips])
    return out


def _choose(whisper: bool, languages=LANGS):
    rng = np.random.default_rng(0)
    held, train = _scores(rng, 200, whisper), _scores(rng, 300, whisper)
    roles = ["threshold"] * 40 + ["measure"] * 40
    outputs = [_clip(rng, int(rng.integers(0, 3)), unknown=True) for _ in roles]
    clips = [{"waveform": np.full(160, float(i), np.float32), "role": r, "language": "Italian" if r == "threshold"
              else "Czech"} for i, r in enumerate(roles)]
    return held_out.choose_open_set(held, train, 1.0, clips, _embed_fn(outputs, whisper), languages, 0.95), outputs


def test_a_model_without_whisper_stores_the_two_thresholds_alone():
    (params, report), _ = _choose(whisper=False)
    assert set(params) == TWO_THRESHOLD_KEYS and "whisper" not in report


def test_a_whisper_model_stores_the_rule_beside_the_two_thresholds(tmp_path):
    (params, report), outputs = _choose(whisper=True)
    assert set(params) == TWO_THRESHOLD_KEYS | {"whisper"}
    assert params["whisper"]["codes"] == list(IN_CODES)
    assert report["whisper"]["chosen_on"]["out_of_set_clips"] == 40
    assert report["whisper"]["chosen_on"]["reference_clips"] == 300 + 100   # training + choosing fold
    assert report["whisper"]["measured"]["out_of_set_examples"] == 40
    assert report["whisper"]["measured"]["out_of_set_rejected"] >= 0.9
    assert report["whisper"]["measured"]["in_set_kept_correct"] >= 0.9
    held_out.write_model_assets(str(tmp_path / "model"), str(tmp_path), {"temperature": 1.0}, (params, report))
    stored = open_set.load_params(str(tmp_path / "model"))
    assert stored["whisper"]["threshold"] == params["whisper"]["threshold"]
    unseen = outputs[-1]                          # a measure-language clip, decided as serving decides
    probs = dict(zip(LANGS, unseen["probabilities"]))
    decision = open_set.decide(probs, unseen["embedding"], stored, whisper_probabilities=unseen["whisper"],
                               whisper_embedding=unseen["encoder"])
    assert decision["language"] == open_set.UNKNOWN and "open-set score" in decision["unknown_reason"]
    assert decision["unknown_guess"] == "Italian"
    known = _clip(np.random.default_rng(9), 1, unknown=False)
    decision = open_set.decide(dict(zip(LANGS, known["probabilities"])), known["embedding"], stored,
                               whisper_probabilities=known["whisper"], whisper_embedding=known["encoder"])
    assert decision["language"] == "French" and "unknown_guess" not in decision


def test_a_language_whisper_does_not_know_keeps_the_two_thresholds(caplog):
    with caplog.at_level(logging.WARNING):
        (params, _), _ = _choose(whisper=True, languages=["English", "French", "Klingon"])
    assert "whisper" not in params and "no Whisper rule" in caplog.text


@pytest.mark.parametrize("whisper", [False, True])
def test_no_out_of_set_clips_no_parameters(whisper):
    rng = np.random.default_rng(1)
    held = _scores(rng, 20, whisper)
    assert held_out.choose_open_set(held, held, 1.0, [], None, LANGS, 0.95) is None
