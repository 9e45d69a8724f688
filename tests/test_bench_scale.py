"""bench.scale's encoder limit and peak-RSS-by-size summary, without running Beam or Whisper."""
from __future__ import annotations

import numpy as np
import pytest

from bench import scale, scale_stage


def _stage(seconds: float, audio_s: float, rss: float) -> dict:
    return {"seconds": seconds, "audio_s_per_s": round(audio_s / seconds, 1), "peak_rss_mb": rss}


def _run(audio_s: float, transform_s: float, rss: float = 1000.0) -> dict:
    return {"ingestion": _stage(10.0, audio_s, rss), "augmentation": _stage(20.0, audio_s, rss),
            "transform": _stage(transform_s, audio_s, rss), "segments": 7}


def test_the_encoder_limit_is_measured_only_when_transform_runs_whisper():
    assert scale.limits_for(None) == ("decode_limit", "feature_limit")
    assert scale.limits_for(("log_mel", "mfcc")) == ("decode_limit", "feature_limit")
    assert scale.limits_for(("whisper",))[-1] == "encoder_limit"
    assert scale.limits_for(("log_mel", "whisper")) == ("decode_limit", "feature_limit", "encoder_limit")


def test_transform_is_compared_with_the_encoder_limit_on_its_best_run():
    limits = {"decode_limit": {"audio_s_per_s": 1000.0}, "feature_limit": {"audio_s_per_s": 2000.0},
              "encoder_limit": {"audio_s_per_s": 40.0}}
    # 1800 s of audio: Transform's best run takes 60 s (30 audio s/s), the other 90 s
    runs = {"in_memory x1": [_run(1800.0, 90.0, rss=900.0), _run(1800.0, 60.0, rss=1100.0)]}
    best = scale.summarize(runs, limits)["in_memory x1"]
    assert best["transform_audio_s_per_s"] == 30.0
    assert best["transform_ratio_to_encoder_limit"] == 0.75
    assert best["transform_ratio_to_feature_limit"] == 0.015
    assert best["peak_rss_mb"]["transform"] == 1100.0   # the highest over runs, not the best run's
    without = scale.summarize(runs, {k: v for k, v in limits.items() if k != "encoder_limit"})
    assert "transform_ratio_to_encoder_limit" not in without["in_memory x1"]


def test_peak_rss_by_corpus_size_is_the_largest_over_the_smallest():
    def summary(rss_transform):
        return {"best": {"in_memory x1": {"peak_rss_mb": {"ingestion": 1000.0, "augmentation": 900.0,
                                                          "transform": rss_transform}}}}

    table = scale.rss_by_size({200.0: summary(3300.0), 30.0: summary(3000.0), 100.0: summary(3150.0)})
    transform = table["in_memory x1"]["transform"]
    assert transform["peak_rss_mb"] == {"30": 3000.0, "100": 3150.0, "200": 3300.0}
    assert transform["growth"] == 1.1
    assert table["in_memory x1"]["ingestion"]["growth"] == 1.0


def test_the_bench_passes_its_representations_to_transform():
    params = {"bucket": "b", "prefix": "p/", "languages": ["English", "French"], "beam_args": ["--x=1"]}
    assert scale_stage.stage_config(params).features.representations == scale_stage.CONFIG.features.representations
    for asked in (["whisper"], ["log_mel", "mfcc"]):   # the default and another: each reaches Transform
        config = scale_stage.stage_config({**params, "representations": asked})
        assert config.features.representations == tuple(asked)
        assert config.runtime.beam_args == ("--x=1",) and config.data.languages == ("English", "French")


def test_bad_minutes_or_representations_stop_before_any_work(capsys):
    with pytest.raises(SystemExit):
        scale.main(["--minutes", "30,lots"])
    with pytest.raises(SystemExit):
        scale.main(["--representations", "whisper,wav2vec"])
    assert "wav2vec" in capsys.readouterr().err


def test_the_encoder_limit_times_the_windows_the_feature_limit_times(tiny_corpus, monkeypatch):
    """Same windows, in Transform's batch size, through WindowFeatures (here a stand-in: the real
    encoder is timed by the bench itself); each window counted once, warm-up untimed."""
    from models.whisper import embedding

    calls = []

    class StandIn:
        def __init__(self, location, pooling):
            calls.append(("init", location, pooling))

        def __call__(self, batch):
            calls.append(tuple(batch.shape.as_list()))
            return batch[:, :4], batch[:, :2]

    monkeypatch.setattr(embedding, "WindowFeatures", StandIn)
    corpus = tiny_corpus[0]
    encoder = scale_stage.encoder_limit(corpus, batch_size=5)
    features = scale_stage.feature_limit(corpus)
    windows = sum(len(b) for b in scale_stage.window_batches(corpus, 5))
    assert encoder["windows"] == features["windows"] == windows > 5
    assert calls[0] == ("init", None, scale_stage.CONFIG.features.whisper_pooling)
    assert calls[1] == (None, scale_stage.CONFIG.data.sample_rate * 3)   # traced once, any batch size
    batches = list(scale_stage.window_batches(corpus, 5))
    assert [len(b) for b in batches[:-1]] == [5] * (len(batches) - 1) and 1 <= len(batches[-1]) <= 5
    assert all(b.dtype == np.float32 for b in batches)
    assert encoder["seconds"] > 0


def test_transform_memory_phases_say_which_phase_raised_the_peak():
    from bench.transform_memory import phases

    samples = [(0.5, 1000), (1.0, 3000), (1.5, 2500), (2.5, 6000), (3.0, 5000)]
    events = [[0.0, 900, "start"], [1.2, 2800, "load start"], [1.4, 2900, "+150 MB", ["stack"]],
              [2.0, 2400, "load end"], [3.1, 5000, "end"]]
    rows = phases(samples, events)
    assert [r["mark"] for r in rows] == ["start", "load start", "load end", "end"]
    assert [r["growth_mb"] for r in rows] == [None, 1900, -400, 2600]
    assert [r["peak_since_previous_mb"] for r in rows] == [900, 3000, 2500, 6000]
