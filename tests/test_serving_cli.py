"""`python -m serving predict|embed` on the pushed model of the tiny pipeline run: JSON per
file, timelines, chunked long recordings, embeddings and neighbours, and bad input."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from serving import cli
from serving.model_dir import ModelNotFound, resolve_model_dir
from serving.windows import Geometry, chunk_bounds
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import RATE, clip, run_cli, wav_bytes, write


@pytest.fixture(scope="module")
def pushed(pipeline_run):
    return pipeline_run[0]["pushed_to"]


def test_predict_prints_one_json_object_per_file_any_format_rate_and_channels(pushed, tmp_path, capsys):
    files = {
        "English": write(tmp_path / "en.mp3", clip("English", 2.5, rate=44100), 44100),
        "French": write(tmp_path / "fr.flac", np.stack([clip("French", 3.2, rate=22050)] * 2, axis=1), 22050),
        "German": write(tmp_path / "de.ogg", clip("German", 2.0, rate=48000), 48000, format="OGG", subtype="VORBIS"),
    }
    wav = write(tmp_path / "en8k.wav", clip("English", 1.9, rate=8000, seed=3), 8000)
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", os.path.dirname(pushed),
                                               *files.values(), wav])
    assert status == 0 and errors == []
    assert [r["file"] for r in records] == [*files.values(), wav]
    for record, language in zip(records, [*files, "English"]):
        assert set(record) == {"file", "language", "confidence", "probabilities", "duration_s", "speech_s"}
        assert record["language"] == language
        assert record["confidence"] == max(record["probabilities"].values())
        assert list(record["probabilities"]) == LANGUAGES
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert [r["duration_s"] for r in records] == pytest.approx([2.5, 3.2, 2.0, 1.9], abs=0.05)


def test_timeline_of_a_two_language_recording_shows_both(pushed, tmp_path, capsys):
    recording = np.concatenate([clip("English", 4.5, seed=4), clip("German", 4.5, seed=5)])
    path = write(tmp_path / "two.wav", recording, RATE)
    status, [record], _ = run_cli(capsys, ["predict", "--model-dir", pushed, "--timeline", path])
    assert status == 0
    timeline = record["timeline"]
    assert [w["start_s"] for w in timeline] == pytest.approx(np.arange(len(timeline)) * 0.75)
    assert timeline[-1]["end_s"] == pytest.approx(9.0, abs=0.01)
    assert all(set(w) == {"start_s", "end_s", "language", "probabilities"} for w in timeline)
    inside_english = [w["language"] for w in timeline if w["end_s"] <= 4.5]
    inside_german = [w["language"] for w in timeline if w["start_s"] >= 4.5]
    assert inside_english and set(inside_english) == {"English"}
    assert inside_german and set(inside_german) == {"German"}


def test_long_recordings_in_chunks_equal_one_call_on_the_whole(pushed, tmp_path, capsys):
    recording = np.concatenate([clip("French", 5.0, seed=6), clip("English", 3.3, seed=7)])
    path = write(tmp_path / "long.wav", recording, RATE, subtype="FLOAT")
    whole = tf.saved_model.load(pushed).signatures["predict_waveform"](waveform=tf.constant(recording[None]))
    status, [record], _ = run_cli(capsys, ["predict", "--model-dir", pushed, "--timeline",
                                           "--windows-per-call", "3", path])
    assert status == 0
    np.testing.assert_allclose(list(record["probabilities"].values()), whole["probabilities"].numpy()[0], atol=1e-4)
    starts = whole["window_start_s"].numpy()[0]
    assert [w["start_s"] for w in record["timeline"]] == pytest.approx(starts, abs=1e-3)
    np.testing.assert_allclose([list(w["probabilities"].values()) for w in record["timeline"]],
                               whole["window_probabilities"].numpy()[0], atol=1e-4)


@pytest.mark.parametrize("samples,per_call", [(100, 4), (24000, 4), (24001, 4), (200_000, 4), (200_000, 1)])
def test_chunks_tile_the_model_windows(samples, per_call):
    geometry = Geometry(window=24000, hop=12000, sample_rate=RATE, languages=("a",))
    bounds = chunk_bounds(samples, geometry, per_call)
    expected_windows = 1 + int(np.ceil(max(samples - 24000, 0) / 12000))
    windows = []
    for start, end in bounds:
        count = 1 + int(np.ceil(max(end - start - 24000, 0) / 12000))
        assert count <= per_call
        windows += [start + 12000 * i for i in range(count)]
    assert windows == [12000 * i for i in range(expected_windows)]
    assert bounds[-1][1] == samples


def _mp3_bytes(seconds: float = 4.0) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, clip("English", seconds, rate=44100), 44100, format="MP3")
    return buf.getvalue()


def _quoted(path) -> str:
    return json.dumps(str(path))


def test_bad_files_get_one_error_line_each_and_the_good_ones_are_still_classified(pushed, tmp_path, capsys):
    good = write(tmp_path / "good.wav", clip("French", 2.0), RATE)
    nan = clip("English", 2.0)
    nan[1000:1010] = np.nan
    one_hz = tmp_path / "f10.wav"                 # a real WAV whose header claims 1 Hz (days of audio at 1 Hz)
    one_hz.write_bytes(wav_bytes(clip("German", 3.0), RATE))
    data = bytearray(one_hz.read_bytes())
    data[24:28], data[28:32] = (1).to_bytes(4, "little"), (2).to_bytes(4, "little")
    one_hz.write_bytes(bytes(data))
    fifo = str(tmp_path / "f11.mp3")
    os.mkfifo(fifo)                               # opening it for reading would block forever
    empty_dir = tmp_path / "f12.mp3"
    empty_dir.mkdir()
    newline = write(tmp_path / "f13\nerror: fake.wav", clip("German", 0.4), RATE)
    bad = {  # expected reason -> file (names say nothing, so the reason must come from the check)
        "empty file": str(tmp_path / "f1.mp3"),
        "not audio": str(tmp_path / "f2.mp3"),
        "undecodable audio": str(tmp_path / "f3.ogg"),
        "non-finite samples": write(tmp_path / "f7.wav", nan, RATE, subtype="FLOAT"),
        "too short": write(tmp_path / "f6.wav", clip("German", 0.4), RATE),
        "file too large": write(tmp_path / "f8.wav", clip("German", 3.0, rate=48000), 48000, subtype="FLOAT"),
        "cannot read": str(tmp_path / "f9.wav"),
        "implausible sample rate 1 Hz": str(one_hz),
        "not a regular file (a FIFO)": fifo,
        "is a directory with no audio files": str(empty_dir),
        "too short ": newline,
    }
    open(bad["empty file"], "wb").close()
    with open(bad["not audio"], "wb") as f:
        f.write(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    with open(bad["undecodable audio"], "wb") as f:
        f.write(np.random.default_rng(0).bytes(20000))
    paths = list(bad.values())
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, "--max-file-mb", "0.5",
                                               paths[0], good, *paths[1:]])
    assert status == 1
    assert [r["file"] for r in records] == [good] and records[0]["language"] == "French"
    assert len(errors) == len(bad)                # one line each, the newline in a name included
    for (reason, path), line in zip(bad.items(), errors):
        assert line.startswith(f"error: {_quoted(path)}: {reason.strip()}"), line


def test_recordings_longer_than_the_cap_are_refused_by_header_or_while_streaming(pushed, tmp_path, capsys):
    five_hours = tmp_path / "five_hours.flac"          # 0.5 MB on disk: the size cap cannot see it
    with soundfile.SoundFile(str(five_hours), "w", 8000, 1, format="FLAC") as f:
        for _ in range(30):
            f.write(np.zeros(8000 * 600, np.float32))
    assert five_hours.stat().st_size < 2**20
    two_minutes = io.BytesIO()
    soundfile.write(two_minutes, np.tile(clip("German", 3.0), 40), RATE, format="FLAC")
    unknown_length = bytearray(two_minutes.getvalue())
    unknown_length[21] &= 0xF0                          # STREAMINFO total samples = 0: "unknown"
    unknown_length[22:26] = bytes(4)
    streamed = tmp_path / "unknown_length.flac"
    streamed.write_bytes(bytes(unknown_length))
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, str(five_hours)])
    assert status == 1 and records == []
    assert errors == [f"error: {_quoted(five_hours)}: too long (header declares 18000 s > cap 14400 s)"]
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, "--max-seconds", "60", str(streamed)])
    assert status == 1 and records == []
    assert errors == [f"error: {_quoted(streamed)}: too long (decodes to more than the cap of 60 s)"]
    status, [record], _ = run_cli(capsys, ["predict", "--model-dir", pushed, str(streamed)])   # default cap: fine
    assert status == 0 and record["language"] == "German" and record["duration_s"] == pytest.approx(120, abs=0.11)


def test_truncated_mp3s_are_classified_with_a_warning(pushed, tmp_path, capsys):
    data = _mp3_bytes()
    whole = tmp_path / "whole.mp3"
    whole.write_bytes(data)
    cuts = {}
    for fraction in (0.5, 0.9):
        cuts[fraction] = tmp_path / f"cut{int(fraction * 100)}.mp3"
        cuts[fraction].write_bytes(data[: int(len(data) * fraction)])
    status = cli.main(["predict", "--model-dir", pushed, str(whole), *map(str, cuts.values())])
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert status == 0 and [r["file"] for r in records] == [str(whole), *map(str, cuts.values())]
    assert "warnings" not in records[0]
    for record in records[1:]:
        assert record["language"] == "English"
        assert len(record["warnings"]) == 1 and record["warnings"][0].startswith("truncated"), record
    assert captured.err.splitlines() == [f"warning: {_quoted(r['file'])}: {r['warnings'][0]}" for r in records[1:]]


def test_audio_without_speech_answers_no_speech_and_speech_around_silence_still_counts(pushed, tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.arange(3 * RATE) / RATE
    quiet = {
        "silence": write(tmp_path / "a.wav", np.zeros(3 * RATE, np.float32), RATE),
        "noise": write(tmp_path / "b.wav", (0.3 * rng.standard_normal(3 * RATE)).astype(np.float32), RATE),
        "chord": write(tmp_path / "c.flac", sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)), RATE),
    }
    gap = np.concatenate([clip("German", 3.0, seed=1), np.zeros(3 * RATE, np.float32), clip("German", 3.0, seed=2)])
    gapped = write(tmp_path / "gap.wav", gap, RATE)
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, "--timeline", *quiet.values(), gapped])
    assert status == 0 and errors == []
    for record in records[:3]:
        assert record["language"] == "no_speech" and record["confidence"] is None and record["speech_s"] == 0
        assert set(record["probabilities"].values()) == {0.0}
        assert {w["language"] for w in record["timeline"]} == {"no_speech"}
    gapped_record = records[3]
    assert gapped_record["language"] == "German"
    assert gapped_record["speech_s"] == pytest.approx(6.0, abs=0.75)    # two 3 s stretches, at hop resolution
    silent_windows = [w for w in gapped_record["timeline"] if w["start_s"] >= 3.0 and w["end_s"] <= 6.0]
    assert silent_windows and {w["language"] for w in silent_windows} == {"no_speech"}
    # the pooled answer is the mean of the speech windows only
    speech = [w for w in gapped_record["timeline"] if w["language"] != "no_speech"]
    weights = [w["end_s"] - w["start_s"] for w in speech]
    expected = np.average([list(w["probabilities"].values()) for w in speech], axis=0, weights=weights)
    np.testing.assert_allclose(list(gapped_record["probabilities"].values()), expected, atol=1e-4)


def test_segments_follow_a_language_switch_and_a_pause(pushed, tmp_path, capsys):
    recording = np.concatenate([clip("English", 4.5, seed=4), np.zeros(3 * RATE, np.float32),
                                clip("German", 4.5, seed=5)])
    path = write(tmp_path / "switch.wav", recording, RATE)
    status, [record], _ = run_cli(capsys, ["predict", "--model-dir", pushed, "--segments", path])
    assert status == 0
    found = record["segments"]
    assert [s["language"] for s in found] == ["English", "no_speech", "German"], found
    assert found[0]["start_s"] == 0.0 and found[-1]["end_s"] == pytest.approx(12.0, abs=0.01)
    assert found[0]["end_s"] == pytest.approx(4.5, abs=0.75) and found[2]["start_s"] == pytest.approx(7.5, abs=0.75)
    assert all(a["end_s"] == b["start_s"] for a, b in zip(found, found[1:]))
    assert 0.5 < found[0]["confidence"] <= 1.0 and found[1]["confidence"] is None


def test_languages_restricts_and_renormalises_and_unknown_names_are_an_error(pushed, tmp_path, capsys):
    path = write(tmp_path / "en.wav", clip("English", 3.0, seed=3), RATE)
    _, [full], _ = run_cli(capsys, ["predict", "--model-dir", pushed, path])
    status, [record], _ = run_cli(capsys, ["predict", "--model-dir", pushed, "--languages", "German,French", path])
    assert status == 0 and list(record["probabilities"]) == ["German", "French"]
    kept = np.array([full["probabilities"]["German"], full["probabilities"]["French"]])
    restricted = np.array(list(record["probabilities"].values()))
    assert restricted.sum() == pytest.approx(1.0, abs=1e-5)                       # renormalised
    # The expected ratio is known only as precisely as the full answer's 6 printed decimals.
    np.testing.assert_allclose(restricted, kept / kept.sum(), atol=max(1e-4, 2e-6 / kept.sum()))
    assert record["language"] == ["German", "French"][int(np.argmax(kept))]
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", pushed, "--languages", "English,Klingon",
                                               path])
    assert status == 2 and records == [] and "'Klingon' not in the model" in errors[0]


def test_tflite_export_matches_the_saved_model(pushed, tmp_path, capsys):
    out = tmp_path / "langid.tflite"
    assert cli.main(["export-tflite", "--model-dir", pushed, "--output", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["bytes"] == out.stat().st_size > 0
    recording = np.concatenate([clip("French", 2.6, seed=6), clip("English", 2.0, seed=7)])
    path = write(tmp_path / "two.wav", recording, RATE, subtype="FLOAT")
    _, [saved], _ = run_cli(capsys, ["predict", "--model-dir", pushed, "--timeline", path])
    status, [lite], errors = run_cli(capsys, ["predict", "--tflite", str(out), "--timeline", path])
    assert status == 0 and errors == []
    np.testing.assert_allclose(list(lite["probabilities"].values()), list(saved["probabilities"].values()), atol=1e-3)
    assert [w["start_s"] for w in lite["timeline"]] == [w["start_s"] for w in saved["timeline"]]
    np.testing.assert_allclose([list(w["probabilities"].values()) for w in lite["timeline"]],
                               [list(w["probabilities"].values()) for w in saved["timeline"]], atol=1e-3)


def test_a_tflite_that_is_not_ours_or_not_a_tflite_is_refused(tmp_path, capsys):
    module = tf.Module()
    module.double = tf.function(lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    other = tmp_path / "other.tflite"
    concrete = module.double.get_concrete_function()
    other.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], module).convert())
    one_window = tmp_path / "one_window.tflite"        # the runner would have to cut and pool: refused
    module.window = tf.function(lambda window: {"window_probabilities": window[:, :3], "window_speech": window[:, 0],
                                                "metadata": tf.zeros([4], tf.uint8)},
                                input_signature=[tf.TensorSpec([1, 8], tf.float32, name="window")])
    concrete = module.window.get_concrete_function()
    one_window.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], module).convert())
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    for path, reason in ((other, "its signature lacks waveform, probabilities, window_probabilities"),
                         (one_window, "a one-window .tflite"),
                         (garbage, "not a usable .tflite")):
        status, records, errors = run_cli(capsys, ["predict", "--tflite", str(path), "a.wav"])
        assert status == 2 and records == [] and reason in errors[0], errors


def test_the_command_line_entry_point_exits_non_zero_on_a_bad_file(pushed, tmp_path):
    good = write(tmp_path / "good.wav", clip("German", 2.0), RATE)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "serving", "predict", "--model-dir", pushed, str(empty), good],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    assert json.loads(done.stdout)["language"] == "German"
    assert f"error: {_quoted(empty)}: empty file" in done.stderr


def test_model_dir_resolves_to_the_newest_version(pushed, tmp_path):
    base = tmp_path / "langid"
    for version in ("9", "10", "2"):
        shutil.copytree(pushed, base / version)
    (base / "11").mkdir()                      # no saved_model.pb: not a version
    assert resolve_model_dir(str(base)) == str(base / "10")
    assert resolve_model_dir(str(base / "2")) == str(base / "2")
    with pytest.raises(ModelNotFound):
        resolve_model_dir(str(tmp_path / "nothing"))


def test_a_missing_model_is_one_error_and_status_2(tmp_path, capsys):
    status, records, errors = run_cli(capsys, ["predict", "--model-dir", str(tmp_path / "none"), "x.wav"])
    assert status == 2 and records == [] and "no such model folder" in errors[0]


def test_embed_prints_vectors_and_nearest_neighbours_by_cosine(pushed, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for language in LANGUAGES:
        for seed in (1, 2):
            write(folder / f"{language}_{seed}.wav", clip(language, 2.2, seed=seed), RATE)
    status, records, _ = run_cli(capsys, ["embed", "--model-dir", pushed, str(folder)])
    assert status == 0 and len(records) == 6
    vectors = np.array([r["embedding"] for r in records])
    assert vectors.shape[1] > 8 and np.all(np.isfinite(vectors))

    status, records, _ = run_cli(capsys, ["embed", "--model-dir", pushed, "--nearest", "2", str(folder)])
    assert status == 0 and len(records) == 6
    files = [r["file"] for r in records]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for i, record in enumerate(records):
        similarity = unit @ unit[i]
        similarity[i] = -np.inf
        expected = np.argsort(-similarity)[:2]
        assert [n["file"] for n in record["nearest"]] == [files[j] for j in expected]
        assert [n["similarity"] for n in record["nearest"]] == pytest.approx(similarity[expected], abs=1e-4)
        # the other clip of the same language is the nearest one
        language = os.path.basename(record["file"]).split("_")[0]
        assert os.path.basename(record["nearest"][0]["file"]).startswith(language + "_")
