"""The typed config reaches every step: the versioned JSON form of config/wire.py, and a new
field arriving in ingestion, preprocessing_fn and run_fn with no code but the field."""
from __future__ import annotations

import dataclasses
import json

import pytest
from tfx.types import standard_artifacts

import config
from components.s3_audio_example_gen import executor as ingestion_executor
from components.s3_audio_example_gen.ledger import settings_digest
from config import (
    WIRE_VERSION,
    DataConfig,
    FeatureConfig,
    PipelineConfig,
    TrainingConfig,
    WireVersionError,
    data_from_property,
    data_to_property,
    group_from_json,
    group_to_json,
)
from config import wire as wire_module
from models import preprocessing
from models.keras_model import trainer
from pipeline.pipeline import create_pipeline

NON_DEFAULT = PipelineConfig().override(
    data={"bucket": "b", "languages": ("English", "German"), "segment_seconds": 2.0, "corpus_fingerprint": "f"},
    features={"representations": ("mfcc",), "mfcc_deltas": 2},
    training={"spec_augment": config.SpecAugmentConfig(freq_masks=1), "short_crops": None,
              "model": config.ModelConfig(conv_filters=(4,), time_pool=2)},
    augmenter={"copies": 1})


@pytest.mark.parametrize("name", ["data", "augmenter", "features", "training", "evaluation", "push", "runtime"])
def test_every_group_comes_back_equal_through_json(name):
    group = getattr(NON_DEFAULT, name)
    text = json.dumps(group_to_json(group))   # JSON-safe: tuples, nested groups, None, mappings
    back = group_from_json(type(group), json.loads(text))
    if name == "data":   # OFF_WIRE fields stay at their defaults
        assert back == dataclasses.replace(group, **{f.name: f.default for f in dataclasses.fields(group)
                                                     if f.metadata.get("wire") is False})
    else:
        assert back == group


def test_off_wire_fields_stay_out_of_the_ingestion_property():
    plain = json.loads(data_to_property(DataConfig()))["fields"]
    assert {"halt_on_anomalies", "incremental", "min_speakers_per_language", "max_language_imbalance"}.isdisjoint(plain)
    assert data_from_property(data_to_property(DataConfig(halt_on_anomalies=True))) == DataConfig()


def test_another_version_or_the_old_flat_form_fails_naming_the_version():
    payload = {**group_to_json(FeatureConfig()), "config_version": WIRE_VERSION + 1}
    with pytest.raises(WireVersionError, match=f"version {WIRE_VERSION + 1}.*version {WIRE_VERSION}"):
        group_from_json(FeatureConfig, payload)
    old_transform_config = {**dataclasses.asdict(FeatureConfig()), "sample_rate": 16000, "segment_seconds": 3.0}
    with pytest.raises(WireVersionError, match=f"version {WIRE_VERSION}"):
        config.transform_settings(old_transform_config)
    with pytest.raises(WireVersionError, match=f"version {WIRE_VERSION}"):
        data_from_property(json.dumps({"bucket": "b"}))


def test_a_decoded_group_is_checked_again():
    payload = group_to_json(FeatureConfig())
    payload["fields"]["mfcc_deltas"] = 3
    with pytest.raises(config.ConfigError, match="--mfcc-deltas"):
        group_from_json(FeatureConfig, payload)


def test_the_ledger_digest_follows_what_shapes_the_examples_only():
    base = settings_digest(DataConfig(), "code", "none")
    for kept in ({"s3_endpoint": "http://x"}, {"corpus_fingerprint": "new"}, {"max_skipped_fraction": 0.5},
                 {"fetch_retry_seconds": 1.0}, {"halt_on_anomalies": True}):
        assert settings_digest(dataclasses.replace(DataConfig(), **kept), "code", "none") == base, kept
    for changed in ({"bucket": "other"}, {"prefix": "p/"}, {"languages": ("English",)}, {"sample_rate": 8000},
                    {"segment_seconds": 2.0}, {"eval_fraction": 0.3}, {"split_seed": 1}):
        assert settings_digest(dataclasses.replace(DataConfig(), **changed), "code", "none") != base, changed
    assert settings_digest(DataConfig(), "other code", "none") != base
    assert settings_digest(DataConfig(), "code", "gzip") != base


def test_the_model_card_reads_the_code_version_through_the_accessor():
    custom_config = config.trainer_custom_config(TrainingConfig(), FeatureConfig(), DataConfig(), code_version="abc")
    assert config.code_version_of(json.dumps(custom_config)) == "abc"
    assert config.code_version_of("not json") == "" and config.code_version_of(None) == ""


# A new option: a field in its group (here in a subclass standing in for the edited class), nothing else.
@dataclasses.dataclass(frozen=True)
class DataWithNewField(DataConfig):
    throwaway: str = "default"


@dataclasses.dataclass(frozen=True)
class FeaturesWithNewField(FeatureConfig):
    throwaway: str = "default"


@dataclasses.dataclass(frozen=True)
class TrainingWithNewField(TrainingConfig):
    throwaway: str = "default"


class _Arrived(Exception):
    """Stops a step once it has decoded its settings."""


def _stop_after(module, name: str, monkeypatch) -> list:
    """Replace module.name (a decoder) by one that records what the step got, then stops the step."""
    seen, decode = [], getattr(module, name)

    def recording(*args, **kwargs):
        seen.append(decode(*args, **kwargs))
        raise _Arrived()

    monkeypatch.setattr(module, name, recording)
    return seen


def test_a_new_field_reaches_ingestion_preprocessing_fn_and_run_fn(monkeypatch, tmp_path):
    for base, subclass in ((DataConfig, DataWithNewField), (FeatureConfig, FeaturesWithNewField),
                           (TrainingConfig, TrainingWithNewField)):
        monkeypatch.setattr(wire_module, base.__name__, subclass)   # "the group now has the field"
    pipeline_config = dataclasses.replace(
        PipelineConfig(), data=DataWithNewField(throwaway="to ingestion"),
        features=FeaturesWithNewField(throwaway="to preprocessing_fn"),
        training=TrainingWithNewField(throwaway="to run_fn"),
        runtime=dataclasses.replace(PipelineConfig().runtime, pipeline_root=str(tmp_path)))
    components = {c.id: c for c in create_pipeline(pipeline_config).components}

    ingested = _stop_after(ingestion_executor, "data_from_property", monkeypatch)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    with pytest.raises(_Arrived):
        ingestion_executor.Executor().Do({}, {"examples": [examples]},
                                         components["S3AudioExampleGen"].exec_properties)
    assert ingested[0].throwaway == "to ingestion"

    transformed = _stop_after(preprocessing, "transform_settings", monkeypatch)
    with pytest.raises(_Arrived):   # TFX hands preprocessing_fn the custom_config as a dict
        preprocessing.preprocessing_fn({}, json.loads(components["Transform"].exec_properties["custom_config"]))
    assert transformed[0].features.throwaway == "to preprocessing_fn"
    assert transformed[0].data.throwaway == "to ingestion"

    trained = _stop_after(trainer, "trainer_settings", monkeypatch)
    fn_args = type("FnArgs", (), {"custom_config": json.loads(components["Trainer"].exec_properties["custom_config"])})
    with pytest.raises(_Arrived):
        trainer.run_fn(fn_args)
    assert trained[0].training.throwaway == "to run_fn"
    assert trained[0].features.throwaway == "to preprocessing_fn" and trained[0].data.throwaway == "to ingestion"
