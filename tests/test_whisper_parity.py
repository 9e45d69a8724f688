"""The TensorFlow Whisper-base matches its reference implementations on the demo corpus.

References: faster-whisper's FeatureExtractor for the log-mel, CTranslate2 (which runs the
very model.bin the weights module parses) for the encoder and `detect_language`. CTranslate2
encodes any input of up to 3000 frames with the position encodings cut to its length, the
same windowing as models/whisper/encoder.py, so windows are compared as they are, and one
clip padded to 30 s checks the full-length path. Weights, reference model and traced
functions are built once for the module.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from audio.decode import decode_audio

ctranslate2 = pytest.importorskip("ctranslate2", reason="test-only reference: pip install -r requirements/test.txt")
from faster_whisper.feature_extractor import FeatureExtractor  # noqa: E402

from models.whisper import encoder, frontend, language  # noqa: E402
from models.whisper import weights as W  # noqa: E402

DEMO = os.path.join(os.path.dirname(__file__), "..", "data", "demo")
SR = frontend.SAMPLE_RATE
# two voices per language, first clip of each; every demo clip is at least 2.08 s long
CLIPS = [f"{lang}/espeak-{voice}__{n:03d}.mp3" for lang, voice, n in [
    ("English", "m1", 0), ("English", "f2", 3), ("French", "m3", 2), ("French", "f1", 1),
    ("Spanish", "m1", 0), ("Spanish", "f2", 3), ("German", "m3", 2), ("German", "f1", 1),
    ("Russian", "m1", 0), ("Russian", "f2", 3), ("Chinese", "m3", 2), ("Chinese", "f1", 1)]]


def _window(wav: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    return np.pad(wav[:n], (0, max(0, n - len(wav)))).astype(np.float32)


def _rel(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="module")
def setup():
    weights = W.load()
    reference = ctranslate2.models.Whisper(W.default_dir(), device="cpu", intra_threads=2)
    clips = {}
    for key in CLIPS:
        with open(os.path.join(DEMO, key), "rb") as f:
            clips[key] = decode_audio(f.read(), SR)
    return {
        "weights": weights, "ct2": reference, "clips": clips, "fe": FeatureExtractor(),
        "encode": encoder.make_feature_encoder(weights),
        "head": language.make_head_fn(weights),
    }


def _reference_log_mel(setup, wav: np.ndarray) -> np.ndarray:
    return setup["fe"](wav)[..., :-1].astype(np.float32)  # as faster-whisper's batched path


def _ct2(array: np.ndarray):
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(array))


@pytest.mark.parametrize("seconds", [1.0, 2.5, 3.0])
def test_log_mel_matches_faster_whisper(setup, seconds):
    wavs = np.stack([_window(w, seconds) for w in list(setup["clips"].values())[:4]])
    mine = frontend.log_mel(wavs).numpy()
    ref = np.stack([_reference_log_mel(setup, w) for w in wavs])
    assert mine.shape == ref.shape == (4, 80, int(seconds * 100))
    assert _rel(mine, ref) < 1e-3


def test_encoder_matches_ctranslate2_on_windows(setup):
    for seconds in (1.0, 3.0):
        feats = np.stack([_reference_log_mel(setup, _window(w, seconds)) for w in setup["clips"].values()])
        mine = setup["encode"](feats).numpy()
        ref = np.asarray(setup["ct2"].encode(_ct2(feats)))
        assert mine.shape == ref.shape == (len(CLIPS), int(seconds * 50), 512)
        assert _rel(mine, ref) < 1e-3, seconds


def test_encoder_matches_ctranslate2_on_30s_padded_input(setup):
    wav = next(iter(setup["clips"].values()))
    feats = _reference_log_mel(setup, _window(wav, 30.0))[None]
    mine = setup["encode"](feats).numpy()
    ref = np.asarray(setup["ct2"].encode(_ct2(feats)))
    assert mine.shape == ref.shape == (1, 1500, 512)
    assert _rel(mine, ref) < 1e-3


def test_language_probabilities_rank_as_ctranslate2_detect_language(setup):
    """Whole path from the waveform: TF log-mel, encoder and head vs CTranslate2 on faster-whisper features."""
    w = setup["weights"]
    wavs = np.stack([_window(x, 3.0) for x in setup["clips"].values()])
    probs = setup["head"](setup["encode"](frontend.log_mel(wavs))).numpy()
    feats = np.stack([_reference_log_mel(setup, x) for x in wavs])
    for key, mine, ref in zip(CLIPS, probs, setup["ct2"].detect_language(_ct2(feats))):
        ref_probs = dict(ref)
        ref_vec = np.array([ref_probs[f"<|{code}|>"] for code in w.languages])
        np.testing.assert_allclose(mine, ref_vec, atol=1e-3, err_msg=key)
        ranked = [w.languages[i] for i in np.argsort(-mine)[:5]]
        assert ranked == [tok[2:-2] for tok, _ in ref[:5]], key


def test_language_head_on_given_states_and_restriction(setup):
    w = setup["weights"]
    feats = np.stack([_reference_log_mel(setup, _window(x, 3.0)) for x in setup["clips"].values()])
    states = setup["encode"](feats)
    probs = setup["head"](states).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    keep = ("en", "fr", "es", "de", "ru", "zh")
    six = language.restrict(np.log(probs), w.languages, keep).numpy()
    full = probs[:, [w.languages.index(c) for c in keep]]
    np.testing.assert_allclose(six, full / full.sum(axis=1, keepdims=True), rtol=1e-4)
