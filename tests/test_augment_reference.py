"""Same seed, same output: augment() against outputs of the code before the package split.

tests/data/augment_reference.npz was written by tests/data/make_augment_reference.py from
commit 922a725 (single-file audio/augment.py, loop-based STFT); it holds the input, each
case's policy, seed, key and copy, the names applied and the output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio import augment as A

REFERENCE = Path(__file__).resolve().parent / "data" / "augment_reference.npz"


def _cases():
    with np.load(REFERENCE) as data:
        meta = json.loads(str(data["cases"]))
        return meta["sample_rate"], data["input"], [(case, data[case["name"]]) for case in meta["cases"]]


SAMPLE_RATE, INPUT, CASES = _cases()


def test_reference_covers_every_augmentation():
    applied = {name for case, _ in CASES for name in case["applied"]}
    assert applied == set(A.REGISTRY) == set(A.ORDER)


@pytest.mark.parametrize("case, expected", CASES, ids=[case["name"] for case, _ in CASES])
def test_same_seed_gives_the_pre_split_output(case, expected):
    config = A.AugmentationPolicy.from_dict(case["policy"]).default
    out, applied = A.augment(INPUT, SAMPLE_RATE, A.rng_for(case["seed"], case["key"], case["copy"]), config)
    assert applied == case["applied"]
    assert out.dtype == expected.dtype and out.shape == expected.shape
    # float32 output of float64 arithmetic: a reordered sum may move the last bit, nothing more.
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
