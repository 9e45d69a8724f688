"""Every default of the pipeline, as one typed, validated configuration.

`PipelineConfig` groups the settings as the pipeline runs: data (ingestion), augmenter,
features (Transform), training (Trainer, model included), evaluation (Evaluator), push
(Pusher) and runtime (Beam, caching, where artifacts go). Each group is a frozen dataclass
whose defaults are the project's defaults; building one validates it and names the
command-line flag in any error. The runners build it from these defaults plus flags
(pipeline/flags.py) and hand it to `create_pipeline`; the groups travel to the steps in the
versioned JSON form of config/wire.py and come back as these dataclasses, validated again.

This module reads no environment variable and imports nothing of pipeline/: it is the bottom
layer that components/ and models/ import.

Adding an option: a field with its default in the group it belongs to (and its check in
that group's `__post_init__`), a flag in pipeline/flags.py that maps onto it, and its use in
the step that reads the group. Both runners get the flag; tests/test_runner_options.py checks that.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.presets import (
    AUGMENTATION_DEFAULT,
    BEAM_RUNNERS,
    INTERMEDIATE_COMPRESSIONS,
    LOCAL_DIRECT_ARGS,
    LOCAL_OUTPUT_DIR,
    WHISPER_REPRESENTATIONS,
)
from contract.features import REPRESENTATIONS, WHISPER
from contract.geometry import WindowGeometry
from contract.schema import SCHEMA_PATH

WHISPER_POOLINGS = ("mean_std", "mean")  # models/whisper/embedding.py POOLINGS
WHISPER_SAMPLE_RATE = 16000              # Whisper's front end takes 16 kHz only


class ConfigError(ValueError):
    """A setting out of range or unknown; the message starts with the flag that sets it."""


def _check(ok: bool, flag: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{flag}: {message}")


def _as_tuple(instance, name: str) -> None:
    """Frozen dataclasses keep sequences as tuples (lists from JSON or callers are converted)."""
    value = getattr(instance, name)
    if value is not None and not isinstance(value, tuple):
        object.__setattr__(instance, name, tuple(value))


# Field metadata of DataConfig (config/wire.py and components/s3_audio_example_gen/ledger.py read it).
# OFF_WIRE: set by the pipeline definition on other components (data validation, resolvers), so it
# stays out of the group's JSON and changing it leaves ingestion, Transform and Trainer cached;
# a decoded DataConfig holds its default.
OFF_WIRE = {"wire": False}
# KEEPS_EXAMPLES: changing it leaves earlier ingested examples valid (incremental ingestion keeps
# them); every other wired field is in the ledger's settings digest.
KEEPS_EXAMPLES = {"ledger": False}


@dataclass(frozen=True)
class DataConfig:
    """Where the clips are and how ingestion cuts and splits them (S3AudioExampleGen)."""

    bucket: str = "langid-demo"  # runners: --bucket, else $LANGID_BUCKET, else this
    prefix: str = ""             # runners: --prefix, else $LANGID_PREFIX, else this
    # Folder names under the prefix; their order fixes the label ids.
    languages: tuple[str, ...] = ("English", "French", "Spanish", "German", "Russian", "Chinese")
    # Empty: the standard chain (AWS_ENDPOINT_URL, then real AWS).
    s3_endpoint: str = field(default="", metadata=KEEPS_EXAMPLES)
    # Set by local_runner from the bucket listing (cache key).
    corpus_fingerprint: str = field(default="", metadata=KEEPS_EXAMPLES)
    sample_rate: int = 16000     # everything is resampled to this, mono
    segment_seconds: float = 3.0  # windows overlap by half (hop_seconds)
    eval_fraction: float = 0.2   # of each language's speakers, held out for eval
    split_seed: int = 42
    # Bad clips (undecodable, truncated, implausible) are skipped and reported; more than this
    # fraction of the listed clips fails the run instead of training on what is left.
    max_skipped_fraction: float = field(default=0.05, metadata=KEEPS_EXAMPLES)
    # How long one object's fetch is retried while the store answers 5xx, resets or times out;
    # past it the component fails (nothing is cached), so the rerun after recovery ingests all.
    fetch_retry_seconds: float = field(default=60.0, metadata=KEEPS_EXAMPLES)
    # Data validation (StatisticsGen, ExampleValidator, corpus checks) warns by default; True
    # stops the run before Transform when it finds errors.
    halt_on_anomalies: bool = field(default=False, metadata=OFF_WIRE)
    # Build on the latest earlier ingestion: fetch only new or changed objects (by key and ETag)
    # and carry the rest over (docs/architecture.md, "New scrapes: incremental ingestion").
    incremental: bool = field(default=True, metadata=OFF_WIRE)
    # Fewer speakers leaves the eval split one voice or none (a data warning).
    min_speakers_per_language: int = field(default=3, metadata=OFF_WIRE)
    # Clips of the largest language / clips of the smallest.
    max_language_imbalance: float = field(default=3.0, metadata=OFF_WIRE)

    def __post_init__(self):
        _as_tuple(self, "languages")
        _check(len(self.languages) > 0, "--languages", "at least one language is needed")
        _check(all(isinstance(name, str) and name.strip() == name and name for name in self.languages),
               "--languages", f"names must be non-empty folder names without spaces around them, got {self.languages}")
        _check(len(set(self.languages)) == len(self.languages), "--languages", f"repeated name in {self.languages}")
        _check(bool(self.bucket), "--bucket", "must not be empty")
        _check(self.sample_rate > 0, "DataConfig.sample_rate", f"must be > 0, got {self.sample_rate}")
        _check(self.segment_seconds > 0, "--segment-seconds", f"must be > 0, got {self.segment_seconds}")
        _check(0.0 < self.eval_fraction < 1.0, "--eval-fraction", f"must be in (0, 1), got {self.eval_fraction}")
        _check(0.0 <= self.max_skipped_fraction <= 1.0, "--max-skipped-fraction",
               f"must be in [0, 1], got {self.max_skipped_fraction}")
        _check(self.fetch_retry_seconds >= 0, "DataConfig.fetch_retry_seconds",
               f"must be >= 0, got {self.fetch_retry_seconds}")
        _check(self.min_speakers_per_language >= 2, "DataConfig.min_speakers_per_language",
               f"must be >= 2 (one for each side of the split), got {self.min_speakers_per_language}")
        _check(self.max_language_imbalance >= 1.0, "DataConfig.max_language_imbalance",
               f"must be >= 1, got {self.max_language_imbalance}")

    @property
    def geometry(self) -> WindowGeometry:
        """Window length, hop and pooling rule in samples (contract/geometry.py rounds them, once)."""
        return WindowGeometry(self.sample_rate, self.segment_seconds)

    @property
    def hop_seconds(self) -> float:
        return self.geometry.hop_seconds


@dataclass(frozen=True)
class AugmenterConfig:
    """Augmented copies of the train split (AudioAugmenter); `policy` is audio.augment's JSON form."""

    copies: int = 3              # per train segment; 0 leaves the augmenter out of the pipeline
    seed: int = 7
    policy: Mapping[str, Any] = field(default_factory=lambda: json.loads(json.dumps(AUGMENTATION_DEFAULT)))

    def __post_init__(self):
        _check(self.copies >= 0, "--augment-copies", f"must be >= 0, got {self.copies}")
        from audio.augment import AugmentationPolicy  # the policy's own checks: names, fields, ranges

        try:
            AugmentationPolicy.from_dict(self.policy)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"--augmentation: {err}") from err

    def policy_languages(self) -> tuple[str, ...]:
        from audio.augment import AugmentationPolicy

        return tuple(AugmentationPolicy.from_dict(self.policy).languages)


@dataclass(frozen=True)
class FeatureConfig:
    """What Transform computes (models/preprocessing.py), with core tf.signal ops."""

    # Any of contract.features.REPRESENTATIONS; the Trainer builds one model branch each.
    # presets.CNN_REPRESENTATIONS selects the CNN on log-mel + MFCC instead of Whisper.
    representations: tuple[str, ...] = WHISPER_REPRESENTATIONS
    frame_ms: float = 25.0
    hop_ms: float = 10.0
    fft_length: int = 512
    num_mel_bins: int = 64
    lower_hz: float = 60.0
    upper_hz: float = 7600.0
    num_mfcc: int = 13
    mfcc_deltas: int = 0         # 1: append deltas, 2: deltas and delta-deltas
    # Subtract each utterance's own per-band mean before the global normalisation: it removes
    # the channel and much of the speaker's spectral tilt, which the model should not learn.
    utterance_norm: bool = True
    # The `whisper` representation's weights (models/whisper/weights.py): "" = the installed copy
    # (weights.default_dir() where Transform runs), else a directory or s3:// prefix holding
    # model.bin, config.json, tokenizer.json, vocabulary.txt; every file is checked against its pinned hash.
    encoder_weights: str = ""
    # Whisper's encoder states pooled over time: "mean_std" (1024 floats a window) or "mean" (512).
    whisper_pooling: str = "mean_std"

    def __post_init__(self):
        _as_tuple(self, "representations")
        unknown = sorted(set(self.representations) - set(REPRESENTATIONS))
        _check(not unknown, "--representations", f"unknown {unknown}; known: {sorted(REPRESENTATIONS)}")
        _check(len(self.representations) > 0, "--representations", "at least one is needed")
        _check(len(set(self.representations)) == len(self.representations), "--representations",
               f"repeated name in {list(self.representations)}")
        _check(self.num_mel_bins > 0, "--num-mel-bins", f"must be > 0, got {self.num_mel_bins}")
        _check(self.mfcc_deltas in (0, 1, 2), "--mfcc-deltas", f"must be 0, 1 or 2, got {self.mfcc_deltas}")
        _check(0 < self.num_mfcc <= self.num_mel_bins, "FeatureConfig.num_mfcc",
               f"must be in [1, num_mel_bins={self.num_mel_bins}], got {self.num_mfcc}")
        _check(0 < self.hop_ms <= self.frame_ms, "FeatureConfig.hop_ms", "must be in (0, frame_ms]")
        _check(0 <= self.lower_hz < self.upper_hz, "FeatureConfig.lower_hz", "must be >= 0 and below upper_hz")
        _check(self.whisper_pooling in WHISPER_POOLINGS, "--whisper-pooling",
               f"must be one of {', '.join(WHISPER_POOLINGS)}, got {self.whisper_pooling!r}")
        _check(isinstance(self.encoder_weights, str) and self.encoder_weights.strip() == self.encoder_weights,
               "--encoder-weights", f"must be a directory or s3:// prefix without spaces around it, "
               f"got {self.encoder_weights!r}")

    @property
    def uses_whisper(self) -> bool:
        return WHISPER in self.representations


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the CNN (models/keras_model/model.py build_model's keyword arguments)."""

    conv_filters: tuple[int, ...] = (8, 16)
    temporal_units: int = 128
    dropout: float = 0.3
    l2: float = 1e-4
    embedding_units: int = 128
    time_pool: int = 1           # > 1 averages that many 10 ms frames before the image branches

    def __post_init__(self):
        _as_tuple(self, "conv_filters")
        _check(len(self.conv_filters) > 0 and min(self.conv_filters) > 0, "ModelConfig.conv_filters",
               f"needs at least one positive filter count, got {self.conv_filters}")
        _check(0.0 <= self.dropout < 1.0, "ModelConfig.dropout", f"must be in [0, 1), got {self.dropout}")
        _check(self.l2 >= 0, "ModelConfig.l2", f"must be >= 0, got {self.l2}")
        _check(min(self.temporal_units, self.embedding_units, self.time_pool) > 0, "ModelConfig",
               "temporal_units, embedding_units and time_pool must be > 0")


@dataclass(frozen=True)
class SpecAugmentConfig:
    """SpecAugment-style masks on training features (models/keras_model/spec_augment.py)."""

    freq_masks: int = 2
    freq_width: int = 8
    time_masks: int = 2
    time_width: int = 20

    def __post_init__(self):
        _check(min(dataclasses.astuple(self)) >= 0, "--spec-augment", f"counts and widths must be >= 0, got {self}")


@dataclass(frozen=True)
class ShortCropsConfig:
    """Short clips (models/keras_model/short_crops.py): this share of training windows is cropped
    to a uniform length in [min_seconds, window] and padded as serving pads a short clip."""

    p: float = 0.5
    min_seconds: float = 1.0

    def __post_init__(self):
        _check(0.0 <= self.p <= 1.0, "--short-crops", f"p must be in [0, 1], got {self.p}")
        _check(self.min_seconds > 0, "--short-crops", f"min_seconds must be > 0, got {self.min_seconds}")


@dataclass(frozen=True)
class TrainingConfig:
    """The Trainer (models/keras_model/trainer.py): budget, optimiser, seed, model."""

    train_steps: int = 1000
    epochs: int = 10             # the train steps are split into this many epochs
    eval_steps: int = 4          # validation curves only (TFMA evaluates everything): 4 x 64 covers the demo
    train_batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 2e-3
    label_smoothing: float = 0.1
    seed: int = 42               # Keras weights and shuffling (its own field; same value the split had)
    # Off by default: at the demo's 1,000-step budget it cost held-out accuracy (0.929 vs 0.939,
    # one run each); --spec-augment on uses SpecAugmentConfig's defaults.
    spec_augment: SpecAugmentConfig | None = None
    short_crops: ShortCropsConfig | None = field(default_factory=ShortCropsConfig)  # None: full windows only
    # After training the Trainer fits a temperature on the held-out speakers (calibration) and
    # chooses the open-set threshold with out-of-set clips from this folder (manifest.jsonl +
    # MP3s, relative to the project), keeping this share of in-set held-out segments correct.
    open_set_dir: str = os.path.join("data", "open_set")  # "": no open-set threshold
    open_set_min_kept_correct: float = 0.95
    # Start from the latest blessed model of another corpus listing when the feature shapes and
    # model sizes match (a new language gets a new output layer): models/keras_model/warm_start.py.
    # Needs the latest-blessed-model resolver (EvaluationConfig.baseline_resolver).
    warm_start: bool = True
    # Models on the `whisper` representation: final logits = head logits + this weight x Whisper's
    # own log-probabilities restricted to the user's languages (models/keras_model/model.py,
    # ZeroShotPrior); 0 leaves the head alone. A fixed input, not a learned branch. 0.5 by
    # measurement on unseen speech (docs/benchmarks.md): 0.4-0.7 keep both new espeak-ng sentences
    # (0.972) and human sentences (0.958-0.982); 1.0 loses espeak (0.944), 0.3 human (0.939).
    zero_shot_weight: float = 0.5
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self):
        _check(self.train_steps >= 1, "--train-steps", f"must be >= 1, got {self.train_steps}")
        _check(self.epochs >= 1, "--epochs", f"must be >= 1, got {self.epochs}")
        _check(self.eval_steps >= 1, "--eval-steps", f"must be >= 1, got {self.eval_steps}")
        _check(min(self.train_batch_size, self.eval_batch_size) >= 1, "TrainingConfig", "batch sizes must be >= 1")
        _check(self.learning_rate > 0, "TrainingConfig.learning_rate", f"must be > 0, got {self.learning_rate}")
        _check(0.0 <= self.label_smoothing < 1.0, "TrainingConfig.label_smoothing",
               f"must be in [0, 1), got {self.label_smoothing}")
        _check(0.0 <= self.zero_shot_weight <= 100.0, "--zero-shot-weight",
               f"must be in [0, 100], got {self.zero_shot_weight}")
        _check(0.0 < self.open_set_min_kept_correct <= 1.0, "--open-set-min-kept-correct",
               f"must be in (0, 1], got {self.open_set_min_kept_correct}")


@dataclass(frozen=True)
class EvaluationConfig:
    """The Evaluator's blessing gate."""

    accuracy_lower_bound: float = 0.8   # held-out accuracy a model must exceed to be blessed
    regression_tolerance: float = 1e-10  # ... and no regression beyond this against the last blessed one
    # Compare against the latest blessed model (open-source Kubeflow rejects resolver steps:
    # kubeflow_runner turns it off unless --with-baseline-resolver).
    baseline_resolver: bool = True

    def __post_init__(self):
        _check(0.0 <= self.accuracy_lower_bound < 1.0, "--accuracy-bound",
               f"must be in [0, 1), got {self.accuracy_lower_bound}")
        _check(self.regression_tolerance >= 0, "EvaluationConfig.regression_tolerance", "must be >= 0")


@dataclass(frozen=True)
class PushConfig:
    """Where Pusher writes blessed models (TF Serving layout: <dir>/<version>/saved_model.pb)."""

    model_name: str = "langid"
    # A directory or s3://...; kubeflow_runner's default is PIPELINE_ROOT/serving_model/<model_name>.
    serving_model_dir: str = os.path.join("serving_model", "langid")

    def __post_init__(self):
        _check(bool(self.model_name), "PushConfig.model_name", "must not be empty")
        _check(bool(self.serving_model_dir), "--serving-dir", "must not be empty")


@dataclass(frozen=True)
class RuntimeConfig:
    """How and where the pipeline runs: name, artifact root, cache, Beam, schema file."""

    pipeline_name: str = "langid-tfx"
    # A directory or s3://BUCKET/PREFIX; local_runner's default is OUTPUT_DIR/pipeline_root.
    pipeline_root: str = os.path.join(LOCAL_OUTPUT_DIR, "pipeline_root")
    enable_cache: bool = True
    beam_runner: str = "DirectRunner"  # of ingestion, augmenter, Transform and Evaluator
    beam_args: tuple[str, ...] = ()    # --beam-arg, after the DirectRunner defaults, so they win
    direct_args: tuple[str, ...] = LOCAL_DIRECT_ARGS  # only with the DirectRunner
    schema_path: str = SCHEMA_PATH     # where the steps read contract/schema.pbtxt (image path on Kubeflow)
    # The orchestrator runs resolver steps with a strategy of the project's own (the previous
    # ingestion's); the KFP v2 compiler takes only TFX's built-in ones: kubeflow_runner sets False.
    custom_resolvers: bool = True
    intermediate_compression: str = "none"  # of ingestion's, augmentation's, Transform's TFRecords: none | gzip
    # Segments per batch through Transform's graph. TFX leaves tf.Examples to TFXIO's adaptive
    # batching, which grows towards 1,000 on long runs: Transform's peak RSS went from 1.5 GB
    # (200 minutes) to 2.4 GB (600 minutes), mostly the STFT of a 1,000-segment batch.
    transform_batch_size: int = 64

    def __post_init__(self):
        _as_tuple(self, "beam_args")
        _as_tuple(self, "direct_args")
        _check(self.beam_runner in BEAM_RUNNERS, "--beam-runner",
               f"unknown Beam runner {self.beam_runner!r}; choose one of {', '.join(BEAM_RUNNERS)}")
        _check(bool(self.pipeline_root), "--pipeline-root", "must not be empty")
        _check(self.intermediate_compression in INTERMEDIATE_COMPRESSIONS, "--intermediate-compression",
               f"unknown compression {self.intermediate_compression!r}; choose one of "
               f"{', '.join(INTERMEDIATE_COMPRESSIONS)}")
        _check(self.transform_batch_size >= 1, "--transform-batch-size", "must be at least 1")


_GROUPS = {"data": DataConfig, "augmenter": AugmenterConfig, "features": FeatureConfig,
           "training": TrainingConfig, "evaluation": EvaluationConfig, "push": PushConfig, "runtime": RuntimeConfig}


@dataclass(frozen=True)
class PipelineConfig:
    """The whole configuration `create_pipeline` takes; `PipelineConfig()` is every default."""

    data: DataConfig = field(default_factory=DataConfig)
    augmenter: AugmenterConfig = field(default_factory=AugmenterConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    push: PushConfig = field(default_factory=PushConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def __post_init__(self):
        for name, group in _GROUPS.items():
            _check(isinstance(getattr(self, name), group), f"PipelineConfig.{name}", f"must be a {group.__name__}")
        _check(not self.features.uses_whisper or self.data.sample_rate == WHISPER_SAMPLE_RATE, "--representations",
               f"whisper needs a sample rate of {WHISPER_SAMPLE_RATE} Hz, got {self.data.sample_rate}")
        unknown = sorted(set(self.augmenter.policy_languages()) - set(self.data.languages))
        _check(not unknown, "--augmentation",
               f"per-language augmentation for language(s) {unknown} not in --languages {list(self.data.languages)}")

    def override(self, **groups: Mapping[str, Any]) -> PipelineConfig:
        """A copy with some fields replaced, validated again:
        `config.override(data={"bucket": "b"}, training={"epochs": 2})`."""
        unknown = sorted(set(groups) - set(_GROUPS))
        if unknown:
            raise ConfigError(f"unknown config group(s) {unknown}; known: {list(_GROUPS)}")
        try:
            replaced = {name: dataclasses.replace(getattr(self, name), **dict(values))
                        for name, values in groups.items()}
        except TypeError as err:  # an unknown field name
            raise ConfigError(str(err)) from err
        return dataclasses.replace(self, **replaced)
