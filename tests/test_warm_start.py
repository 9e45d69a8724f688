"""Warm start and transfer (models/keras_model/warm_start.py) on small real Keras models."""
from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from models.keras_model import warm_start
from models.keras_model.model import build_model
from models.keras_model.trainer import model_artifact_uri

SIZES = {"conv_filters": [4, 8], "temporal_units": 8, "dropout": 0.1, "l2": 1e-4, "embedding_units": 16,
         "time_pool": 1}
SHAPES = {"log_mel_xf": (20, 12), "mfcc_xf": (20, 6)}
FIVE = ["Chinese", "English", "French", "German", "Russian"]
SIX = ["Chinese", "English", "French", "German", "Russian", "Spanish"]


def _model(languages, shapes=SHAPES, sizes=SIZES, seed=0):
    keras.utils.set_random_seed(seed)
    return build_model(len(languages), shapes, **sizes)


def _inputs(shapes=SHAPES, n=4):
    rng = np.random.default_rng(1)
    return {name: rng.normal(size=(n, *shape)).astype("float32") for name, shape in shapes.items()}


@pytest.fixture()
def base(tmp_path):
    """A "trained" base model: random weights, moved away from the initialisation, saved as run_fn saves it."""
    def make(languages):
        model = _model(languages, seed=1)
        rng = np.random.default_rng(3)   # moves every weight, BatchNormalization statistics included
        for layer in model.layers:
            layer.set_weights([(w * rng.uniform(0.7, 1.3, w.shape) + rng.normal(0, 0.05, w.shape)).astype(w.dtype)
                               for w in layer.get_weights()])
        warm_start.save(model, str(tmp_path / "Format-Serving"), languages, SHAPES, SIZES)
        return model, str(tmp_path / "Format-Serving")
    return make


def _embedding(model, inputs):
    """The embedding layer's output: unlike saturated probabilities, it shows any weight not copied."""
    return keras.Model(model.inputs, model.get_layer("embedding").output)(inputs).numpy()


def _body(model):
    return [w for layer in warm_start._weighted_layers(model) if layer.name not in warm_start.OUTPUT_LAYERS
            for w in layer.get_weights()]


def test_same_languages_give_identical_predictions_before_any_training(base):
    trained, folder = base(SIX)
    fresh = _model(SIX, seed=2)
    assert not np.allclose(_embedding(fresh, _inputs()), _embedding(trained, _inputs()))   # before the copy
    record = warm_start.warm_start(fresh, folder, SIX, SHAPES, SIZES)
    assert record == {"warm_started_from": folder, "warm_start_reason": "same languages: continue"}
    np.testing.assert_allclose(_embedding(fresh, _inputs()), _embedding(trained, _inputs()), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fresh(_inputs()).numpy(), trained(_inputs()).numpy(), rtol=1e-5, atol=1e-6)


def test_an_added_language_keeps_the_body_and_learns_a_new_output_layer(base):
    trained, folder = base(FIVE)
    fresh = _model(SIX, seed=2)
    init_kernel, init_bias = fresh.get_layer("probabilities").get_weights()
    record = warm_start.warm_start(fresh, folder, SIX, SHAPES, SIZES)
    assert record["warm_start_reason"] == "languages added: transfer"
    for mine, theirs in zip(_body(fresh), _body(trained), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    kernel, bias = fresh.get_layer("probabilities").get_weights()
    base_kernel, base_bias = trained.get_layer("probabilities").get_weights()
    assert kernel.shape == (SIZES["embedding_units"], 6) and bias.shape == (6,)
    np.testing.assert_array_equal(kernel[:, :5], base_kernel)      # shared languages keep their rows
    np.testing.assert_array_equal(bias[:5], base_bias)
    np.testing.assert_array_equal(kernel[:, 5], init_kernel[:, 5])  # Spanish starts fresh
    assert bias[5] == init_bias[5]


def test_reordered_languages_move_their_output_rows(base):
    trained, folder = base(FIVE)
    order = list(reversed(FIVE))
    fresh = _model(order, seed=2)
    assert warm_start.warm_start(fresh, folder, order, SHAPES, SIZES)["warm_start_reason"] == \
        "languages changed: transfer"
    # Same body, same per-language rows: the same probabilities, column for column reversed.
    np.testing.assert_allclose(fresh(_inputs()).numpy()[:, ::-1], trained(_inputs()).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shapes, sizes, reason", [
    ({"log_mel_xf": (20, 16), "mfcc_xf": (20, 6)}, SIZES, "feature shapes differ"),
    ({"log_mel_xf": (20, 12)}, SIZES, "feature shapes differ"),
    (SHAPES, {**SIZES, "embedding_units": 32}, "model config differs"),
])
def test_a_mismatch_trains_from_scratch_with_the_reason(base, shapes, sizes, reason):
    _, folder = base(SIX)
    fresh = _model(SIX, shapes, sizes, seed=2)
    before = [w.copy() for w in fresh.get_weights()]
    record = warm_start.warm_start(fresh, folder, SIX, shapes, sizes)
    assert record == {"warm_started_from": None, "warm_start_reason": reason}
    for now, then in zip(fresh.get_weights(), before, strict=True):
        np.testing.assert_array_equal(now, then)


def test_a_base_without_warm_start_files_disabled_or_absent_trains_from_scratch(tmp_path):
    fresh = _model(SIX)
    (tmp_path / "old").mkdir()
    assert warm_start.warm_start(fresh, str(tmp_path / "old"), SIX, SHAPES, SIZES)["warm_start_reason"] == \
        "base model has no warm-start weights (older version)"
    assert warm_start.warm_start(fresh, None, SIX, SHAPES, SIZES)["warm_start_reason"] == "no blessed model"
    assert warm_start.warm_start(fresh, str(tmp_path), SIX, SHAPES, SIZES, enabled=False) == \
        {"warm_started_from": None, "warm_start_reason": "disabled"}


def test_the_record_names_the_model_artifact():
    assert model_artifact_uri("/root/Trainer/model/7/Format-Serving") == "/root/Trainer/model/7"
    assert model_artifact_uri("s3://b/root/Trainer/model/7/Format-Serving/") == "s3://b/root/Trainer/model/7"
    assert model_artifact_uri("/root/Trainer/model/7") == "/root/Trainer/model/7"


def test_a_whisper_head_transfers_to_an_added_language_and_never_from_a_cnn(tmp_path):
    whisper_shapes = {"whisper_xf": (1024,), "whisper_language_xf": (99,)}

    def whisper_model(languages, seed):
        keras.utils.set_random_seed(seed)
        return build_model(len(languages), whisper_shapes, **SIZES, languages=languages)

    trained = whisper_model(FIVE, seed=1)
    folder = str(tmp_path / "whisper")
    warm_start.save(trained, folder, FIVE, whisper_shapes, SIZES)
    fresh = whisper_model(SIX, seed=2)
    record = warm_start.warm_start(fresh, folder, SIX, whisper_shapes, SIZES)
    assert record["warm_start_reason"] == "languages added: transfer"
    np.testing.assert_array_equal(fresh.get_layer("embedding").get_weights()[0],
                                  trained.get_layer("embedding").get_weights()[0])
    np.testing.assert_array_equal(fresh.get_layer("logits").get_weights()[0][:, :5],
                                  trained.get_layer("logits").get_weights()[0])
    cnn_folder = str(tmp_path / "cnn")
    warm_start.save(_model(FIVE), cnn_folder, FIVE, SHAPES, SIZES)
    assert warm_start.warm_start(whisper_model(FIVE, seed=3), cnn_folder, FIVE, whisper_shapes, SIZES) == {
        "warm_started_from": None, "warm_start_reason": "feature shapes differ"}
