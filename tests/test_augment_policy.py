"""Applying augmentations: seeded streams, the JSON config, the per-language policy and ORDER
(audio/augment/apply.py, policy.py, registry.py)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from audio import augment as A
from audio import noise
from tests.helpers.audio_signals import SR, speechlike


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
    from config import AUGMENTATION_ALL

    w = speechlike()
    a, b, c = (bench.shifted(w, key, SR) for key in ("clip#0", "clip#0", "clip#1"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and a.shape == w.shape and np.max(np.abs(a)) <= 1.0
    bank = {name for name, _ in noise.load_bank(str(noise.bank_dir()), SR)}
    assert bench.SHIFT_NOISE_COLOUR not in bank
    assert bench.SHIFT_RT60_S[0] > AUGMENTATION_ALL["room_reverb"]["max_rt60_s"]


def test_order_and_registrations_must_match():
    """A registered augmentation left out of ORDER (or a name in ORDER nobody registered) fails loudly."""
    from audio.augment import registry

    known = dict(A.REGISTRY)
    assert list(registry._in_order(A.ORDER, known)) == list(A.ORDER) == list(A.REGISTRY)
    with pytest.raises(ValueError, match="missing from ORDER"):
        registry._in_order(A.ORDER[:-1], known)
    with pytest.raises(ValueError, match="unregistered"):
        registry._in_order(A.ORDER + ("telephone",), known)


def test_register_refuses_a_second_augmentation_of_the_same_name():
    @dataclasses.dataclass(frozen=True)
    class AnotherHighPass(A.AugmentationParams):
        name: ClassVar[str] = "high_pass"

    with pytest.raises(ValueError, match="already registered"):
        A.register(AnotherHighPass)
    assert A.REGISTRY["high_pass"] is A.HighPassParams
