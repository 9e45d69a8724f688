"""The pushed SavedModel as stock TF Serving sees it: core ops only, and every signature.

The model comes from one real pipeline run on the tiny corpus (conftest `pipeline_run`),
with 1.5 s windows and a 0.75 s hop.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import soxr
import tensorflow as tf

from models.keras_model.signatures import resample
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import RATE, clip, wav_bytes

# Run in a fresh interpreter that imports TensorFlow only: lists every op of the graph and of
# every function in its library, the ops reachable from the serving signatures, and which are
# not registered in core TensorFlow; then loads the model and runs predict_wav.
_OP_CHECK = r"""
import json, sys
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

path = sys.argv[1]
saved = saved_model_pb2.SavedModel.FromString(open(path + "/saved_model.pb", "rb").read())
graph = saved.meta_graphs[0]
functions = {f.signature.name: f for f in graph.graph_def.library.function}

def called(nodes):
    for node in nodes:
        if node.op in functions:
            yield node.op
        for attr in node.attr.values():
            if attr.func.name:
                yield attr.func.name
            for f in attr.list.func:
                yield f.name

all_ops = {n.op for n in graph.graph_def.node} | {n.op for f in functions.values() for n in f.node_def}
all_ops -= set(functions)
roots = {t.name.split(":")[0] for s in graph.signature_def.values() for t in s.outputs.values()}
todo = list(called(n for n in graph.graph_def.node if n.name in roots))
reached = set()
while todo:
    name = todo.pop()
    if name not in reached:
        reached.add(name)
        todo.extend(called(functions[name].node_def))
serving_ops = {n.op for name in reached for n in functions[name].node_def} - set(functions)
unregistered = sorted(op for op in all_ops if op_def_registry.get(op) is None)
model = tf.saved_model.load(path)
out = model.signatures["predict_wav"](audio=tf.constant([open(sys.argv[2], "rb").read()]))
print(json.dumps({"all_ops": sorted(all_ops), "serving_ops": sorted(serving_ops), "unregistered": unregistered,
                  "signatures": sorted(model.signatures), "language": out["language"].numpy()[0].decode(),
                  "tensorflow_io_imported": any(m.split(".")[0] == "tensorflow_io" for m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def pushed(pipeline_run):
    return pipeline_run[0]["pushed_to"]


@pytest.fixture(scope="module")
def model(pushed):
    return tf.saved_model.load(pushed)


def test_pushed_model_has_only_core_ops_and_loads_without_tensorflow_io(pushed, tmp_path):
    wav = tmp_path / "french.wav"
    wav.write_bytes(wav_bytes(clip("French", 2.0), RATE))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-c", _OP_CHECK, pushed, str(wav)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["unregistered"] == []
    assert report["tensorflow_io_imported"] is False
    assert report["language"] == "French"
    assert {"serving_default", "predict_waveform", "predict_wav", "embed"} <= set(report["signatures"])
    # The ops the features and the in-graph decoding need are there, so the check saw the graph...
    assert {"DecodeWav", "RFFT", "IRFFT", "Conv2D"} <= set(report["serving_ops"])
    # ...and nothing random (dropout, SpecAugment, augmentation) is reachable from a signature.
    random_ops = [op for op in report["serving_ops"] if "Random" in op or op.startswith("Multinomial")]
    assert random_ops == []


def test_predict_waveform_classifies_variable_lengths_and_returns_windows(model):
    fn = model.signatures["predict_waveform"]
    for language, seconds in zip(LANGUAGES, (0.9, 1.5, 4.2)):
        out = {k: v.numpy()[0] for k, v in fn(waveform=tf.constant(clip(language, seconds)[None])).items()}
        assert out["language"].decode() == language
        assert [x.decode() for x in out["languages"]] == LANGUAGES
        assert out["probabilities"].sum() == pytest.approx(1.0, abs=1e-4)
        assert out["window_seconds"] == pytest.approx(1.5) and out["hop_seconds"] == pytest.approx(0.75)
        assert out["sample_rate"] == RATE
        windows = 1 + int(np.ceil(max(seconds - 1.5, 0) / 0.75 - 1e-6))
        assert out["window_start_s"] == pytest.approx(0.75 * np.arange(windows), abs=1e-4)
        assert out["window_end_s"][-1] == pytest.approx(seconds, abs=1e-3)
        assert out["window_speech"].tolist() == [1.0] * windows        # synthetic speech throughout
        # Each window weighs its share of real audio, computed here from the clip length
        # (0.9 s -> [0.6]; 1.5 s -> [1]; 4.2 s -> [1, 1, 1, 1, 0.8]), not read from the model.
        weights = np.clip(seconds - 0.75 * np.arange(windows), 0.0, 1.5) / 1.5
        np.testing.assert_allclose(out["window_weight"], weights, atol=1e-4)
        expected = (out["window_probabilities"] * weights[:, None]).sum(0) / weights.sum()
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)


def test_predict_wav_matches_predict_waveform_at_16k_and_resamples_other_rates(model):
    english = clip("English", 2.4)
    direct = model.signatures["predict_waveform"](waveform=tf.constant(english[None]))["probabilities"].numpy()[0]
    wav = model.signatures["predict_wav"]
    same_rate = wav(audio=tf.constant([wav_bytes(english, RATE)]))["probabilities"].numpy()[0]
    np.testing.assert_allclose(same_rate, direct, atol=2e-3)       # only 16-bit quantisation differs

    # A batch of different rates, lengths and channel counts: each row keeps its own length.
    german_44k = clip("German", 3.0, rate=44100)
    french_8k_stereo = np.stack([clip("French", 1.8, rate=8000)] * 2, axis=1)
    out = wav(audio=tf.constant([wav_bytes(german_44k, 44100), wav_bytes(french_8k_stereo, 8000),
                                 wav_bytes(english, RATE)]))
    assert [x.decode() for x in out["language"].numpy()] == ["German", "French", "English"]
    np.testing.assert_allclose(out["duration_s"].numpy(), [3.0, 1.8, 2.4], atol=1e-3)
    np.testing.assert_allclose(out["probabilities"].numpy()[2], same_rate, atol=1e-5)

    with pytest.raises(tf.errors.InvalidArgumentError):
        wav(audio=tf.constant([b"RIFF not really a wav file"]))


def test_embed_returns_pooled_embedding_and_probabilities(model):
    fn = model.signatures["embed"]
    batch = np.stack([clip("English", 2.0, seed=1), clip("German", 2.0, seed=2)])
    out = {k: v.numpy() for k, v in fn(waveform=tf.constant(batch)).items()}
    assert out["embedding"].shape[0] == 2 and out["embedding"].shape[1] > 8
    assert [x.decode() for x in out["language"]] == ["English", "German"]
    weights = np.array([1.0, 1.25 / 1.5])     # 2 s: windows at 0 and 0.75 s, the second 1.25 s real
    np.testing.assert_allclose(out["window_weight"], [weights, weights], atol=1e-4)
    pooled = (out["window_embeddings"][0] * weights[:, None]).sum(0) / weights.sum()
    np.testing.assert_allclose(out["embedding"][0], pooled, rtol=1e-4, atol=1e-5)
    assert not np.allclose(out["embedding"][0], out["embedding"][1])
    same_as_predict = model.signatures["predict_waveform"](waveform=tf.constant(batch))["probabilities"].numpy()
    np.testing.assert_allclose(out["probabilities"], same_as_predict, atol=1e-6)


def test_serving_default_still_reads_tf_examples(model):
    from contract.codec import float_feature

    example = tf.train.Example(features=tf.train.Features(feature={"waveform": float_feature(clip("French", 1.5))}))
    out = model.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
    assert out["language"].numpy()[0].decode() == "French"


@pytest.mark.parametrize("rate_in", [44100, 22050, 48000, 8000, 11025])
def test_in_graph_resampling_matches_soxr_on_tones(rate_in):
    t = np.arange(int(1.0 * rate_in)) / rate_in
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 3100 * t)).astype(np.float32)
    ours = resample(tf.constant(tone), tf.constant(rate_in), RATE).numpy()
    reference = soxr.resample(tone, rate_in, RATE, quality="HQ")
    assert len(ours) == round(len(tone) * RATE / rate_in)
    edge = RATE // 50                                     # 20 ms at each end: periodic wrap vs soxr's delay line
    np.testing.assert_allclose(ours[edge:-edge], reference[edge:len(ours) - edge], atol=2e-3)


def test_in_graph_resampling_removes_what_the_new_rate_cannot_hold():
    rate_in = 44100
    t = np.arange(rate_in) / rate_in
    audible, alias = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 11000 * t)   # 11 kHz > 8 kHz Nyquist
    out = resample(tf.constant((audible + alias).astype(np.float32)), tf.constant(rate_in), RATE).numpy()
    spectrum = np.abs(np.fft.rfft(out)) / len(out)
    freqs = np.fft.rfftfreq(len(out), 1 / RATE)
    assert spectrum[np.argmin(np.abs(freqs - 1000))] == pytest.approx(0.5, abs=0.01)
    assert spectrum[np.argmin(np.abs(freqs - (RATE - 11000)))] < 1e-3   # where the alias would fold to


def _answer(out) -> tuple[str, np.ndarray]:
    return out["language"].numpy()[0].decode(), out["probabilities"].numpy()[0]


@pytest.mark.parametrize("name,waveform", [
    ("empty", np.zeros([1, 0], np.float32)),
    ("too short", clip("English", 0.1)[None]),
    ("all zeros", np.zeros([1, 3 * RATE], np.float32)),
    ("white noise", (0.3 * np.random.default_rng(0).standard_normal([1, 3 * RATE])).astype(np.float32)),
    ("tone", (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE))[None].astype(np.float32)),
])
def test_inputs_without_speech_answer_no_speech_never_a_language(model, name, waveform):
    for signature in ("predict_waveform", "embed"):
        language, probabilities = _answer(model.signatures[signature](waveform=tf.constant(waveform)))
        assert language == "no_speech", (signature, name)
        assert np.all(probabilities == 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_an_invalid_argument(model, bad):
    waveform = clip("English", 2.0)[None].copy()
    waveform[0, 100] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        model.signatures["predict_waveform"](waveform=tf.constant(waveform))


def test_a_batch_too_large_to_hold_is_refused_not_aborted(model):
    # 2 rows x 600 windows of 1.5 s (hop 0.75 s) > the cap of 1024 windows in one call
    waveform = tf.zeros([2, int(0.75 * RATE) * 600], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="too many windows"):
        model.signatures["predict_waveform"](waveform=waveform)


def test_predict_wav_refuses_what_is_not_a_plausible_wav_with_invalid_argument(model):
    wav = model.signatures["predict_wav"]
    mp3 = io.BytesIO()
    soundfile.write(mp3, clip("English", 1.0, rate=44100), 44100, format="MP3")
    one_hz = bytearray(wav_bytes(clip("English", 1.0), RATE))
    one_hz[24:28], one_hz[28:32] = (1).to_bytes(4, "little"), (2).to_bytes(4, "little")
    for data in (np.random.default_rng(1).bytes(5000), mp3.getvalue(), b"", b"RIFF", bytes(one_hz)):
        with pytest.raises(tf.errors.InvalidArgumentError):
            wav(audio=tf.constant([data]))
    # a silent WAV is an answer: no speech
    language, _ = _answer(wav(audio=tf.constant([wav_bytes(np.zeros(RATE * 2, np.float32), RATE)])))
    assert language == "no_speech"


def test_serving_default_answers_no_speech_for_an_example_without_audio(model):
    from contract.codec import float_feature

    empty = tf.train.Example()
    silent = tf.train.Example(features=tf.train.Features(feature={"waveform": float_feature(np.zeros(24000))}))
    french = tf.train.Example(features=tf.train.Features(feature={"waveform": float_feature(clip("French", 1.5))}))
    serialized = [e.SerializeToString() for e in (empty, silent, french)]
    out = model.signatures["serving_default"](examples=tf.constant(serialized))
    assert [x.decode() for x in out["language"].numpy()] == ["no_speech", "no_speech", "French"]
