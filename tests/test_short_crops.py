"""Short crops in feature space (models/keras_model/short_crops.py) match the features of the
cropped, zero-padded waveform, which is what serving computes for a short clip."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from config import CNN_REPRESENTATIONS, PipelineConfig, ShortCropsConfig
from contract import features
from models.keras_model.short_crops import crop_example, random_crops
from models.preprocessing import representations

CONFIG = PipelineConfig().override(features={"representations": CNN_REPRESENTATIONS}).features
RATE = PipelineConfig().data.sample_rate


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)           # syllable-rate loudness changes
    tone = np.sin(2 * np.pi * (200 + 100 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (0.3 * envelope * (tone + 0.3 * rng.normal(size=t.size))).astype(np.float32)


def _xf(outputs: dict) -> dict:
    """Representations under the names the Trainer sees them by (Transform's outputs)."""
    return {features.transformed_name(name): value for name, value in outputs.items()}


def test_crop_matches_the_cropped_waveform():
    wave = _speechlike(3.0)
    full = _xf(representations(tf.constant(wave[None]), CONFIG, RATE))
    padded = np.zeros_like(wave)
    padded[:16000] = wave[:16000]
    short = _xf(representations(tf.constant(padded[None]), CONFIG, RATE))
    # Before the per-band z-score an inaudible frame is exactly 0: that is the silence frame here.
    silence = {name: tf.zeros(full[name].shape[-1]) for name in full}
    cropped = crop_example({k: v[0] for k, v in full.items()}, tf.constant(1.0 / 3.0), silence)
    for name in (features.transformed_name(features.LOG_MEL), features.transformed_name(features.MFCC)):
        got, want = cropped[name].numpy(), short[name][0].numpy()
        inside = slice(2, 95)            # frames wholly inside the first second (25 ms frames, 10 ms hop)
        # Only the few frames straddling the crop edge differ (they enter the utterance mean).
        error = np.abs(got[inside] - want[inside])
        assert error.mean() < 0.05 and error.max() < 0.25
        np.testing.assert_array_equal(got[101:], 0.0)
        # Without re-centring the crop would be off by the change of the utterance mean.
        assert np.abs(full[name][0].numpy()[inside] - want[inside]).mean() > 5 * error.mean()


def test_random_crops_leave_uncropped_examples_alone():
    batch = {features.LOG_MEL: tf.random.normal([4, 50, 8])}
    silence = {features.LOG_MEL: tf.fill([8], -3.0)}
    same = random_crops(batch, silence, probability=0.0, min_fraction=0.3)
    np.testing.assert_allclose(same[features.LOG_MEL].numpy(), batch[features.LOG_MEL].numpy())
    cropped = random_crops(batch, silence, probability=1.0, min_fraction=0.3, seed=1)[features.LOG_MEL].numpy()
    assert all((row == -3.0).all(axis=1)[-1] for row in cropped)      # every example ends in silence frames


def test_ingestion_writes_duration_and_its_bucket():
    from components.s3_audio_example_gen.fetch_segment import segment_to_example
    from components.speaker_split import Clip
    from contract.codec import duration_bucket

    assert [duration_bucket(s) for s in (0.4, 1.0, 1.001, 2.5, 3.0)] == ["1s", "1s", "2s", "3s", "3s"]
    clip = Clip(key="English/a.mp3", language="English", label=0, speaker_id="s1")
    example = tf.train.Example.FromString(segment_to_example(np.zeros(48000, np.float32), clip, 2, {},
                                                             real_seconds=1.7))
    feats = example.features.feature
    assert feats[features.DURATION_S].float_list.value[0] == np.float32(1.7)
    assert feats[features.DURATION_BUCKET].bytes_list.value[0] == b"2s"


def test_short_crops_option_presets_json_and_bad_values():
    import argparse

    import pytest

    from config import ConfigError
    from pipeline import flags

    parser = argparse.ArgumentParser()
    flags.add_pipeline_flags(parser)
    assert "--short-crops" in parser.format_help() and "--open-set-dir" in parser.format_help()
    training = flags.config_from_flags(parser.parse_args([]), {}).training
    assert training.short_crops == ShortCropsConfig() and training.open_set_dir == "data/open_set"
    off = flags.config_from_flags(parser.parse_args(["--short-crops", "off", "--open-set-dir", ""]), {}).training
    assert off.short_crops is None and off.open_set_dir == ""
    assert flags.short_crops('{"p": 0.2, "min_seconds": 2}') == ShortCropsConfig(p=0.2, min_seconds=2)
    for bad in ('{"p": 1.5, "min_seconds": 1}', '{"p": 0.5, "min_seconds": 0}', '{"q": 1}'):
        with pytest.raises(ConfigError, match="--short-crops"):
            flags.short_crops(bad)
