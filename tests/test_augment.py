"""Tests for audio.augment and audio.plots on synthetic signals with known answers."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audio import augment as A

SR = 16000


def tone(freq_hz: float, seconds: float = 1.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def band_energy_db(x: np.ndarray, freq_hz: float, sr: int = SR, half_width_hz: float = 5.0) -> float:
    """Energy (dB) of x in [f - hw, f + hw] from a Hann-windowed FFT."""
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    band = (freqs >= freq_hz - half_width_hz) & (freqs <= freq_hz + half_width_hz)
    return 10 * np.log10(spectrum[band].sum() + 1e-30)


def peak_freq(x: np.ndarray, sr: int = SR) -> float:
    x = np.asarray(x, dtype=np.float64)
    n = 4 * x.size  # zero-padded for a finer grid than 1 Hz
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n=n))
    return float(np.fft.rfftfreq(n, 1.0 / sr)[np.argmax(spectrum)])


def speechlike(seconds: float = 1.0) -> np.ndarray:
    """Harmonic signal with gliding pitch and syllable-like envelope, peak 0.8."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SR
    w = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return (0.8 * w / np.abs(w).max()).astype(np.float32)


# ----------------------------------------------------------------------------- effects


@pytest.mark.parametrize("cutoff_hz", [200.0, 400.0])
def test_high_pass_removes_50hz_keeps_1khz(cutoff_hz):
    low, high = tone(50.0), tone(1000.0)
    out_low = A.high_pass(low, SR, cutoff_hz)
    out_high = A.high_pass(high, SR, cutoff_hz)
    assert band_energy_db(low, 50) - band_energy_db(out_low, 50) > 20.0
    assert abs(band_energy_db(out_high, 1000) - band_energy_db(high, 1000)) < 1.0
    # On a mixture the 50 Hz part goes and the 1 kHz part stays.
    mix = (low + high) / 2
    out_mix = A.high_pass(mix, SR, cutoff_hz)
    assert band_energy_db(mix, 50) - band_energy_db(out_mix, 50) > 20.0
    assert abs(band_energy_db(out_mix, 1000) - band_energy_db(mix, 1000)) < 1.0
    assert out_mix.dtype == np.float32 and out_mix.shape == mix.shape


def test_high_pass_rejects_cutoff_above_nyquist():
    with pytest.raises(ValueError):
        A.high_pass(tone(100.0), SR, SR / 2)


def test_polarity_inversion_negates_exactly():
    w = speechlike()
    out = A.invert_polarity(w)
    np.testing.assert_array_equal(out, -w)
    assert out.dtype == np.float32


@pytest.mark.parametrize("gain_db", [-6.0, -2.5, 3.0, 6.0])
def test_gain_scales_rms_by_db_amount(gain_db):
    w = tone(300.0, amplitude=0.1)  # quiet: no peak limiting
    out = A.apply_gain(w, gain_db)
    assert 20 * np.log10(rms(out) / rms(w)) == pytest.approx(gain_db, abs=1e-3)


def test_gain_keeps_peak_within_one_by_scaling_not_clipping():
    w = speechlike()  # peak 0.8; +6 dB would reach ~1.6
    out = A.apply_gain(w, 6.0)
    assert np.max(np.abs(out)) == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(out)) <= 1.0
    # Scaled, not clipped: the shape is kept, out is w times one constant.
    nz = np.abs(w) > 1e-3
    ratio = out[nz] / w[nz]
    np.testing.assert_allclose(ratio, 1.0 / 0.8, rtol=1e-4)


@pytest.mark.parametrize("snr_db", [10.0, 17.5, 30.0])
def test_white_noise_hits_target_snr(snr_db):
    w = speechlike()
    out = A.add_white_noise(w, np.random.default_rng(1), snr_db)
    noise = out.astype(np.float64) - w
    measured = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum(noise**2))
    assert measured == pytest.approx(snr_db, abs=0.5)
    # White: roughly flat spectrum, so the noise is not just a scaled copy of the signal.
    assert abs(np.corrcoef(noise, w)[0, 1]) < 0.1


def test_white_noise_on_silence_stays_silent():
    out = A.add_white_noise(np.zeros(1000, np.float32), np.random.default_rng(0), 10.0)
    assert not out.any()


def test_time_mask_zeroes_exactly_the_span():
    w = np.linspace(0.1, 0.9, 4000, dtype=np.float32)  # nowhere zero
    out = A.time_mask(w, 1234, 567)
    assert not out[1234:1801].any()
    np.testing.assert_array_equal(out[:1234], w[:1234])
    np.testing.assert_array_equal(out[1801:], w[1801:])
    assert np.count_nonzero(out == 0) == 567
    assert np.all(w > 0)  # input untouched


def test_time_mask_rejects_span_outside_waveform():
    with pytest.raises(ValueError):
        A.time_mask(np.ones(100, np.float32), 90, 20)


@pytest.mark.parametrize("semitones", [-3.0, -1.5, 1.0, 2.0, 3.0])
def test_pitch_scale_moves_tone_and_keeps_length(semitones):
    w = tone(440.0)
    out = A.pitch_scale(w, SR, semitones)
    assert out.shape == w.shape and out.dtype == np.float32
    expected = 440.0 * 2 ** (semitones / 12)
    assert peak_freq(out) == pytest.approx(expected, rel=0.01)
    # The tone must not simply stay put (1 semitone ~ 6%, far outside 1%).
    assert abs(peak_freq(out) - 440.0) > 0.03 * 440.0


def test_pitch_scale_zero_is_identity():
    w = tone(440.0)
    np.testing.assert_array_equal(A.pitch_scale(w, SR, 0.0), w)


# ----------------------------------------------------------------------------- augment()


def test_augment_reproducible_and_copy_dependent():
    w = speechlike()
    original = w.copy()
    config = A.AugmentationConfig.from_dict({name: {"p": 1.0} for name in A.REGISTRY})
    out1, names1 = A.augment(w, SR, A.rng_for(7, "clip-001", 0), config)
    out2, names2 = A.augment(w, SR, A.rng_for(7, "clip-001", 0), config)
    out3, _ = A.augment(w, SR, A.rng_for(7, "clip-001", 1), config)
    out4, _ = A.augment(w, SR, A.rng_for(7, "clip-002", 0), config)
    np.testing.assert_array_equal(out1, out2)
    assert names1 == names2 == list(A.REGISTRY)
    assert not np.array_equal(out1, out3)
    assert not np.array_equal(out1, out4)
    np.testing.assert_array_equal(w, original)  # input not mutated
    for out in (out1, out3, out4):
        assert out.dtype == np.float32 and out.shape == w.shape
        assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0


def test_augment_default_config_varies_choices_and_keeps_contract():
    w = speechlike()
    seen = set()
    for copy in range(30):
        out, names = A.augment(w, SR, A.rng_for(0, "k", copy))
        seen.update(names)
        assert out.dtype == np.float32 and out.shape == w.shape
        assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
        assert all(n in A.REGISTRY for n in names) and len(set(names)) == len(names)
        if not names:
            np.testing.assert_array_equal(out, w)
    assert seen == {params.name for params in A.AugmentationConfig() if params.p > 0}


def test_augment_with_all_p_zero_is_identity():
    w = speechlike()
    config = A.AugmentationConfig.from_dict({name: {"p": 0} for name in A.REGISTRY})
    out, names = A.augment(w, SR, A.rng_for(0, "k", 0), config)
    assert names == []
    np.testing.assert_array_equal(out, w)
    assert out is not w


def test_augment_streams_independent_of_other_augmentations():
    """Disabling one augmentation must not change the random choices of another."""
    w = speechlike()
    only_noise = A.AugmentationConfig().only("white_noise")
    noise_and_polarity = only_noise.replace("polarity_inversion", p=1.0)
    a, _ = A.augment(w, SR, A.rng_for(3, "x", 0), only_noise)
    b, names = A.augment(w, SR, A.rng_for(3, "x", 0), noise_and_polarity)
    assert names == ["white_noise", "polarity_inversion"]
    np.testing.assert_array_equal(b, -a)


def test_augment_rejects_non_finite_and_multichannel():
    with pytest.raises(ValueError):
        A.augment(np.array([0.0, np.nan], np.float32), SR, A.rng_for(0, "k", 0))
    with pytest.raises(ValueError):
        A.augment(np.zeros((2, 100), np.float32), SR, A.rng_for(0, "k", 0))


def test_rng_for_is_stable_across_processes():
    """hashlib-based: a fresh interpreter with a different hash seed gives the same draws."""
    here = A.rng_for(42, "speaker/clip.wav#3", 2).integers(0, 2**62, size=3).tolist()
    code = (
        "from audio.augment import rng_for;"
        "print(rng_for(42, 'speaker/clip.wav#3', 2).integers(0, 2**62, size=3).tolist())"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert there.stdout.strip() == str(here)
    assert A.rng_for(42, "speaker/clip.wav#3", 3).integers(0, 2**62, size=3).tolist() != here
    assert A.rng_for(43, "speaker/clip.wav#3", 2).integers(0, 2**62, size=3).tolist() != here
    # Length-prefixed hashing: (1, "2", 3) and (12, "", 3) do not collide.
    assert A.rng_for(1, "2", 3).random() != A.rng_for(12, "", 3).random()


# ----------------------------------------------------------------------------- config


def test_config_round_trip_through_json():
    config = (
        A.AugmentationConfig()
        .replace("high_pass", p=0.9, min_cutoff_hz=100.0, max_cutoff_hz=300.0)
        .replace("time_mask", max_masks=3)
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert A.AugmentationConfig.from_dict(data) == config
    assert A.AugmentationConfig.from_json(config.to_json()) == config
    assert data["high_pass"] == {"p": 0.9, "min_cutoff_hz": 100.0, "max_cutoff_hz": 300.0, "order": 4}
    assert data["time_mask"]["max_masks"] == 3
    assert list(data) == list(A.REGISTRY)


def test_config_defaults_and_partial_dicts():
    default = A.AugmentationConfig()
    assert A.AugmentationConfig.from_dict({}) == default
    assert A.AugmentationConfig.from_json("") == default
    assert default["high_pass"].p == 0.3 and default["white_noise"].min_snr_db == 10.0
    partial = A.AugmentationConfig.from_dict({"white_noise": {"p": 1}})
    assert partial["white_noise"] == dataclasses.replace(default["white_noise"], p=1.0)
    assert partial["high_pass"] == default["high_pass"]


def test_config_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown augmentation 'reverb'"):
        A.AugmentationConfig.from_dict({"reverb": {"p": 0.5}})
    with pytest.raises(ValueError, match="unknown parameter"):
        A.AugmentationConfig.from_dict({"high_pass": {"cutoff": 100}})
    with pytest.raises(ValueError):
        A.AugmentationConfig().only("reverb")


@pytest.mark.parametrize(
    "bad",
    [
        {"white_noise": {"p": 1.5}},
        {"high_pass": {"min_cutoff_hz": 500, "max_cutoff_hz": 100}},
        {"time_mask": {"max_masks": 1.5}},
        {"random_gain": {"p": "0.5"}},
        {"time_mask": {"max_fraction": 0}},
    ],
)
def test_config_invalid_values_raise(bad):
    with pytest.raises(ValueError):
        A.AugmentationConfig.from_dict(bad)


# ----------------------------------------------------------------------------- plots


def test_plot_augmentations_writes_png(tmp_path):
    import matplotlib.image as mpimg

    from audio import plots

    path = plots.plot_augmentations(speechlike(0.5), SR, tmp_path / "sub" / "aug.png", seed=0)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    rows = 1 + len(A.REGISTRY)
    assert image.shape[0] == round(plots.ROW_HEIGHT_IN * rows * plots.DPI)
    assert image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not blank

    spec = plots.plot_spectrogram(tone(440.0, 0.5), SR, tmp_path / "spec.png", "tone")
    assert spec.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
