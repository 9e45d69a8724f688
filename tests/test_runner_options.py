"""Both runners take the same pipeline options, built into the same validated PipelineConfig."""
from __future__ import annotations

import argparse

import pytest

import kubeflow_runner
import local_runner
from config import ConfigError, PipelineConfig

KUBEFLOW_REQUIRED = ["--image", "registry.example/langid-tfx:1", "--pipeline-root", "s3://b/tfx"]
# Options that exist on one runner only, by design (issue 10): where a local run keeps its
# corpus, outputs, cache and logs; what a Kubeflow package needs (image, output file, secret).
LOCAL_ONLY = {"--corpus-dir", "--output-dir", "--pipeline-root", "--s3-endpoint", "--no-cache", "--verbose",
              "--quiet"}
KUBEFLOW_ONLY = {"--image", "--output", "--pipeline-root", "--s3-endpoint", "--aws-secret",
                 "--with-baseline-resolver"}


def _options(parser: argparse.ArgumentParser) -> dict:
    return {option: (action.dest, action.default, action.type, action.choices, action.nargs, type(action))
            for action in parser._actions for option in action.option_strings if option not in ("-h", "--help")}


def test_both_runners_take_every_pipeline_option():
    local = _options(local_runner.build_parser())
    kubeflow = _options(kubeflow_runner.build_parser())
    shared_local = {k: v for k, v in local.items() if k not in LOCAL_ONLY}
    shared_kubeflow = {k: v for k, v in kubeflow.items() if k not in KUBEFLOW_ONLY}
    assert sorted(shared_local) == sorted(shared_kubeflow)
    assert shared_local == shared_kubeflow  # same destination, default, type and choices
    assert {"--epochs", "--segment-seconds", "--eval-fraction", "--accuracy-bound"} <= set(shared_kubeflow)


def test_the_same_flags_give_the_same_config_on_both_runners():
    flags = ["--languages", "English,French", "--epochs", "3", "--segment-seconds", "1.5", "--eval-fraction", "0.3",
             "--accuracy-bound", "0.6", "--train-steps", "50", "--augment-copies", "1", "--augmentation", "all",
             "--spec-augment", "on", "--representations", "log_mel,waveform", "--num-mel-bins", "40",
             "--mfcc-deltas", "1", "--bucket", "clips", "--prefix", "raw/", "--seed", "3",
             "--open-set-min-kept-correct", "0.97"]
    local = local_runner.parse_args(flags).config
    kubeflow = kubeflow_runner.parse_args(KUBEFLOW_REQUIRED + flags).config
    for group in ("data", "augmenter", "features", "training"):
        assert getattr(local, group) == getattr(kubeflow, group), group
    assert local.data.languages == ("English", "French") and local.training.epochs == 3
    assert local.training.seed == 3 and local.data.split_seed == PipelineConfig().data.split_seed
    assert local.training.open_set_min_kept_correct == 0.97
    assert local.data.segment_seconds == 1.5 and local.evaluation.accuracy_lower_bound == 0.6
    assert kubeflow.evaluation.accuracy_lower_bound == 0.6 and kubeflow.data.eval_fraction == 0.3
    assert local.features.representations == ("log_mel", "waveform") and local.training.spec_augment is not None


def test_no_flags_give_the_defaults_of_the_one_config_module(monkeypatch):
    monkeypatch.delenv("LANGID_BUCKET", raising=False)
    monkeypatch.delenv("LANGID_PREFIX", raising=False)
    config = local_runner.parse_args([]).config
    defaults = PipelineConfig()
    for group in ("data", "augmenter", "features", "training", "evaluation"):
        assert getattr(config, group) == getattr(defaults, group), group
    monkeypatch.setenv("LANGID_BUCKET", "from-env")
    assert kubeflow_runner.parse_args(KUBEFLOW_REQUIRED).config.data.bucket == "from-env"
    assert kubeflow_runner.parse_args(KUBEFLOW_REQUIRED + ["--bucket", "flag"]).config.data.bucket == "flag"


@pytest.mark.parametrize("argv, flag", [
    (["--eval-fraction", "1.5"], "--eval-fraction"),
    (["--segment-seconds", "0"], "--segment-seconds"),
    (["--epochs", "0"], "--epochs"),
    (["--accuracy-bound", "1.2"], "--accuracy-bound"),
    (["--representations", "log_mel,chroma"], "--representations"),
    (["--mfcc-deltas", "3"], "--mfcc-deltas"),
    (["--augment-copies", "-1"], "--augment-copies"),
    (["--augmentation", '{"warp_drive": {"p": 1}}'], "--augmentation"),
    (["--augmentation", '{"per_language": {"Klingon": {"pitch_scale": {"p": 0}}}}'], "--augmentation"),
    (["--augmentation", "{not json"], "--augmentation"),
    (["--spec-augment", '{"freq_masks": -1}'], "--spec-augment"),
    (["--spec-augment", '{"masks": 2}'], "--spec-augment"),
    (["--languages", "English,English"], "--languages"),
    (["--open-set-min-kept-correct", "0"], "--open-set-min-kept-correct"),
    (["--open-set-min-kept-correct", "1.5"], "--open-set-min-kept-correct"),
])
def test_bad_values_are_refused_with_the_flag_named(argv, flag, capsys):
    for runner, required in ((local_runner, []), (kubeflow_runner, KUBEFLOW_REQUIRED)):
        with pytest.raises(SystemExit) as exit_info:
            runner.parse_args(required + argv)
        assert exit_info.value.code == 2
        assert f"error: {flag}:" in capsys.readouterr().err


def test_config_objects_validate_themselves():
    config = PipelineConfig()
    with pytest.raises(ConfigError, match="--eval-fraction"):
        config.override(data={"eval_fraction": 0.0})
    with pytest.raises(ConfigError, match="unknown config group"):
        config.override(model={"dropout": 0.1})
    with pytest.raises(ConfigError, match="beam_runnr"):
        config.override(runtime={"beam_runnr": "FlinkRunner"})
    changed = config.override(data={"languages": ["A", "B"]}, training={"epochs": 2})
    assert changed.data.languages == ("A", "B") and changed.training.epochs == 2
    assert config.data.languages == PipelineConfig().data.languages  # the original is untouched (frozen)
    assert changed.training.seed == changed.data.split_seed == 42   # own fields, same value as before
