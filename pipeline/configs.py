"""Every default of the pipeline in one place; local_runner and kubeflow_runner flags override them.

Beam-powered components read `beam_pipeline_args`; the audio and feature settings are passed
to the components as execution properties, so they are recorded in ML Metadata with each run.
"""
from __future__ import annotations

import os

PIPELINE_NAME = "langid-tfx"

# Languages are the folder names under the bucket prefix; their order fixes the label ids.
LANGUAGES = ["English", "French", "Spanish", "German", "Russian", "Chinese"]

# Where the clips are. With no endpoint and no AWS_ENDPOINT_URL, local_runner starts an
# embedded S3 server (moto) on 127.0.0.1 and uploads the demo corpus to it.
BUCKET = os.environ.get("LANGID_BUCKET", "langid-demo")
PREFIX = os.environ.get("LANGID_PREFIX", "")
DEMO_CORPUS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")

# Audio: everything is resampled to 16 kHz mono and cut into fixed windows.
SAMPLE_RATE = 16000
SEGMENT_SECONDS = 3.0  # windows overlap by half (hop = SEGMENT_SECONDS / 2)
TRIM_THRESHOLD_DB = -40.0

# Speaker-disjoint split: this fraction of each language's speakers goes to eval.
EVAL_FRACTION = 0.2
SPLIT_SEED = 42

# Augmentation of the train split (K augmented copies per segment; 0 turns the stage off).
AUGMENT_COPIES = 3
AUGMENT_SEED = 7
# Overrides of audio.augment.AugmentationConfig's defaults. Pitch scaling (resampling, so
# formants move with the pitch) stands in for unseen voices, the demo's main difficulty.
AUGMENTATION = {"pitch_scale": {"p": 0.8, "min_semitones": -4.0, "max_semitones": 4.0}}
# The second set (time_shift, time_stretch, vtlp, random_crop, room_reverb, background_noise,
# volume) is off (p=0) in AUGMENTATION; this switches every augmentation on, as bench/augmentation.py's
# "all" arm and the e2e "everything on" test use it. A "per_language" entry overrides fields
# for one language's examples, e.g. {"per_language": {"Chinese": {"pitch_scale": {"p": 0.3}}}}.
AUGMENTATION_ALL = {
    **AUGMENTATION,
    "time_shift": {"p": 0.3, "max_fraction": 0.1},
    "time_stretch": {"p": 0.3, "min_rate": 0.85, "max_rate": 1.15},
    "vtlp": {"p": 0.3, "min_alpha": 0.9, "max_alpha": 1.1},
    "random_crop": {"p": 0.2, "min_fraction": 0.6},
    "room_reverb": {"p": 0.3, "min_rt60_s": 0.2, "max_rt60_s": 0.7},
    "background_noise": {"p": 0.4, "min_snr_db": 5.0, "max_snr_db": 25.0},
    "volume": {"p": 0.2, "min_db": -10.0, "max_db": 0.0},
}

# Features (tf.Transform, core tf.signal ops).
FEATURES = {
    "sample_rate": SAMPLE_RATE,
    "segment_seconds": SEGMENT_SECONDS,
    "frame_ms": 25.0,
    "hop_ms": 10.0,
    "fft_length": 512,
    "num_mel_bins": 64,
    "lower_hz": 60.0,
    "upper_hz": 7600.0,
    "num_mfcc": 13,
    # Which transformed features the model gets (models/preprocessing.py): any of waveform,
    # stft_magnitude, power_spectrogram, log_mel, mfcc; the Trainer builds one branch each.
    "representations": ["log_mel", "mfcc"],
    "mfcc_deltas": 0,  # 1: append deltas, 2: deltas and delta-deltas
    # Subtract each utterance's own per-band mean before the global normalisation: it removes
    # the channel and much of the speaker's spectral tilt, which the model should not learn.
    "utterance_norm": True,
}

# Training.
TRAIN_STEPS = 1000
EPOCHS = 10
EVAL_STEPS = 4  # validation curves only (TFMA evaluates everything): 4 x 64 covers the demo eval split
TRAIN_BATCH_SIZE = 32
EVAL_BATCH_SIZE = 64
LEARNING_RATE = 2e-3
LABEL_SMOOTHING = 0.1
# SpecAugment-style masks on training features (Trainer input pipeline only), e.g.
# {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 20}. Off by default:
# at the demo's 1,000-step budget it cost held-out accuracy (0.929 vs 0.939, one run each).
SPEC_AUGMENT = None
SPEC_AUGMENT_ON = {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 20}
# Short clips (models/keras_model/short_crops.py): this share of training windows is cropped to
# a uniform length in [min_seconds, window] and padded as serving pads a short clip.
SHORT_CROPS = {"p": 0.5, "min_seconds": 1.0}
# Out-of-set clips (data/open_set/, relative to the project) for the open-set threshold; "" : none.
OPEN_SET_DIR = os.path.join("data", "open_set")
MODEL = {
    "conv_filters": [8, 16],
    "temporal_units": 128,
    "dropout": 0.3,
    "l2": 1e-4,
    "embedding_units": 128,
}

# Blessing: accuracy on held-out speakers above this bound, and no regression against the
# last blessed model.
ACCURACY_LOWER_BOUND = 0.8
REGRESSION_TOLERANCE = 1e-10

SERVING_MODEL_NAME = "langid"


def trainer_config(epochs: int = EPOCHS, spec_augment: dict | None = SPEC_AUGMENT) -> dict:
    """The Trainer's custom_config, minus what create_pipeline adds (languages, features)."""
    return {
        "train_batch_size": TRAIN_BATCH_SIZE, "eval_batch_size": EVAL_BATCH_SIZE,
        "learning_rate": LEARNING_RATE, "label_smoothing": LABEL_SMOOTHING,
        "epochs": epochs, "model": MODEL, "seed": SPLIT_SEED, "spec_augment": spec_augment,
    }


def parse_languages(text: str) -> list[str]:
    """'English, French' -> ['English', 'French'] (the CLI form of LANGUAGES)."""
    return [name.strip() for name in text.split(",") if name.strip()]


# Serving (`python -m serving`, serving/): window length and hop come from the model itself
# (its training segment, half-overlapping); these are the client-side limits and defaults,
# each also a command-line flag.
SERVING = {
    "max_file_mb": 200.0,          # bigger files are refused before they are read
    "min_window_fraction": 0.5,    # shorter clips than this much of a window are refused (as in ingestion)
    "windows_per_call": 32,        # long recordings go to the model in chunks of this many windows
    "timeout_s": 30.0,             # per request to TF Serving
    "retries": 3,                  # further attempts after a retryable failure (UNAVAILABLE, 503, timeout)
    "backoff_s": 0.5,              # first retry delay, doubled each time, with jitter
}

# Scale-out: where artifacts live and which Beam runner the heavy components use.
# Local runs default to OUTPUT_DIR/pipeline_root; an s3://BUCKET/PREFIX root keeps every
# artifact in S3 through tensorflow-io's filesystem (ML Metadata stays in local SQLite).
DEFAULT_OUTPUT_DIR = "tfx_output"
BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PortableRunner")
BEAM_RUNNER = "DirectRunner"
# DirectRunner defaults: one in-memory worker on a laptop (cheapest); a Kubeflow pod runs one
# worker process per core. Any --beam-arg given later on the command line wins.
LOCAL_DIRECT_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
KUBEFLOW_DIRECT_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
# Imported by Beam in each SDK worker process, so tf.io.gfile there reads s3:// too.
S3_BEAM_PLUGIN = "storage.tf_s3_plugin"
# Where the Dockerfile puts the project inside the image (the steps' working directory).
IMAGE_PROJECT_DIR = "/langid-tfx"
# The command of every Kubeflow step (wraps TFX's KFP v2 launcher; see the module).
KUBEFLOW_CONTAINER_COMMAND = ["python", "-m", "pipeline.container_entrypoint"]


def beam_pipeline_args(runner: str, extra, direct_defaults, pipeline_root: str = "") -> list[str]:
    """--runner, the DirectRunner defaults (only for it), the S3 worker plugin, then the user's args."""
    if runner not in BEAM_RUNNERS:
        raise ValueError(f"unknown Beam runner {runner!r}; choose one of {', '.join(BEAM_RUNNERS)}")
    args = [f"--runner={runner}"]
    if runner == "DirectRunner":
        args += list(direct_defaults)
    if str(pipeline_root).startswith("s3://"):
        args.append(f"--beam_plugin={S3_BEAM_PLUGIN}")
    return args + list(extra)
