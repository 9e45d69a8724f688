"""One measured stage of the scale benchmark, run in a process of its own (see bench/scale.py).

    python -m bench.scale_stage STAGE PARAMS_JSON RESULT_JSON

STAGE is `decode_limit`, `feature_limit` or `encoder_limit` (the ceilings: the libraries alone,
no Beam) or
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


def window_batches(corpus_dir: str, batch_size: int):
    """Every clip decoded, trimmed and cut into 3 s windows (1.5 s hop) as ingestion cuts them,
    in batches [<= batch_size, samples]: the same windows for every limit that times a model."""
    from audio import speech
    from audio.decode import decode_audio
    from audio.segment import fixed_segments
    from contract.geometry import WindowGeometry

    rate = CONFIG.data.sample_rate
    geometry = WindowGeometry(rate, CONFIG.data.segment_seconds)
    pending = []
    for path in _clips(corpus_dir):
        with open(path, "rb") as f:
            voiced = speech.trim(decode_audio(f.read(), rate), rate)
        pending.extend(fixed_segments(voiced, geometry.window_samples, geometry.hop_samples))
        while len(pending) >= batch_size:
            yield np.stack(pending[:batch_size])
            del pending[:batch_size]
    if pending:
        yield np.stack(pending)


def timed_batches(fn, corpus_dir: str, batch_size: int) -> dict:
    """fn over every window batch; only fn's calls are timed (decoding and windowing are not).

    fn is called once on the first batch before the clock starts (tracing, graph optimisation).
    """
    busy, windows, warm = 0.0, 0, False
    for batch in window_batches(corpus_dir, batch_size):
        if not warm:
            fn(batch)
            warm = True
        started = time.perf_counter()
        fn(batch)
        busy += time.perf_counter() - started
        windows += len(batch)
    return {"seconds": busy, "windows": windows}


def feature_limit(corpus_dir: str, batch_size: int = 64) -> dict:
    """tf.signal alone: log-mel(64) + MFCC(13) of every 3 s window (1.5 s hop), in batches
    (one compiled tf.function per batch)."""
    import tensorflow as tf

    from contract.geometry import WindowGeometry

    cfg = dataclasses.asdict(CONFIG.features)
    rate = CONFIG.data.sample_rate
    length = WindowGeometry(rate, CONFIG.data.segment_seconds).window_samples
    frame, hop = int(round(rate * cfg["frame_ms"] / 1000)), int(round(rate * cfg["hop_ms"] / 1000))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(cfg["num_mel_bins"], cfg["fft_length"] // 2 + 1, rate,
                                                       cfg["lower_hz"], cfg["upper_hz"])

    @tf.function(input_signature=[tf.TensorSpec([None, length], tf.float32)])
    def log_mel_and_mfcc(batch):
        power = tf.math.square(tf.math.abs(tf.signal.stft(batch, frame, hop, cfg["fft_length"])))
        log_mel = tf.math.log(tf.matmul(power, mel_matrix) + 1e-6)
        return log_mel, tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : cfg["num_mfcc"]]

    return timed_batches(lambda batch: [out.numpy() for out in log_mel_and_mfcc(tf.constant(batch))],
                         corpus_dir, batch_size)


def encoder_limit(corpus_dir: str, batch_size: int = CONFIG.runtime.transform_batch_size) -> dict:
    """Whisper alone, outside Beam: what Transform computes per window for `--representations
    whisper` (log-mel, encoder, pooling and the language head, models.whisper.embedding.WindowFeatures,
    one tf.function), on the same windows and in Transform's batch size."""
    import tensorflow as tf

    from contract.geometry import WindowGeometry
    from models.whisper.embedding import WindowFeatures

    length = WindowGeometry(CONFIG.data.sample_rate, CONFIG.data.segment_seconds).window_samples
    features = WindowFeatures(CONFIG.features.encoder_weights or None, CONFIG.features.whisper_pooling)

    @tf.function(input_signature=[tf.TensorSpec([None, length], tf.float32)])
    def encode(batch):
        return features(batch)

    return timed_batches(lambda batch: [out.numpy() for out in encode(tf.constant(batch))], corpus_dir, batch_size)


LIMITS = {"decode_limit": decode_limit, "feature_limit": feature_limit, "encoder_limit": encoder_limit}


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

    return run_stage(params["root"], stage, stage_config(params))


def stage_config(params: dict) -> PipelineConfig:
    """The pipeline's defaults with the bench's bucket, languages, Beam setting and, when given,
    schema and representations (Transform's features)."""
    runtime = {"beam_args": tuple(params["beam_args"]), "direct_args": ()}  # the setting's own DirectRunner args
    if params.get("schema_path"):
        runtime["schema_path"] = params["schema_path"]
    features = {"representations": tuple(params["representations"])} if params.get("representations") else {}
    return CONFIG.override(data={"bucket": params["bucket"], "prefix": params["prefix"],
                                 "languages": tuple(params["languages"])}, runtime=runtime, features=features)


def main(argv) -> int:
    stage, params, result_path = argv[0], json.loads(argv[1]), argv[2]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if stage in LIMITS:
        result = LIMITS[stage](params["corpus_dir"])
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
