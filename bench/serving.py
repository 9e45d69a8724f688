"""Serving benchmark: what the serving path costs on top of the bare model, as a ratio.

Times, side by side in one process on the pushed SavedModel:
  - keras call: the Keras model's forward pass (its traced `call`, restored from the same
    SavedModel) on log-mel/MFCC features precomputed for exactly the windows serving cuts;
  - predict_waveform: float32 samples in, windowing + tf.Transform features + model + pooling;
  - predict_wav: 44.1 kHz 16-bit WAV bytes in, plus in-graph decoding and resampling.
For a 3 s clip: single-clip latency (p50, p99 over --repeats calls) and batched throughput
(clips/s with --batch clips a call), each printed with its ratio to the keras call.

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
    windows = np.stack([np.pad(clip[s:s + window], (0, max(0, s + window - len(clip)))) for s in starts])
    # the raw form the Transform graph takes (contract/schema.pbtxt: a RaggedTensor; exports made before
    # issue 11 took a SparseTensor)
    transformed = model.tft_layer({features.WAVEFORM: raw_waveform(tf.constant(windows))})
    # The restored Keras call's own input names (which representations this model was trained on).
    model_inputs = model.__call__.concrete_functions[0].structured_input_signature[0][0]
    single = {k: transformed[k] for k in model_inputs}
    batched = {k: tf.tile(v, [args.batch, 1, 1]) for k, v in single.items()}
    # windows count by how much real audio they hold, and only if they hold speech
    weights = probe["window_weight"].numpy()[0] * probe["window_speech"].numpy()[0]
    keras_probabilities = np.average(model(single, training=False).numpy(), axis=0, weights=weights)
    assert weights.sum() > 0, "the benchmark clip holds no speech"
    assert np.allclose(keras_probabilities, probe["probabilities"].numpy()[0], atol=1e-4), "paths disagree"

    waveform_fn, wav_fn = model.signatures["predict_waveform"], model.signatures["predict_wav"]
    one_clip, many_clips = tf.constant(clip[None]), tf.constant(np.tile(clip[None], [args.batch, 1]))
    one_wav, many_wavs = tf.constant([wav]), tf.constant([wav] * args.batch)
    paths = {
        "keras call on features": (lambda: model(single, training=False), lambda: model(batched, training=False)),
        "predict_waveform": (lambda: waveform_fn(waveform=one_clip), lambda: waveform_fn(waveform=many_clips)),
        "predict_wav (44.1 kHz WAV)": (lambda: wav_fn(audio=one_wav), lambda: wav_fn(audio=many_wavs)),
    }
    rows = {}
    for name, (one, many) in paths.items():
        latency = _timed(one, args.repeats) * 1000
        throughput = args.batch / np.median(_timed(many, args.batches, warmup=2))
        rows[name] = (np.percentile(latency, 50), np.percentile(latency, 99), throughput)

    base = rows["keras call on features"]
    print(f"model {path}: {len(starts)} window(s) of {window / rate:g} s per {args.seconds:g} s clip; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    throughput_head = f"clips/s @{args.batch}"
    print(f"{'path':28s} {'p50 ms':>8s} {'p99 ms':>8s} {'x keras':>8s} {throughput_head:>13s} {'x keras':>8s}")
    for name, (p50, p99, throughput) in rows.items():
        print(f"{name:28s} {p50:8.2f} {p99:8.2f} {p50 / base[0]:8.2f} {throughput:13.1f} {base[2] / throughput:8.2f}")
    print("x keras: p50 latency ratio and throughput ratio (keras clips/s over this path's); 1.00 = no serving cost")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
