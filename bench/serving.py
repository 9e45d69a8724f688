"""Serving benchmark: what the serving path costs on top of the bare model, as a ratio.

Times, side by side in one process on the pushed SavedModel:
  - keras call: the Keras model's forward pass (its traced `call`, restored from the same
    SavedModel) on log-mel/MFCC features precomputed for exactly the windows serving cuts;
  - encoder + keras call (models trained with `--representations whisper`): Whisper's log-mel,
    encoder and language head (models/whisper, the installed weights) on the same windows,
    then the Keras call, in one tf.function: the bare model such a SavedModel serves;
  - predict_waveform: float32 samples in, windowing + tf.Transform features + model + pooling;
  - predict_wav: 44.1 kHz 16-bit WAV bytes in, plus in-graph decoding and resampling.
For a 3 s clip: single-clip latency (p50, p99 over --repeats calls) and batched throughput
(clips/s with --batch clips a call), each printed with its ratio to the bare model: the keras
call, or for a Whisper model the encoder + keras call (target for predict_waveform: <= 1.2x).

    python -m bench.serving --model-dir serving_model/langid [--seconds 3] [--repeats 200] [--batch 32]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import soxr

from audio.decode import decode_audio
from contract import features
from serving.audio_input import wav_bytes
from serving.model_dir import resolve_model_dir
from serving.settings import MODEL_NAME, PROBE_SAMPLE_RATE

WAV_RATE = 44100
DEMO_CLIP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo", "English",
                         "espeak-annie__009.mp3")


def _timed(fn, repeats: int, warmup: int = 5) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - start
    return times


def served_probabilities(window_probabilities, weights: np.ndarray, temperature) -> np.ndarray:
    """A clip's answer from its windows' model outputs as the signatures give it: each window
    calibrated (the pushed model's temperature), then averaged with the windows' weights."""
    from models.keras_model.signatures import calibrate

    return np.average(calibrate(window_probabilities, temperature).numpy(), axis=0, weights=weights)


def encoder_and_head(model, window_samples: int, pooling: str, precomputed: dict):
    """tf.function: windows [B, window_samples] -> the Keras model's probabilities [B, classes], with the
    Whisper inputs computed from the windows (WindowFeatures, as Transform computes them) and any other
    input the model takes (a CNN representation beside Whisper) taken from `precomputed` (tiled to B)."""
    import tensorflow as tf

    from models.whisper.embedding import WindowFeatures

    whisper = WindowFeatures(None, pooling)

    @tf.function(input_signature=[tf.TensorSpec([None, window_samples], tf.float32)])
    def call(windows):
        pooled, log_probs = whisper(windows)
        inputs = {features.WHISPER_XF: pooled, features.WHISPER_LANGUAGE_XF: log_probs}
        for name, value in precomputed.items():
            repeat = tf.shape(windows)[0] // tf.shape(value)[0]
            inputs[name] = tf.tile(value, [repeat] + [1] * (value.shape.rank - 1))
        return model(inputs, training=False)

    return call


def whisper_pooling(width: int) -> str:
    """The pooling that gave a whisper_xf of `width` (models/whisper/embedding.POOLINGS)."""
    from models.whisper.embedding import POOLINGS
    from models.whisper.encoder import WIDTH

    by_width = {WIDTH * n: name for name, n in POOLINGS.items()}
    if width not in by_width:
        raise ValueError(f"{features.WHISPER_XF} of width {width}: none of {sorted(by_width)}")
    return by_width[width]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model-dir", default=os.path.join("serving_model", MODEL_NAME),
                   help="pushed model (base folder: newest version), e.g. after `make demo`")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length")
    p.add_argument("--repeats", type=int, default=200, help="single-clip calls timed per path")
    p.add_argument("--batch", type=int, default=32, help="clips per call for throughput")
    p.add_argument("--batches", type=int, default=10, help="batched calls timed per path")
    args = p.parse_args(argv)

    import tensorflow as tf

    from models.preprocessing import raw_waveform

    path = resolve_model_dir(args.model_dir)
    model = tf.saved_model.load(path)
    rate = PROBE_SAMPLE_RATE  # the pipeline's rate, which the model reports as its sample_rate
    # Real (synthetic-voice) speech from the demo corpus: a buzz or tone would be "no speech" and skip the model's
    # pooling; the first clip long enough, else the first clip repeated.
    with open(DEMO_CLIP, "rb") as f:
        mp3 = f.read()
    speech = decode_audio(mp3, rate)
    clip = np.tile(speech, int(np.ceil(args.seconds * rate / len(speech))))[: int(args.seconds * rate)]
    wav = wav_bytes(soxr.resample(clip, rate, WAV_RATE), WAV_RATE)

    # The windows predict_waveform cuts for this clip, and their features, computed once.
    probe = model.signatures["predict_waveform"](waveform=tf.constant(clip[None]))
    window = int(round(float(probe["window_seconds"][0]) * rate))
    starts = np.round(probe["window_start_s"].numpy()[0] * rate).astype(int)
    windows = np.stack([np.pad(clip[s:s + window], (0, max(0, s + window - len(clip)))) for s in starts]).astype(
        np.float32)
    # the raw form the Transform graph takes (contract/schema.pbtxt: a RaggedTensor; exports made before
    # issue 11 took a SparseTensor)
    transformed = model.tft_layer({features.WAVEFORM: raw_waveform(tf.constant(windows))})
    # The restored Keras call's own input names (which representations this model was trained on).
    model_inputs = model.__call__.concrete_functions[0].structured_input_signature[0][0]
    single = {k: transformed[k] for k in model_inputs}
    batched = {k: tf.tile(v, [args.batch] + [1] * (v.shape.rank - 1)) for k, v in single.items()}  # 2-D: whisper
    # windows count by how much real audio they hold, and only if they hold speech
    weights = probe["window_weight"].numpy()[0] * probe["window_speech"].numpy()[0]
    temperature = getattr(model, "calibration_temperature", 1.0)
    keras_probabilities = served_probabilities(model(single, training=False), weights, temperature)
    assert weights.sum() > 0, "the benchmark clip holds no speech"
    assert np.allclose(keras_probabilities, probe["probabilities"].numpy()[0], atol=1e-4), "paths disagree"

    waveform_fn, wav_fn = model.signatures["predict_waveform"], model.signatures["predict_wav"]
    one_clip, many_clips = tf.constant(clip[None]), tf.constant(np.tile(clip[None], [args.batch, 1]))
    one_wav, many_wavs = tf.constant([wav]), tf.constant([wav] * args.batch)
    paths = {
        "keras call on features": (lambda: model(single, training=False), lambda: model(batched, training=False)),
    }
    base_name = "keras call on features"
    if features.WHISPER_XF in model_inputs:
        others = {k: v for k, v in single.items() if k not in (features.WHISPER_XF, features.WHISPER_LANGUAGE_XF)}
        bare = encoder_and_head(model, window, whisper_pooling(int(single[features.WHISPER_XF].shape[-1])), others)
        one_window_set, many_window_sets = tf.constant(windows), tf.constant(np.tile(windows, [args.batch, 1]))
        bare_probabilities = served_probabilities(bare(one_window_set), weights, temperature)
        assert np.allclose(bare_probabilities, probe["probabilities"].numpy()[0], atol=1e-4), "bare path disagrees"
        base_name = "encoder + keras call"
        paths[base_name] = (lambda: bare(one_window_set), lambda: bare(many_window_sets))
    paths.update({
        "predict_waveform": (lambda: waveform_fn(waveform=one_clip), lambda: waveform_fn(waveform=many_clips)),
        "predict_wav (44.1 kHz WAV)": (lambda: wav_fn(audio=one_wav), lambda: wav_fn(audio=many_wavs)),
    })
    rows = {}
    for name, (one, many) in paths.items():
        latency = _timed(one, args.repeats) * 1000
        throughput = args.batch / np.median(_timed(many, args.batches, warmup=2))
        rows[name] = (np.percentile(latency, 50), np.percentile(latency, 99), throughput)

    print(f"model {path}: {len(starts)} window(s) of {window / rate:g} s per {args.seconds:g} s clip; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print_rows(rows, base_name, args.batch)
    return 0


def print_rows(rows: dict[str, tuple[float, float, float]], base_name: str, batch: int) -> dict[str, tuple]:
    """Print each path's (p50 ms, p99 ms, clips/s) with its ratios to the bare model's; returns the ratios
    {path: (p50 ratio, throughput cost ratio)}."""
    base = rows[base_name]
    ratios = {name: (p50 / base[0], base[2] / throughput) for name, (p50, _, throughput) in rows.items()}
    throughput_head = f"clips/s @{batch}"
    print(f"{'path':28s} {'p50 ms':>8s} {'p99 ms':>8s} {'x bare':>8s} {throughput_head:>13s} {'x bare':>8s}")
    for name, (p50, p99, throughput) in rows.items():
        print(f"{name:28s} {p50:8.2f} {p99:8.2f} {ratios[name][0]:8.2f} {throughput:13.1f} {ratios[name][1]:8.2f}")
    print(f"x bare: p50 latency ratio and throughput ratio ({base_name!r} clips/s over this path's) to the bare "
          "model; 1.00 = no serving cost")
    return ratios


if __name__ == "__main__":
    raise SystemExit(main())
