"""The serving clients' settings and the CLI flags that build them; the streaming chunker and
the segment merger on known inputs. No model needed."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from serving import cli
from serving.segments import segments
from serving.settings import ServingSettings
from serving.windows import Geometry, chunk_bounds, stream_chunks


def test_defaults_are_valid_and_frozen():
    s = ServingSettings()
    assert s.max_bytes == int(s.max_file_mb * 2**20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.retries = 5  # type: ignore[misc]


@pytest.mark.parametrize("field,value", [("max_file_mb", 0), ("max_file_mb", float("nan")), ("max_seconds", -1),
                                         ("min_window_fraction", 1.5), ("windows_per_call", 0),
                                         ("windows_per_call", 2.5), ("timeout_s", 0), ("retries", -1),
                                         ("backoff_s", -0.1), ("smoothing_windows", 2), ("min_segment_s", -1),
                                         ("retries", True)])
def test_invalid_values_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ServingSettings(**{field: value})


def test_cli_builds_settings_from_defaults_and_flags():
    args = cli.parse_args(["client", "--rest", "http://x", "--retries", "0", "--timeout", "2.5",
                           "--segments", "--min-segment-s", "3", "a.wav"])
    assert args.settings == dataclasses.replace(ServingSettings(), retries=0, timeout_s=2.5, min_segment_s=3.0)
    assert cli.parse_args(["predict", "--model-dir", "m", "a.wav"]).settings == ServingSettings()


@pytest.mark.parametrize("argv", [
    ["predict", "--model-dir", "m", "--min-segment-s", "2", "a.wav"],          # segment option without --segments
    ["predict", "--model-dir", "m", "--smoothing-windows", "3", "a.wav"],
    ["predict", "--model-dir", "m", "--segments", "--smoothing-windows", "4", "a.wav"],   # even filter length
    ["predict", "--model-dir", "m", "--tflite", "x.tflite", "a.wav"],          # two model sources
    ["predict", "a.wav"],                                                       # none
    ["predict", "--model-dir", "m", "--windows-per-call", "0", "a.wav"],
    ["predict", "--model-dir", "m", "--max-seconds", "0", "a.wav"],
    ["predict", "--model-dir", "m", "--languages", " , ", "a.wav"],
    ["embed", "--model-dir", "m", "--segments", "a.wav"],                       # embed gives no answers
    ["embed", "--model-dir", "m", "--nearest", "0", "a.wav"],
    ["client", "--rest", "http://x", "--retries", "-1", "a.wav"],
    ["export-tflite", "--model-dir", "m"],                                      # no --output
])
def test_bad_flag_combinations_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("per_call", [1, 2, 5])
def test_streamed_chunks_equal_the_chunks_of_the_whole_recording(seed, per_call):
    rng = np.random.default_rng(seed)
    geometry = Geometry(window=40, hop=20, sample_rate=100, languages=("a",))
    total = int(rng.integers(1, 400))
    recording = rng.standard_normal(total).astype(np.float32)
    cuts = np.sort(rng.choice(np.arange(1, total), size=min(total - 1, int(rng.integers(0, 8))), replace=False))
    blocks = np.split(recording, cuts)
    streamed = list(stream_chunks(iter(blocks), geometry, per_call))
    expected = chunk_bounds(total, geometry, per_call)
    assert [(s, s + len(c)) for s, c in streamed] == expected
    for (start, chunk) in streamed:
        np.testing.assert_array_equal(chunk, recording[start:start + len(chunk)])


def test_an_empty_stream_is_one_empty_chunk():
    geometry = Geometry(window=40, hop=20, sample_rate=100, languages=("a",))
    assert [(s, len(c)) for s, c in stream_chunks(iter([]), geometry, 3)] == [(0, 0)]


def _windows(labels, hop=1.0, window=2.0):
    """Half-overlapping windows whose posteriors say `labels` (None: no speech) with confidence 0.9."""
    languages = ("A", "B")
    starts = np.arange(len(labels)) * hop
    probabilities = np.array([[0.9, 0.1] if x == "A" else [0.1, 0.9] for x in labels])
    speech = np.array([x is not None for x in labels])
    return starts, starts + window, probabilities, speech, languages, float(starts[-1] + window)


def test_segments_merge_runs_and_cut_at_window_centres():
    out = segments(*_windows(["A"] * 5 + ["B"] * 5), smoothing=1, min_segment_s=0.0)
    assert [s["language"] for s in out] == ["A", "B"]
    assert out[0]["start_s"] == 0.0 and out[-1]["end_s"] == 11.0
    assert out[0]["end_s"] == out[1]["start_s"] == 5.5          # midway between window centres 5 and 6
    assert out[0]["confidence"] == pytest.approx(0.9)


def test_segments_smooth_away_a_lone_window_and_keep_no_speech():
    out = segments(*_windows(["A", "A", "B", "A", "A", None, None, None, "B", "B", "B"]), smoothing=3,
                   min_segment_s=0.0)
    assert [s["language"] for s in out] == ["A", "no_speech", "B"]
    assert out[1]["confidence"] is None


def test_short_runs_merge_into_the_longer_neighbour():
    out = segments(*_windows(["A"] * 6 + ["B"] + [None] * 2), smoothing=1, min_segment_s=2.5)
    assert [s["language"] for s in out] == ["A", "no_speech"]


def test_every_option_is_in_help_and_in_docs():
    import os

    docs = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "serving.md")).read()
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no public accessor
    missing = []
    for name, sub in commands.items():
        text = sub.format_help()
        for action in sub._actions:  # noqa: SLF001
            for flag in action.option_strings:
                if flag in ("-h", "--help"):
                    continue
                assert flag in text
                if f"`{flag}" not in docs and f"{flag} " not in docs:
                    missing.append(f"{name} {flag}")
        assert f"python -m serving {name}" in docs, name
    assert missing == []
