"""The `whisper` representation through the pipeline: Transform's two features, the head with
Whisper's zero-shot term, the serving outputs, the settings and the weights preflight."""
from __future__ import annotations

import dataclasses
import functools
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from config import CNN_REPRESENTATIONS, ConfigError, ModelConfig, PipelineConfig, transform_custom_config
from contract import features
from models.keras_model.model import ZeroShotPrior, build_model
from models.whisper import languages as whisper_languages
from models.whisper import weights as W

DEMO = os.path.join(os.path.dirname(__file__), "..", "data", "demo")
SIZES = dataclasses.asdict(ModelConfig(embedding_units=16))
SHAPES = {features.WHISPER_XF: (1024,), features.WHISPER_LANGUAGE_XF: (99,)}
LANGS = ["English", "French", "Klingon"]


def whisper_log_probs(**probabilities) -> np.ndarray:
    """[1, 99] log-probabilities with the given mass on the named codes, the rest spread evenly."""
    p = np.full(99, (1.0 - sum(probabilities.values())) / (99 - len(probabilities)))
    for code, value in probabilities.items():
        p[whisper_languages.CODES.index(code)] = value
    return np.log(p)[None].astype(np.float32)


def test_language_folder_names_map_to_whisper_codes_or_none():
    from models.keras_model.model import whisper_code

    assert [whisper_code(n) for n in ("English", "french", "Mandarin", "Chinese", "fr", "Klingon")] \
        == ["en", "fr", "zh", "zh", "fr", None]


def test_zero_shot_prior_is_the_log_softmax_over_the_known_user_languages_in_their_order():
    lp = whisper_log_probs(fr=0.6, en=0.2, de=0.1)
    got = ZeroShotPrior(["French", "Klingon", "English"], weight=2.0)(tf.constant(lp)).numpy()[0]
    # French and English only, in the user's order (Klingon unknown -> 0; German is not a user language)
    expected = 2.0 * np.log(np.array([0.6, 0.2]) / 0.8)
    np.testing.assert_allclose(got, [expected[0], 0.0, expected[1]], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ZeroShotPrior(LANGS, weight=0.0)(tf.constant(lp)).numpy(), np.zeros((1, 3)))
    # a fixed input: no variables, and no gradient reaches Whisper's log-probabilities
    prior = ZeroShotPrior(LANGS)
    x = tf.constant(lp)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(prior(x))
    assert not prior.weights and tape.gradient(y, x) is None


def test_whisper_model_adds_the_weighted_prior_to_the_head_logits_and_keeps_it_untrained():
    model = build_model(3, SHAPES, **SIZES, languages=LANGS, zero_shot_weight=1.5)
    assert model.get_layer("logits") is not None and model.get_layer("embedding") is not None
    batch = {features.WHISPER_XF: tf.random.normal((1, 1024), seed=1),
             features.WHISPER_LANGUAGE_XF: tf.constant(whisper_log_probs(fr=0.6, en=0.2))}
    head = keras.Model(model.inputs, model.get_layer("logits").output)(batch).numpy()[0]
    prior = 1.5 * np.array([np.log(0.25), np.log(0.75), 0.0])
    expected = np.exp(head + prior) / np.exp(head + prior).sum()
    np.testing.assert_allclose(model(batch, training=False).numpy()[0], expected, rtol=1e-4)
    # Training moves the head only: the prior has no variables, and gradients stop at its input.
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = {features.WHISPER_XF: np.random.default_rng(0).normal(size=(16, 1024)).astype(np.float32),
         features.WHISPER_LANGUAGE_XF: np.repeat(whisper_log_probs(fr=0.6, en=0.2), 16, axis=0)}
    y = np.eye(3, dtype=np.float32)[np.arange(16) % 3]
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match="language names"):
        build_model(3, SHAPES, **SIZES)


def test_cnn_and_whisper_together_share_the_embedding_layer():
    shapes = {**SHAPES, features.transformed_name("mfcc"): (48, 13)}
    model = build_model(3, shapes, **SIZES, languages=LANGS)
    assert sorted(model.input_names) == sorted(shapes) and model.get_layer("mfcc_temporal")


def test_whisper_settings_have_flags_and_checks():
    import local_runner
    from pipeline import flags

    args = local_runner.parse_args(["--representations", "whisper", "--whisper-pooling", "mean",
                                    "--zero-shot-weight", "0.7", "--encoder-weights", W.default_dir()])
    assert args.config.features.representations == ("whisper",)
    assert args.config.features.whisper_pooling == "mean" and args.config.training.zero_shot_weight == 0.7
    assert args.config.features.encoder_weights == W.default_dir()
    with pytest.raises(ConfigError, match="--zero-shot-weight"):
        PipelineConfig().override(training={"zero_shot_weight": -1.0})
    with pytest.raises(ConfigError, match="--whisper-pooling"):
        PipelineConfig().override(features={"whisper_pooling": "max"})
    with pytest.raises(ConfigError, match="16000 Hz"):
        PipelineConfig().override(features={"representations": ("whisper",)}, data={"sample_rate": 8000})
    cnn = PipelineConfig().override(features={"representations": CNN_REPRESENTATIONS, "encoder_weights": "/nowhere"})
    flags.check_encoder_weights(cnn)  # the CNN needs no weights: nothing read, however wrong the path
    with pytest.raises(ConfigError, match="--encoder-weights"):
        flags.check_encoder_weights(cnn.override(features={"representations": ("whisper",)}))


@pytest.mark.parametrize("damage", ["missing", "truncated", "altered"])
def test_bad_weights_stop_the_runner_before_any_component_with_exit_status_2(tmp_path, capsys, damage):
    import local_runner

    source = W.default_dir()
    if not os.path.isfile(os.path.join(source, "config.json")):
        pytest.skip("Whisper weights not installed")
    for name in W.FILES:
        target = tmp_path / name
        if name == "model.bin":
            target.write_bytes(b"")  # never read: config.json is checked first below
        else:
            shutil.copy(os.path.join(source, name), target)
    # model.bin is read first: damage it the three ways
    model_bin = tmp_path / "model.bin"
    if damage == "missing":
        model_bin.unlink()
    elif damage == "truncated":
        model_bin.write_bytes(b"\0" * 1000)
    else:
        model_bin.write_bytes(b"\0" * W.FILES["model.bin"][0])
    with pytest.raises(SystemExit) as exit_info:
        local_runner.parse_args(["--representations", "whisper", "--encoder-weights", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--encoder-weights" in err and str(model_bin) in err and W.FILES["model.bin"][1] in err
    assert {"missing": "missing", "truncated": "truncated", "altered": "altered"}[damage] in err


def test_transform_computes_pooled_whisper_features_and_language_log_probabilities():
    from audio.decode import decode_audio
    from models.preprocessing import preprocessing_fn
    from tests.helpers.transform_run import transform_waveforms

    if not os.path.isfile(os.path.join(W.default_dir(), "model.bin")):
        pytest.skip("Whisper weights not installed")
    n = 16_000  # 1 s windows
    clips = [("English/espeak-m1__000.mp3", 0), ("French/espeak-f1__001.mp3", 1)]
    raw = []
    for key, label in clips:
        with open(os.path.join(DEMO, key), "rb") as f:
            wav = decode_audio(f.read(), 16_000)
        for start in (0, n):
            raw.append({features.WAVEFORM: wav[start:start + n].astype(np.float32), features.LABEL: [label]})
    base = PipelineConfig()
    config = transform_custom_config(dataclasses.replace(base.features, representations=("whisper",)),
                                     dataclasses.replace(base.data, segment_seconds=1.0), code_version="",
                                     compression="none", batch_size=64)
    rows, out = transform_waveforms(raw, functools.partial(preprocessing_fn, custom_config=config))
    assert {k: list(v.shape) for k, v in out.items() if k != features.LABEL_XF} == {
        features.WHISPER_XF: [1024], features.WHISPER_LANGUAGE_XF: [99]}
    pooled = np.stack([r[features.WHISPER_XF] for r in rows])
    log_probs = np.stack([r[features.WHISPER_LANGUAGE_XF] for r in rows])
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-4)
    # the same windows through models.whisper directly (eager tf.function): Transform's graph is that path
    from models.whisper.embedding import WindowFeatures

    features_fn = tf.function(WindowFeatures(), input_signature=[tf.TensorSpec([None, n], tf.float32)])
    ref_pooled, ref_log_probs = (t.numpy() for t in features_fn(np.stack([r[features.WAVEFORM] for r in raw])))
    np.testing.assert_allclose(log_probs, ref_log_probs, atol=2e-3)
    np.testing.assert_allclose(pooled, ref_pooled, atol=2e-3 * np.abs(ref_pooled).max())


def test_whisper_features_run_in_tflite_as_in_tensorflow():
    """export-tflite carries the Transform graph: Whisper's front end, encoder and language step
    must convert and run in the TFLite interpreter (its RFFT takes power-of-two lengths only)."""
    from models.whisper.embedding import WindowFeatures

    if not os.path.isfile(os.path.join(W.default_dir(), "model.bin")):
        pytest.skip("Whisper weights not installed")
    window = WindowFeatures()

    @tf.function(input_signature=[tf.TensorSpec([1, 16_000], tf.float32)])
    def features_fn(x):
        pooled, log_probs = window(x)
        return {"pooled": pooled, "log_probs": log_probs}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([features_fn.get_concrete_function()], features_fn)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    x = (0.1 * np.sin(np.arange(16_000) * 2 * np.pi * 220 / 16_000)).astype(np.float32)[None]
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    got = {d["shape"][-1]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    want = features_fn(tf.constant(x))
    np.testing.assert_allclose(got[99], want["log_probs"].numpy(), atol=1e-3)
    np.testing.assert_allclose(got[1024], want["pooled"].numpy(), atol=1e-3 * np.abs(want["pooled"].numpy()).max())
