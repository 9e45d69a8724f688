"""The command-line options of every pipeline setting, defined once for both runners.

`add_pipeline_flags` adds them to a parser (defaults shown are PipelineConfig's), and
`config_from_flags` turns the parsed flags into a validated PipelineConfig. Each runner adds
only its own options (local_runner: corpus dir, output dir, pipeline root, endpoint, cache,
verbosity; kubeflow_runner: image, output file, pipeline root, endpoint, secret, resolver)
and fills the runtime fields (pipeline root, endpoint, serving dir) itself.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from config import (
    AUGMENTATION_ALL,
    AUGMENTATION_DEFAULT,
    BEAM_RUNNERS,
    INTERMEDIATE_COMPRESSIONS,
    ConfigError,
    PipelineConfig,
    ShortCropsConfig,
    SpecAugmentConfig,
)
from config.groups import WHISPER_POOLINGS

DEFAULTS = PipelineConfig()
AUGMENTATION_PRESETS = {"default": AUGMENTATION_DEFAULT, "all": AUGMENTATION_ALL}
SPEC_AUGMENT_PRESETS = {"default": DEFAULTS.training.spec_augment, "on": SpecAugmentConfig(), "off": None}
SHORT_CROPS_PRESETS = {"default": DEFAULTS.training.short_crops, "off": None}


def comma_list(text: str) -> tuple[str, ...]:
    """'English, French' -> ('English', 'French')."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """Every PipelineConfig option a user may set on either runner."""
    d = DEFAULTS
    data = parser.add_argument_group("data")
    data.add_argument("--bucket", default=None,
                      help=f"S3 bucket holding {{Language}}/{{file}}.mp3; none: $LANGID_BUCKET, else '{d.data.bucket}' "
                           "(local_runner: with no endpoint either, the embedded demo bucket on 127.0.0.1)")
    data.add_argument("--prefix", default=None,
                      help="key prefix inside the bucket, e.g. 'clips/'; none: $LANGID_PREFIX, else ''")
    data.add_argument("--languages", default=",".join(d.data.languages),
                      help="comma-separated folder names; their order fixes the label ids")
    data.add_argument("--segment-seconds", type=float, default=d.data.segment_seconds,
                      help="window length; windows overlap by half")
    data.add_argument("--eval-fraction", type=float, default=d.data.eval_fraction,
                      help="fraction of each language's speakers held out for evaluation")
    data.add_argument("--max-skipped-fraction", type=float, default=d.data.max_skipped_fraction,
                      help="fail the run when more than this fraction of the listed clips are bad")
    data.add_argument("--halt-on-anomalies", action="store_true",
                      help="stop before Transform when data validation finds errors (default: warn and go on)")
    data.add_argument("--no-incremental", action="store_true",
                      help="ingest every clip again instead of only the objects the latest ingestion does not hold")

    train = parser.add_argument_group("training and evaluation")
    train.add_argument("--train-steps", type=int, default=d.training.train_steps, help="optimizer steps")
    train.add_argument("--epochs", type=int, default=d.training.epochs,
                       help="the train steps are split into this many epochs")
    train.add_argument("--seed", type=int, default=d.training.seed,
                       help="the Trainer's seed (initial weights, shuffling); "
                            "the train/eval split keeps its own")
    train.add_argument("--eval-steps", type=int, default=d.training.eval_steps,
                       help="eval batches per epoch for the validation curve (TFMA evaluates all)")
    train.add_argument("--no-warm-start", action="store_true",
                       help="train from scratch instead of starting from the latest blessed model")
    train.add_argument("--accuracy-bound", type=float, default=d.evaluation.accuracy_lower_bound,
                       help="eval accuracy the model must exceed to be blessed")
    train.add_argument("--serving-dir", default=None,
                       help="where Pusher writes versioned SavedModels (TF Serving layout); may be s3://...; "
                            f"none: local_runner '{d.push.serving_model_dir}', "
                            f"kubeflow_runner PIPELINE_ROOT/serving_model/{d.push.model_name}")

    feats = parser.add_argument_group("augmentation and features")
    feats.add_argument("--augment-copies", type=int, default=d.augmenter.copies,
                       help="augmented copies per train segment (0: no augmentation)")
    feats.add_argument("--augmentation", default="default",
                       help="'default', 'all' (every augmentation; presets in config/presets.py) or a JSON policy "
                            "{name: {field: value}, \"per_language\": {language: {...}}}")
    feats.add_argument("--spec-augment", default="default",
                       help="'default' (off), 'on' (SpecAugmentConfig's defaults), 'off' or JSON {field: value}")
    feats.add_argument("--short-crops", default="default",
                       help="'default' (ShortCropsConfig's), 'off' or JSON {\"p\": share of training windows "
                            "cropped, \"min_seconds\": shortest crop}")
    feats.add_argument("--open-set-dir", default=d.training.open_set_dir,
                       help="out-of-set clips (manifest.jsonl + MP3s) for the open-set threshold; '' for none")
    feats.add_argument("--open-set-min-kept-correct", type=float, default=d.training.open_set_min_kept_correct,
                       metavar="SHARE",
                       help="share of the model's correct in-set answers the 'unknown' threshold keeps "
                            "(chosen on held-out speakers; higher rejects fewer unknown clips)")
    feats.add_argument("--representations", default=",".join(d.features.representations),
                       help="comma-separated: waveform,stft_magnitude,power_spectrogram,log_mel,mfcc,whisper "
                            "(whisper, the default: Whisper-base's pooled encoder states and its own language "
                            "probabilities, docs/whisper.md; log_mel,mfcc: the CNN, no weights needed)")
    feats.add_argument("--encoder-weights", default=d.features.encoder_weights, metavar="DIR",
                       help="Whisper weights for --representations whisper: a directory or s3:// prefix; "
                            "'' (default): the installed copy. Checked against the pinned hashes before any "
                            "component runs")
    feats.add_argument("--whisper-pooling", default=d.features.whisper_pooling, choices=WHISPER_POOLINGS,
                       help="Whisper encoder states pooled per window: mean_std (4,096 bytes) or mean (2,048)")
    feats.add_argument("--zero-shot-weight", type=float, default=d.training.zero_shot_weight,
                       help="weight of Whisper's own language log-probabilities added to the head's logits "
                            "(0: head only)")
    feats.add_argument("--num-mel-bins", type=int, default=d.features.num_mel_bins, help="log-mel bands")
    feats.add_argument("--mfcc-deltas", type=int, default=d.features.mfcc_deltas,
                       help="delta orders appended to the MFCC (0, 1 or 2)")

    beam = parser.add_argument_group("beam")
    beam.add_argument("--beam-runner", default=d.runtime.beam_runner, choices=BEAM_RUNNERS,
                      help="Beam runner of ingestion, augmentation, Transform and Evaluator")
    beam.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                      help="Beam pipeline argument, repeatable, e.g. --beam-arg=--direct_num_workers=2")
    beam.add_argument("--intermediate-compression", default=d.runtime.intermediate_compression,
                      choices=INTERMEDIATE_COMPRESSIONS,
                      help="compression of ingestion's, augmentation's and Transform's TFRecords")
    beam.add_argument("--transform-batch-size", type=int, default=d.runtime.transform_batch_size,
                      help="segments per batch through Transform's graph (bounds its memory)")


def _json_flag(flag: str, text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{flag}: not a preset name nor valid JSON ({err})") from err


def augmentation_policy(text: str) -> dict:
    """--augmentation: a preset name or a JSON policy."""
    policy = AUGMENTATION_PRESETS.get(text) or _json_flag("--augmentation", text)
    if not isinstance(policy, Mapping):
        raise ConfigError(f"--augmentation: a JSON policy must be an object, got {text!r}")
    return json.loads(json.dumps(policy))


def _preset_or_fields(flag: str, text: str, presets: Mapping, group: type):
    """A preset name, or JSON fields of `group` (a config dataclass); JSON null means off."""
    if text in presets:
        return presets[text]
    fields = _json_flag(flag, text)
    if fields is None:
        return None
    if not isinstance(fields, Mapping):
        raise ConfigError(f"{flag}: JSON must be an object of {group.__name__} fields, got {text!r}")
    try:
        return group(**fields)
    except TypeError as err:
        raise ConfigError(f"{flag}: {err}") from err


def spec_augment(text: str) -> SpecAugmentConfig | None:
    """--spec-augment: 'default' (off), 'on', 'off' or JSON fields of SpecAugmentConfig."""
    return _preset_or_fields("--spec-augment", text, SPEC_AUGMENT_PRESETS, SpecAugmentConfig)


def short_crops(text: str) -> ShortCropsConfig | None:
    """--short-crops: 'default', 'off' or JSON fields of ShortCropsConfig."""
    return _preset_or_fields("--short-crops", text, SHORT_CROPS_PRESETS, ShortCropsConfig)


def check_encoder_weights(config: PipelineConfig) -> None:
    """With `whisper` selected, every weights file must be the pinned bytes before any component
    runs: ConfigError (the runners exit with status 2) naming the file and its expected hash."""
    if not config.features.uses_whisper:
        return
    from models.whisper.weights import WeightsError, verify

    try:
        verify(config.features.encoder_weights or None)
    except WeightsError as err:
        raise ConfigError(f"--encoder-weights: {err}") from None


def config_from_flags(args: argparse.Namespace, environ: Mapping[str, str]) -> PipelineConfig:
    """The validated PipelineConfig the shared flags stand for (ConfigError names the flag).

    `environ` is the runner's environment: LANGID_BUCKET and LANGID_PREFIX stand in for
    --bucket and --prefix when those are not given.
    """
    d = DEFAULTS
    return d.override(
        data={"bucket": args.bucket or environ.get("LANGID_BUCKET") or d.data.bucket,
              "prefix": args.prefix if args.prefix is not None else environ.get("LANGID_PREFIX", d.data.prefix),
              "languages": comma_list(args.languages), "segment_seconds": args.segment_seconds,
              "eval_fraction": args.eval_fraction, "max_skipped_fraction": args.max_skipped_fraction,
              "halt_on_anomalies": args.halt_on_anomalies, "incremental": not args.no_incremental},
        augmenter={"copies": args.augment_copies, "policy": augmentation_policy(args.augmentation)},
        features={"representations": comma_list(args.representations), "num_mel_bins": args.num_mel_bins,
                  "mfcc_deltas": args.mfcc_deltas, "encoder_weights": args.encoder_weights,
                  "whisper_pooling": args.whisper_pooling},
        training={"train_steps": args.train_steps, "epochs": args.epochs, "eval_steps": args.eval_steps,
                  "seed": args.seed,
                  "spec_augment": spec_augment(args.spec_augment), "short_crops": short_crops(args.short_crops),
                  "open_set_dir": args.open_set_dir, "open_set_min_kept_correct": args.open_set_min_kept_correct,
                  "warm_start": not args.no_warm_start,
                  "zero_shot_weight": args.zero_shot_weight},
        evaluation={"accuracy_lower_bound": args.accuracy_bound},
        push={"serving_model_dir": args.serving_dir} if args.serving_dir else {},
        runtime={"beam_runner": args.beam_runner, "beam_args": tuple(args.beam_arg),
                 "intermediate_compression": args.intermediate_compression,
                 "transform_batch_size": args.transform_batch_size})
