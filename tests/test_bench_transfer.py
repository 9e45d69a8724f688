"""bench/unseen_speech.py (set builder) and bench/transfer.py (scoring): fast, no Whisper weights,
no apt-get (a fake Apt stands in for the machine's package tools)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from bench import transfer, unseen_speech


class FakeApt(unseen_speech.Apt):
    """Packages in `available` unpack from files made in a temp dir; nothing is ever installed."""

    def __init__(self, available: dict[str, dict[str, np.ndarray]]):
        self.available = available
        self.install_calls: list[list[str]] = []

    def installed(self, package):
        return False

    def install(self, packages):
        self.install_calls.append(list(packages))
        return "E: Unable to locate package " + packages[0]

    def download_extract(self, package, dest):
        if package not in self.available:
            return f"E: Unable to locate package {package}"
        for rel, audio in self.available[package].items():
            path = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            sf.write(path, audio, 22050)
        return None


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 22050)) / 22050
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_ktuberling_language_mapping():
    assert unseen_speech.ktuberling_language("/x/usr/share/ktuberling/sounds/ru/ball.ogg") == "Russian"
    assert unseen_speech.ktuberling_language("/x/usr/share/ktuberling/sounds/de/hat.ogg") == "German"
    assert unseen_speech.ktuberling_language("/x/usr/share/ktuberling/sounds/ca/hat.ogg") is None


def test_manifest_maps_languages_and_reports_missing_packages(tmp_path):
    words = "usr/share/ktuberling/sounds"
    apt = FakeApt({"ktuberling-data": {f"{words}/en/ball.wav": _tone(0.8), f"{words}/fr/nez.wav": _tone(0.6),
                                       f"{words}/da/bold.wav": _tone(0.7)}})
    report = unseen_speech.build(str(tmp_path / "sets"), sets=["human_words", "other_synth"], apt=apt,
                                 allow_install=False, cache=str(tmp_path / "cache"))
    rows = unseen_speech.read_manifest(str(tmp_path / "sets"))
    assert sorted((r["language"], r["speaker"], r["set"]) for r in rows) == [
        ("English", "ktuberling-en", "human_words"), ("French", "ktuberling-fr", "human_words")]
    for r in rows:
        info = sf.info(os.path.join(tmp_path, "sets", r["path"]))
        assert info.samplerate == 16_000 and info.channels == 1
        assert r["source"] == "ktuberling" and r["duration_s"] == pytest.approx(info.duration, abs=1e-3)
    assert report["clips"] == {"human_words": {"English": 1, "French": 1}}
    missing = {(m["set"], m["what"]): m["reason"] for m in report["missing"]}
    # no synthesizer: reported, not raised; --no-install never calls apt-get install
    assert "festival" in missing[("other_synth", "festival")] or "not installed" in missing[("other_synth", "festival")]
    assert ("human_words", "Chinese (ktuberling-data)") in missing
    assert apt.install_calls == []
    saved = json.load(open(tmp_path / "sets" / "build_report.json"))
    assert saved["missing"] == report["missing"]


def test_a_package_not_in_the_sources_is_reported_with_the_reason(tmp_path):
    apt = FakeApt({})
    report = unseen_speech.build(str(tmp_path / "sets"), sets=["human_words", "other_synth"], apt=apt,
                                 allow_install=True, cache=str(tmp_path / "cache"))
    reasons = {m["what"]: m["reason"] for m in report["missing"]}
    assert "Unable to locate package ktuberling-data" in reasons["ktuberling-data"]
    assert "Unable to locate package festival" in reasons["festival"]
    assert ["festival"] in apt.install_calls
    assert unseen_speech.read_manifest(str(tmp_path / "sets")) == []


def test_new_sentences_are_not_in_the_demo_corpus():
    for language, sentences in unseen_speech.new_sentences().items():
        demo = set(open(os.path.join(unseen_speech.DEMO, "sentences", f"{language}.txt"), encoding="utf-8")
                   .read().splitlines())
        assert sentences and not set(sentences) & demo


def test_accuracy_table_per_language_and_overall():
    rows = [{"set": "s", "language": "English", "arm": "a", "predicted": "English"},
            {"set": "s", "language": "English", "arm": "a", "predicted": "French"},
            {"set": "s", "language": "French", "arm": "a", "predicted": "French"},
            {"set": "s", "language": "French", "arm": "b", "predicted": "no_speech"},
            {"set": "t", "language": "Russian", "arm": "a", "predicted": "Russian"}]
    table = transfer.accuracy_table(rows)
    assert table["s"]["English"]["a"] == {"correct": 1, "n": 2, "accuracy": 0.5}
    assert table["s"]["French"]["a"]["accuracy"] == 1.0
    assert table["s"]["French"]["b"] == {"correct": 0, "n": 1, "accuracy": 0.0}
    assert table["s"][transfer.ALL]["a"] == {"correct": 2, "n": 3, "accuracy": pytest.approx(2 / 3)}
    assert table["t"][transfer.ALL]["a"]["accuracy"] == 1.0
    md = transfer.markdown(table, ["a", "b"], {"a": 1.25}, ["s", "t"])
    assert "| English | 2 | 0.500 | - |" in md and "| 1.2 | - |" in md


def test_windows_and_pooling_follow_the_serving_grid():
    wav = np.ones(16_000 * 4, np.float32)
    windows, weights = transfer.cut_windows(wav, 48_000, 24_000)
    assert windows.shape == (2, 48_000)  # starts 0 and 1.5 s; the second holds 2.5 s of audio
    assert weights.tolist() == pytest.approx([1.0, 40_000 / 48_000])
    assert transfer.cut_windows(np.ones(8_000, np.float32), 48_000, 24_000)[1].tolist() == pytest.approx([1 / 6])
    pooled = transfer.pool_windows(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([3.0, 1.0]))
    assert pooled.tolist() == pytest.approx([0.75, 0.25])
    combined = transfer.combine_log(np.array([0.9, 0.1]), np.array([0.3, 0.7]))
    assert combined.tolist() == pytest.approx([0.27 / 0.34, 0.07 / 0.34])


def test_out_of_set_speech_is_built_for_the_open_set_and_skipped_for_accuracy(tmp_path, monkeypatch):
    """human_out_of_set: phrases (not digits) of both Italian voices; bench.transfer has no right
    answer for them, bench.open_set_speech measures them as out of set."""
    from bench import open_set_speech

    sounds = "usr/share/asterisk/sounds"
    apt = FakeApt({"asterisk-core-sounds-it-wav": {f"{sounds}/it_IT_m_Carlo/vm-intro.wav": _tone(2.0),
                                                   f"{sounds}/it_IT_m_Carlo/digits-1.wav": _tone(0.5)},
                   "asterisk-prompt-it-menardi-wav": {f"{sounds}/it_IT_f_Menardi/vm-intro.wav": _tone(1.8)}})
    sets = str(tmp_path / "sets")
    report = unseen_speech.build(sets, sets=["human_out_of_set"], apt=apt, allow_install=False,
                                 cache=str(tmp_path / "cache"))
    assert report["clips"] == {"human_out_of_set": {"Italian": 2}}
    rows = unseen_speech.read_manifest(sets)
    assert sorted(r["speaker"] for r in rows) == ["it_IT_f_Menardi", "it_IT_m_Carlo"]
    demo_rows, eval_voices = transfer.demo_split(*transfer.split_defaults())
    assert not [c for c in transfer.evaluation_clips(sets, eval_voices, demo_rows) if c["set"] == "human_out_of_set"]
    out_of_set = [c for c in open_set_speech.clips(sets) if c["set"] == "human_out_of_set"]
    assert len(out_of_set) == 2 and not any(c["in_set"] for c in out_of_set)


def test_open_set_speech_counts_kept_rejected_and_refused_clips():
    from bench import open_set_speech
    from models.open_set import WHISPER_SURE_REASON

    clips = [{"set": "human", "language": "French", "path": "a", "in_set": True},
             {"set": "human", "language": "French", "path": "b", "in_set": True},
             {"set": "human", "language": "French", "path": "c", "in_set": True},
             {"set": "out", "language": "Italian", "path": "d", "in_set": False},
             {"set": "out", "language": "Italian", "path": "e", "in_set": False},
             {"set": "out", "language": "Italian", "path": "f", "in_set": False}]
    fr = {"French": 0.7, "English": 0.3}
    records = {"a": {"language": "French", "probabilities": fr},
               "b": {"language": "unknown", "probabilities": fr, "unknown_guess": "Italian"},   # the rule's cost
               "c": {"language": "English", "probabilities": {"French": 0.2, "English": 0.8}},
               "d": {"language": "unknown", "probabilities": fr, "unknown_guess": "Italian",
                     "unknown_reason": f"{WHISPER_SURE_REASON} 0.990 to a language outside the model's (> 0.970)"},
               "e": {"language": "French", "probabilities": fr}}                                # f: refused
    table = open_set_speech.score(clips, records)
    assert table["human"]["French"] == {"clips": 3, "refused": 0, "correct_with_rule": pytest.approx(1 / 3),
                                        "correct_without_rule": pytest.approx(2 / 3), "unknown_by_whisper_sureness": 0}
    assert table["out"][open_set_speech.ALL] == {"clips": 3, "refused": 1, "rejected": 0.5, "top_guess": "Italian",
                                                 "unknown_by_whisper_sureness": 0.5}
    md = open_set_speech.markdown({"m": table})
    assert "| human | French | 3 | 0 | 0.333 | 0.667 | - | 0.000 | - |" in md
    assert "| out | all | 3 | 1 | - | - | 0.500 | 0.500 | Italian |" in md
    refused = open_set_speech.score(clips[3:4], {})["out"]["Italian"]     # nothing answered: no share at all
    assert refused["rejected"] is None and "| out | Italian | 1 | 1 | - | - | - | - | - |" in open_set_speech.markdown(
        {"m": {"out": {"Italian": refused}}})
