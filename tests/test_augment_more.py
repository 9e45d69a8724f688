"""The second set of augmentations, each on a synthetic signal with a known answer, and the
per-language policy."""
from __future__ import annotations

import numpy as np
import soundfile
import pytest

from audio import augment as A
from audio import noise, reverb, spectral_effects
from test_augment import SR, peak_freq, rms, speechlike, tone


def formant_voice(centre_hz: float = 1000.0, f0: float = 120.0, seconds: float = 1.0) -> np.ndarray:
    """Harmonics of f0 under one Gaussian formant at centre_hz."""
    t = np.arange(int(seconds * SR)) / SR
    w = sum(np.exp(-0.5 * ((f0 * k - centre_hz) / 150.0) ** 2) * np.sin(2 * np.pi * f0 * k * t)
            for k in range(1, int(4000 / f0)))
    return (0.5 * w / np.abs(w).max()).astype(np.float32)


def centroid_hz(x, low=300.0, high=3000.0) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(x, np.float64) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    band = (freqs > low) & (freqs < high)
    return float((spectrum[band] * freqs[band]).sum() / spectrum[band].sum())


def decay_time_s(x, drop_db: float = 30.0) -> float:
    """Seconds from the end of the loud part (last 10 ms frame within 10 dB of the peak) until the
    energy envelope is drop_db below the peak."""
    frame = SR // 100
    energy = np.array([np.sum(x[i:i + frame] ** 2) for i in range(0, len(x) - frame, frame)]) + 1e-20
    level = 10 * np.log10(energy / energy.max())
    end = int(np.flatnonzero(level > -10.0)[-1])
    below = np.flatnonzero(level[end:] < -drop_db)
    return (below[0] if below.size else len(level) - end) * frame / SR


@pytest.mark.parametrize("rate", [0.8, 0.9, 1.15, 1.25])
def test_time_stretch_changes_length_by_the_rate_and_keeps_pitch(rate):
    w = tone(440.0)
    out = spectral_effects.time_stretch(w, rate)
    assert len(out) == round(len(w) / rate)
    assert peak_freq(out) == pytest.approx(440.0, rel=0.005)
    # In the augmentation, the length is restored but the tone still does not move.
    fitted = A.time_stretch(w, SR, rate)
    assert fitted.shape == w.shape and peak_freq(fitted) == pytest.approx(440.0, rel=0.005)


def test_time_stretch_changes_tempo_of_a_pulse_train():
    """Onsets 0.25 s apart end 0.25 / rate apart: time scales, not just the length."""
    w = np.zeros(SR, np.float32)
    for start in range(0, SR, SR // 4):
        w[start:start + 800] = tone(1000.0, 0.05)
    out = spectral_effects.time_stretch(w, 1.25)
    env = np.convolve(np.abs(out), np.ones(160) / 160, mode="same")
    env -= env.mean()
    lags = np.arange(int(0.1 * SR), int(0.35 * SR))
    autocorr = [np.dot(env[:-lag], env[lag:]) for lag in lags]
    assert lags[int(np.argmax(autocorr))] / SR == pytest.approx(0.25 / 1.25, rel=0.03)


@pytest.mark.parametrize("alpha", [0.9, 1.1, 1.2])
def test_vtlp_moves_formant_energy_by_alpha(alpha):
    w = formant_voice(1000.0)
    out = spectral_effects.vtlp(w, SR, alpha)
    assert out.shape == w.shape
    ratio = centroid_hz(out) / centroid_hz(w)
    assert ratio == pytest.approx(alpha, rel=0.06)
    assert abs(ratio - 1.0) > 0.06   # moved, not left in place


def test_vtlp_warp_is_piecewise_linear_and_ends_at_nyquist():
    freqs = np.array([0.0, 1000.0, 3000.0, SR / 2])
    np.testing.assert_allclose(spectral_effects.vtlp_warp(freqs, 1.1, SR)[:3], freqs[:3] * 1.1)
    assert spectral_effects.vtlp_warp(freqs, 1.1, SR)[-1] == pytest.approx(SR / 2)
    assert spectral_effects.vtlp_warp(freqs, 0.9, SR)[-1] == pytest.approx(SR / 2)


@pytest.mark.parametrize("rt60", [0.2, 0.5, 1.0])
def test_synthetic_rir_decays_60_db_in_rt60(rt60):
    rir = reverb.synthetic_rir(np.random.default_rng(0), SR, rt60)
    assert len(rir) == pytest.approx(rt60 * SR, abs=2) and np.max(np.abs(rir)) == 1.0
    # Schroeder backward integration: slope of the energy decay curve in its -5..-25 dB part.
    edc = np.cumsum(rir[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t = np.arange(len(rir)) / SR
    part = (edc_db < -5) & (edc_db > -25)
    slope = np.polyfit(t[part], edc_db[part], 1)[0]
    assert -60.0 / slope == pytest.approx(rt60, rel=0.15)


def test_reverb_lengthens_the_decay_more_for_longer_rt60():
    burst = np.zeros(SR, np.float32)
    burst[1000:1800] = tone(800.0, 0.05)
    dry = decay_time_s(burst)
    decays = []
    for rt60 in (0.3, 0.8):
        wet = A.REGISTRY["room_reverb"].apply(burst, SR, np.random.default_rng(1), rt60_s=rt60, drr_db=0.0)
        assert wet.shape == burst.shape and rms(wet) == pytest.approx(rms(burst), rel=1e-6)
        decays.append(decay_time_s(wet))
    assert dry <= 0.02 < decays[0] < decays[1]
    assert decays[1] > 1.5 * decays[0]


@pytest.mark.parametrize("colour, exponent", [("white", 0.0), ("pink", 1.0), ("brown", 2.0), ("blue", -1.0)])
def test_coloured_noise_has_the_spectral_slope(colour, exponent):
    x = noise.coloured_noise(np.random.default_rng(0), 2**16, colour)
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    power = np.abs(np.fft.rfft(x)) ** 2
    band = (freqs > 50) & (freqs < 5000)
    slope = np.polyfit(np.log10(freqs[band]), 10 * np.log10(power[band]), 1)[0]
    assert slope == pytest.approx(-10 * exponent, abs=1.0)   # dB per decade
    assert rms(x) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("snr_db", [5.0, 15.0])
def test_background_noise_from_the_bank_at_target_snr(snr_db):
    w = speechlike()
    bank = noise.load_bank(str(noise.bank_dir()), SR)
    assert {name for name, _ in bank} >= {"white", "pink", "brown", "babble"}
    for index in range(len(bank)):
        out = A.REGISTRY["background_noise"].apply(w, SR, None, snr_db=snr_db, index=index, offset=0.7)
        added = out - w.astype(np.float64)
        assert 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum(added**2)) == pytest.approx(snr_db, abs=0.01)
        # Reference: that bank file looped, read from 70 % of its length (not the helper under test).
        raw = bank[index][1]
        start = int(0.7 * len(raw))
        expected = np.concatenate([raw] * (2 + len(w) // len(raw)))[start:start + len(w)]
        assert abs(np.corrcoef(added, expected)[0, 1]) > 0.999   # it is that bank file's excerpt


def test_bank_excerpt_starts_at_the_offset_and_loops():
    bank = [("ramp", np.arange(10.0))]
    np.testing.assert_array_equal(noise.bank_excerpt(bank, 0, 0.3, 12), [3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(noise.bank_excerpt(bank, 1, 0.0, 3), [0, 1, 2])   # index wraps round the bank


def test_noise_bank_missing_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="generate_noise_bank"):
        noise.load_bank(str(tmp_path), SR)


def test_time_shift_moves_content_and_zero_fills():
    w = np.linspace(0.1, 0.9, 1000, dtype=np.float32)
    right = A.time_shift(w, 100)
    np.testing.assert_array_equal(right[100:], w[:900])
    assert not right[:100].any()
    left = A.time_shift(w, -250)
    np.testing.assert_array_equal(left[:750], w[250:])
    assert not left[750:].any()


def test_random_crop_keeps_the_excerpt_at_the_front_and_pads():
    w = tone(300.0)
    out = A.random_crop(w, SR, 4000, 8000)
    assert out.shape == w.shape and not out[8000:].any()
    fade = int(0.005 * SR)
    np.testing.assert_array_equal(out[fade:8000 - fade], w[4000 + fade:12000 - fade])
    assert np.max(np.abs(out[:fade])) <= np.max(np.abs(w))   # faded in, no click


def test_volume_ramp_changes_level_linearly_in_db():
    w = tone(500.0, amplitude=0.1)
    out = A.apply_volume_ramp(w, 0.0, -12.0)
    head, tail = out[:1600], out[-1600:]
    change = 20 * np.log10(rms(tail) / rms(head))
    assert change == pytest.approx(-12.0 * (1 - 1600 / len(w)), abs=0.3)


@pytest.mark.parametrize("name", ["time_shift", "time_stretch", "vtlp", "room_reverb", "background_noise",
                                  "volume", "random_crop"])
def test_each_new_augmentation_is_seeded_and_length_preserving(name):
    w = speechlike()
    config = A.AugmentationConfig().only(name)
    a, names = A.augment(w, SR, A.rng_for(5, "clip", 1), config)
    b, _ = A.augment(w, SR, A.rng_for(5, "clip", 1), config)
    c, _ = A.augment(w, SR, A.rng_for(5, "clip", 2), config)
    assert names == [name]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, w)
    assert a.shape == w.shape and a.dtype == np.float32 and np.max(np.abs(a)) <= 1.0


def test_new_augmentations_are_off_by_default():
    default = A.AugmentationConfig()
    original_six = {"pitch_scale", "high_pass", "white_noise", "random_gain", "polarity_inversion", "time_mask"}
    assert {p.name for p in default if p.p > 0} == original_six


def test_per_language_policy_overrides_only_what_it_names():
    policy = A.AugmentationPolicy.from_dict({
        "pitch_scale": {"p": 0.8},
        "per_language": {"Chinese": {"pitch_scale": {"p": 0.0}, "room_reverb": {"p": 1.0}}}})
    english, chinese = policy.for_language("English"), policy.for_language("Chinese")
    assert english["pitch_scale"].p == 0.8 and english["room_reverb"].p == 0.0
    assert chinese["pitch_scale"].p == 0.0 and chinese["room_reverb"].p == 1.0
    assert chinese["pitch_scale"].max_semitones == english["pitch_scale"].max_semitones
    assert A.AugmentationPolicy.from_dict(policy.to_dict()) == policy
    w = speechlike()
    _, names = A.augment(w, SR, A.rng_for(0, "k", 0), chinese.replace("white_noise", p=0.0))
    assert "pitch_scale" not in names and "room_reverb" in names


def test_per_language_policy_rejects_unknown_names_up_front():
    with pytest.raises(ValueError, match="unknown augmentation"):
        A.AugmentationPolicy.from_dict({"per_language": {"French": {"reverb": {"p": 1}}}})
    with pytest.raises(ValueError):
        A.AugmentationPolicy.from_dict({"per_language": {"French": {"vtlp": {"min_alpha": 3}}}})


def test_ablation_shifted_condition_is_reproducible_and_unseen_in_training():
    from bench import augmentation as bench
    from pipeline import configs

    w = speechlike()
    a, b, c = (bench.shifted(w, key, SR) for key in ("clip#0", "clip#0", "clip#1"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and a.shape == w.shape and np.max(np.abs(a)) <= 1.0
    bank = {name for name, _ in noise.load_bank(str(noise.bank_dir()), SR)}
    assert bench.SHIFT_NOISE_COLOUR not in bank
    assert bench.SHIFT_RT60_S[0] > configs.AUGMENTATION_ALL["room_reverb"]["max_rt60_s"]


def test_noise_bank_digest_follows_the_bank_in_use(tmp_path, monkeypatch):
    """The augmenter's cache key carries this digest: another bank must re-run augmentation."""
    from audio.noise import DEFAULT_BANK_DIR, bank_digest

    shipped = bank_digest()
    soundfile.write(str(tmp_path / "hum.wav"), 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    monkeypatch.setenv("LANGID_NOISE_BANK", str(tmp_path))
    other = bank_digest()
    assert other != shipped and bank_digest(DEFAULT_BANK_DIR) == shipped
    soundfile.write(str(tmp_path / "hum.wav"), 0.2 * np.sin(np.arange(16000) / 5.0), 16000)
    assert bank_digest() != other
