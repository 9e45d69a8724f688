"""SpecAugment masks: whole bands / whole frames, bounded widths, identity when off."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.keras_model.spec_augment import spec_augment


def _batch():
    rng = np.random.default_rng(0)
    return {"log_mel": tf.constant(rng.uniform(1, 2, (16, 50, 64)), tf.float32),
            "mfcc": tf.constant(rng.uniform(1, 2, (16, 50, 13)), tf.float32)}


def test_frequency_masks_hide_whole_contiguous_bands():
    tf.random.set_seed(1)
    x = _batch()
    y = spec_augment(x, ["log_mel"], freq_masks=1, freq_width=8, time_masks=0)
    masked = y["log_mel"].numpy() == 0.0
    assert np.array_equal(y["mfcc"].numpy(), x["mfcc"].numpy())          # not in keys: untouched
    for example in masked:
        bands = np.flatnonzero(example.all(axis=0))
        assert np.array_equal(example, np.broadcast_to(example.all(axis=0), example.shape))  # whole bands
        assert len(bands) <= 8 and (len(bands) == 0 or bands[-1] - bands[0] == len(bands) - 1)
    assert masked.any()
    kept = ~masked
    assert np.array_equal(y["log_mel"].numpy()[kept], x["log_mel"].numpy()[kept])


def test_time_masks_hide_whole_frames_and_widths_are_bounded():
    tf.random.set_seed(2)
    y = spec_augment(_batch(), ["log_mel", "mfcc"], freq_masks=0, time_masks=2, time_width=5)
    x = _batch()
    for key in ("log_mel", "mfcc"):
        masked = y[key].numpy() == 0.0
        frames_masked = 0
        for example in masked:
            frames = example.all(axis=1)
            assert np.array_equal(example, np.broadcast_to(frames[:, None], example.shape))
            assert frames.sum() <= 10
            frames_masked += frames.sum()
        # Inputs are in [1, 2), so zeros can only come from masks: with 2 masks of width 0-5 on 16
        # examples, about 80 frames are expected to be hidden; none would mean the masks are gone.
        assert frames_masked > 16
        np.testing.assert_array_equal(y[key].numpy()[~masked], x[key].numpy()[~masked])


def test_no_masks_is_the_identity():
    x = _batch()
    y = spec_augment(x, ["log_mel", "mfcc"], freq_masks=0, time_masks=0)
    assert all(np.array_equal(x[k].numpy(), y[k].numpy()) for k in x)


def test_the_augmentation_op_detector_sees_spec_augment_in_a_training_graph():
    """Positive control for the serving-graph checks in the e2e tests: the same walker finds the
    masks' random ops when a graph really contains SpecAugment, and none without it."""
    from tests.helpers.graph_ops import augmentation_ops, graph_def_ops

    spec = {"log_mel": tf.TensorSpec([None, 50, 64]), "mfcc": tf.TensorSpec([None, 50, 13])}
    train = tf.function(lambda x: spec_augment(x, ["log_mel"])).get_concrete_function(spec)
    serve = tf.function(lambda x: {k: v * 2.0 for k, v in x.items()}).get_concrete_function(spec)
    found = augmentation_ops(graph_def_ops(train.graph.as_graph_def()))
    assert any("Random" in op for op, _ in found) and any("spec_augment" in name for _, name in found)
    assert augmentation_ops(graph_def_ops(serve.graph.as_graph_def())) == []
