"""One measured stage of the scale benchmark, run in a process of its own (see bench/scale.py).

    python -m bench.scale_stage STAGE PARAMS_JSON RESULT_JSON

STAGE is `decode_limit` or `feature_limit` (the ceilings: the libraries alone, no Beam) or
`S3AudioExampleGen`, `AudioAugmenter`, `Transform` (the pipeline's own stages, through
bench.heavy_stages.run_stage). The result file gets {"seconds": ...} and stage details.
A process per stage lets the parent read each stage's own peak memory.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import numpy as np

from config import PipelineConfig

CONFIG = PipelineConfig()  # the pipeline's defaults: the limits are measured at the same settings


def _clips(corpus_dir: str):
    with open(os.path.join(corpus_dir, "manifest.jsonl")) as f:
        for line in f:
            yield os.path.join(corpus_dir, json.loads(line)["key"])


def decode_limit(corpus_dir: str) -> dict:
    """soundfile + soxr alone: every clip's bytes (already in the page cache) to 16 kHz mono."""
    from audio.decode import decode_audio

    busy, samples = 0.0, 0
    for path in _clips(corpus_dir):
        with open(path, "rb") as f:
            data = f.read()
        started = time.perf_counter()
        samples += len(decode_audio(data, CONFIG.data.sample_rate))
        busy += time.perf_counter() - started
    return {"seconds": busy, "decoded_audio_s": samples / CONFIG.data.sample_rate}


def feature_limit(corpus_dir: str, batch_size: int = 64) -> dict:
    """tf.signal alone: log-mel(64) + MFCC(13) of every 3 s window (1.5 s hop), in batches.

    Clips are decoded, trimmed and cut as ingestion does, outside the timed part; only the
    feature computation (one compiled tf.function per batch) is timed.
    """
    import tensorflow as tf

    from audio import speech
    from audio.decode import decode_audio
    from audio.segment import fixed_segments
    from contract.geometry import WindowGeometry

    cfg = dataclasses.asdict(CONFIG.features)
    rate = CONFIG.data.sample_rate
    geometry = WindowGeometry(rate, CONFIG.data.segment_seconds)
    length = geometry.window_samples
    frame, hop = int(round(rate * cfg["frame_ms"] / 1000)), int(round(rate * cfg["hop_ms"] / 1000))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(cfg["num_mel_bins"], cfg["fft_length"] // 2 + 1, rate,
                                                       cfg["lower_hz"], cfg["upper_hz"])

    @tf.function(input_signature=[tf.TensorSpec([None, length], tf.float32)])
    def log_mel_and_mfcc(batch):
        power = tf.math.square(tf.math.abs(tf.signal.stft(batch, frame, hop, cfg["fft_length"])))
        log_mel = tf.math.log(tf.matmul(power, mel_matrix) + 1e-6)
        return log_mel, tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : cfg["num_mfcc"]]

    log_mel_and_mfcc(tf.zeros([batch_size, length]))  # trace once, outside the timing
    busy, windows, pending = 0.0, 0, []

    def run(batch):
        nonlocal busy, windows
        started = time.perf_counter()
        outputs = log_mel_and_mfcc(tf.constant(np.stack(batch)))
        [out.numpy() for out in outputs]
        busy += time.perf_counter() - started
        windows += len(batch)

    for path in _clips(corpus_dir):
        with open(path, "rb") as f:
            voiced = speech.trim(decode_audio(f.read(), rate), rate)
        pending.extend(fixed_segments(voiced, length, geometry.hop_samples))
        while len(pending) >= batch_size:
            run(pending[:batch_size])
            del pending[:batch_size]
    if pending:
        run(pending)
    return {"seconds": busy, "windows": windows}


EXECUTORS = {"S3AudioExampleGen": "components.s3_audio_example_gen.executor",
             "AudioAugmenter": "components.audio_augmenter.executor",
             "Transform": "tfx.components.transform.executor"}


def profile_executor(stage: str, dump: str) -> None:
    """Profile only the stage executor's Do (the Beam pipeline), not imports and orchestration.

    With the in-memory DirectRunner the DoFns run in the calling thread, so cProfile sees them.
    """
    import cProfile
    import importlib

    executor = importlib.import_module(EXECUTORS[stage]).Executor
    original = executor.Do

    def profiled(self, *args, **kwargs):
        profiler = cProfile.Profile()
        try:
            return profiler.runcall(original, self, *args, **kwargs)
        finally:
            profiler.dump_stats(dump)

    executor.Do = profiled


def pipeline_stage(stage: str, params: dict) -> dict:
    from bench.heavy_stages import run_stage

    if params.get("profile"):
        profile_executor(stage, params["profile"])

    runtime = {"beam_args": tuple(params["beam_args"]), "direct_args": ()}  # the setting's own DirectRunner args
    if params.get("schema_path"):
        runtime["schema_path"] = params["schema_path"]
    config = CONFIG.override(data={"bucket": params["bucket"], "prefix": params["prefix"],
                                   "languages": tuple(params["languages"])}, runtime=runtime)
    return run_stage(params["root"], stage, config)


def main(argv) -> int:
    stage, params, result_path = argv[0], json.loads(argv[1]), argv[2]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if stage == "decode_limit":
        result = decode_limit(params["corpus_dir"])
    elif stage == "feature_limit":
        result = feature_limit(params["corpus_dir"])
    else:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.WARNING)
        result = pipeline_stage(stage, params)
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(result_path + ".tmp", result_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
