"""Each of the six augmentations on a synthetic signal with a known answer; reproducibility."""
from __future__ import annotations

import numpy as np
import pytest

from audio import augment as A

RATE = 16000


def tone(freq, seconds=1.0, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def band_energy_db(x, freq, width=10.0):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return 10 * np.log10(spectrum[np.abs(freqs - freq) < width].sum() + 1e-20)


def test_high_pass_removes_a_50_hz_hum_and_keeps_speech_band():
    x = tone(50) + tone(1000)
    y = A.high_pass(x, RATE, cutoff_hz=300)
    assert band_energy_db(x, 50) - band_energy_db(y, 50) > 20
    assert abs(band_energy_db(x, 1000) - band_energy_db(y, 1000)) < 1


def test_polarity_inversion_negates_exactly():
    x = tone(440) + 0.1
    assert np.array_equal(A.invert_polarity(x), -x)


@pytest.mark.parametrize("gain_db", [-6.0, -2.5, 3.0])
def test_gain_scales_energy_by_the_db_amount(gain_db):
    x = tone(440, amplitude=0.2)
    y = A.apply_gain(x, gain_db)
    assert abs(20 * np.log10(rms(y) / rms(x)) - gain_db) < 0.01


def test_gain_never_clips_it_scales_the_peak_down():
    x = tone(440, amplitude=0.8)
    y = A.apply_gain(x, 6.0)
    assert np.max(np.abs(y)) <= 1.0 + 1e-6
    assert np.allclose(y / np.max(np.abs(y)), x / np.max(np.abs(x)), atol=1e-5)   # same shape, no clipping


@pytest.mark.parametrize("snr_db", [5.0, 10.0, 20.0])
def test_white_noise_is_added_at_the_target_snr(snr_db):
    x = tone(440)
    y = A.add_white_noise(x, np.random.default_rng(0), snr_db)
    measured = 20 * np.log10(rms(x) / rms(y - x))
    assert abs(measured - snr_db) < 0.5


def test_time_mask_zeroes_exactly_the_span():
    x = tone(440) + 0.25
    y = A.time_mask(x, start=1000, length=500)
    assert np.all(y[1000:1500] == 0.0)
    assert np.array_equal(y[:1000], x[:1000]) and np.array_equal(y[1500:], x[1500:])


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 4.0])
def test_pitch_scaling_moves_a_tone_by_the_ratio_and_keeps_length(semitones):
    x = tone(440, seconds=2.0)
    y = A.pitch_scale(x, RATE, semitones)
    assert y.shape == x.shape
    middle = y[len(y) // 4: 3 * len(y) // 4]              # away from the padded edges
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    peak = np.fft.rfftfreq(len(middle), 1 / RATE)[np.argmax(spectrum)]
    expected = 440 * 2 ** (semitones / 12)
    assert abs(peak - expected) / expected < 0.01


def test_augment_is_reproducible_and_leaves_its_input_alone():
    x = tone(300) + 0.05 * np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    before = x.copy()
    config = A.AugmentationConfig()
    a, names_a = A.augment(x, RATE, A.rng_for(7, "French/clip.mp3#0", 1), config)
    b, names_b = A.augment(x, RATE, A.rng_for(7, "French/clip.mp3#0", 1), config)
    c, _ = A.augment(x, RATE, A.rng_for(7, "French/clip.mp3#0", 2), config)
    assert np.array_equal(a, b) and names_a == names_b
    assert not np.array_equal(a, c)
    assert np.array_equal(x, before)
    assert a.dtype == np.float32 and a.shape == x.shape and np.all(np.isfinite(a)) and np.max(np.abs(a)) <= 1.0


def test_probability_one_applies_zero_never():
    x = tone(300)
    always = A.AugmentationConfig.from_dict({name: {"p": 1.0} for name in A.REGISTRY})
    never = A.AugmentationConfig.from_dict({name: {"p": 0.0} for name in A.REGISTRY})
    _, applied = A.augment(x, RATE, A.rng_for(0, "k", 1), always)
    assert set(applied) == set(A.REGISTRY)
    y, applied = A.augment(x, RATE, A.rng_for(0, "k", 1), never)
    assert applied == [] and np.array_equal(y, x)


def test_config_round_trips_and_rejects_unknown_names():
    config = A.AugmentationConfig.from_dict({"pitch_scale": {"p": 0.8, "max_semitones": 4.0}})
    assert A.AugmentationConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["pitch_scale"]["p"] == 0.8
    with pytest.raises(ValueError, match="unknown augmentation"):
        A.AugmentationConfig.from_dict({"reverb": {"p": 1.0}})


def test_plot_augmentations_writes_a_png(tmp_path):
    from audio.plots import plot_augmentations

    path = plot_augmentations(tone(300), RATE, tmp_path / "aug.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
