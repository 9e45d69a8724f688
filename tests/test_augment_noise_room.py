"""Noise and room augmentations (audio/augment/additive_noise.py, room.py, audio/noise.py, audio/reverb.py):
exact SNRs, spectral slopes, RT60 decay."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from audio import augment as A
from audio import noise, reverb
from tests.helpers.audio_signals import SR, decay_time_s, rms, speechlike, tone


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
