"""The Trainer's input pipeline (`trainer._dataset`) on a tiny in-memory dataset.

SpecAugment is only worth something if the batches the model is fitted on are masked. The
features here are all ones, so any zero in a batch can only come from a mask.
"""
from __future__ import annotations

import types

import numpy as np
import tensorflow as tf

from config import SpecAugmentConfig
from contract import features
from models.keras_model import trainer

FRAMES, BANDS, COEFFS, SAMPLES, BATCH = 60, 32, 13, 400, 8
# The trainer reads Transform's outputs, named by the contract's transformed-name convention.
XF_LOG_MEL, XF_MFCC, XF_WAVEFORM_REP = (features.transformed_name(name) for name in
                                        (features.LOG_MEL, features.MFCC, features.WAVEFORM_REP))
SPEC_AUGMENT_ON = SpecAugmentConfig(freq_masks=2, freq_width=8, time_masks=2, time_width=20)


class _TransformOutput:
    """What `_dataset` reads of a TFTransformOutput: the transformed feature spec and schema."""

    transformed_metadata = types.SimpleNamespace(schema=None)

    def transformed_feature_spec(self):
        return {XF_LOG_MEL: tf.io.FixedLenFeature([FRAMES, BANDS], tf.float32),
                XF_MFCC: tf.io.FixedLenFeature([FRAMES, COEFFS], tf.float32),
                XF_WAVEFORM_REP: tf.io.FixedLenFeature([SAMPLES], tf.float32),
                features.LABEL_XF: tf.io.FixedLenFeature([], tf.int64)}


def _fn_args(batches: int = 4):
    """A data accessor whose factory yields all-ones features, as TFX's does: (features, label)."""
    def factory(file_pattern, options, schema):
        n = batches * options.batch_size
        data = {XF_LOG_MEL: np.ones((n, FRAMES, BANDS), np.float32),
                XF_MFCC: np.ones((n, FRAMES, COEFFS), np.float32),
                XF_WAVEFORM_REP: np.ones((n, SAMPLES), np.float32)}
        labels = np.arange(n, dtype=np.int64)[:, None] % 3
        return tf.data.Dataset.from_tensor_slices((data, labels)).batch(options.batch_size)

    return types.SimpleNamespace(data_accessor=types.SimpleNamespace(tf_dataset_factory=factory))


def _batches(spec_augment_config):
    tf.random.set_seed(0)
    dataset = trainer._dataset(_fn_args(), "unused", _TransformOutput(), BATCH, 3,
                               spec_augment_config=spec_augment_config)
    return [(x, y) for x, y in dataset.as_numpy_iterator()]


def test_spec_augment_on_masks_whole_frames_and_bands_of_training_batches():
    batches = _batches(SPEC_AUGMENT_ON)
    masked_frames = masked_bands = 0
    for x, y in batches:
        assert y.shape == (BATCH, 3) and np.array_equal(y.sum(axis=1), np.ones(BATCH))   # one-hot labels
        for key in (XF_LOG_MEL, XF_MFCC):
            zero = x[key] == 0.0
            assert set(np.unique(x[key])) <= {0.0, 1.0}              # masks hide cells, never rescale them
            masked_frames += int(zero.all(axis=2).sum())            # a whole frame: a time mask
            masked_bands += int(zero.all(axis=1).sum())             # a whole band: a frequency mask
        np.testing.assert_array_equal(x[XF_WAVEFORM_REP], 1.0)   # no bands to mask in a waveform
    # 32 examples x 2 features x 2 masks each way, widths drawn from 0..max: dozens expected.
    assert masked_frames > 20 and masked_bands > 20


def test_spec_augment_off_leaves_training_batches_untouched():
    for config in (None, {}):
        for x, _ in _batches(config):
            for key in (XF_LOG_MEL, XF_MFCC, XF_WAVEFORM_REP):
                np.testing.assert_array_equal(x[key], 1.0)
