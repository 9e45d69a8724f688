"""Command-line options both runners share: augmentation policy, SpecAugment and features.

One definition, so `local_runner.py` and `kubeflow_runner.py` accept the same spelling and
turn it into the same `create_pipeline` arguments.
"""
from __future__ import annotations

import argparse
import json

from pipeline import configs


def add_augmentation_and_feature_args(parser: argparse.ArgumentParser) -> None:
    feats = parser.add_argument_group("augmentation and features")
    feats.add_argument("--augmentation", default="default",
                       help="'default' (configs.AUGMENTATION), 'all' (configs.AUGMENTATION_ALL) or a JSON policy "
                            "{name: {field: value}, \"per_language\": {language: {...}}}")
    feats.add_argument("--spec-augment", default="default",
                       help="'default' (configs.SPEC_AUGMENT), 'on' (configs.SPEC_AUGMENT_ON), 'off' or JSON")
    feats.add_argument("--representations", default=None,
                       help="comma-separated: waveform,stft_magnitude,power_spectrogram,log_mel,mfcc "
                            "(none: configs.FEATURES)")
    feats.add_argument("--num-mel-bins", type=int, default=None, help="log-mel bands (none: configs.FEATURES)")
    feats.add_argument("--mfcc-deltas", type=int, default=None, choices=(0, 1, 2),
                       help="delta orders appended to the MFCC (none: configs.FEATURES)")
    feats.add_argument("--short-crops", default="default",
                       help="'default' (configs.SHORT_CROPS), 'off' or JSON {\"p\": share of training windows "
                            "cropped, \"min_seconds\": shortest crop}")
    feats.add_argument("--open-set-dir", default=configs.OPEN_SET_DIR,
                       help="out-of-set clips (manifest.jsonl + MP3s) for the open-set threshold; '' for none")


def _preset_or_json(text: str, presets: dict):
    return presets[text] if text in presets else json.loads(text)


def augmentation_policy(args) -> dict:
    return _preset_or_json(args.augmentation, {"default": configs.AUGMENTATION, "all": configs.AUGMENTATION_ALL})


def spec_augment_config(args):
    return _preset_or_json(args.spec_augment, {"default": configs.SPEC_AUGMENT, "on": configs.SPEC_AUGMENT_ON,
                                               "off": None})


def short_crops_config(args):
    crops = _preset_or_json(args.short_crops, {"default": configs.SHORT_CROPS, "off": None})
    if crops is not None and not (0.0 <= float(crops.get("p", -1)) <= 1.0 and float(crops.get("min_seconds", 0)) > 0):
        raise ValueError(f"--short-crops needs 0 <= p <= 1 and min_seconds > 0, got {crops}")
    return crops


def feature_overrides(args) -> dict:
    overrides = {}
    if args.representations:
        overrides["representations"] = configs.parse_languages(args.representations)  # same comma-list syntax
    if args.num_mel_bins is not None:
        overrides["num_mel_bins"] = args.num_mel_bins
    if args.mfcc_deltas is not None:
        overrides["mfcc_deltas"] = args.mfcc_deltas
    return overrides


def pipeline_kwargs(args) -> dict:
    """The create_pipeline keyword arguments these options stand for."""
    return {"augmentation": augmentation_policy(args), "feature_overrides": feature_overrides(args),
            "spec_augment": spec_augment_config(args), "short_crops": short_crops_config(args),
            "open_set_dir": args.open_set_dir}
