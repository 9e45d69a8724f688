"""The versioned JSON form in which the config groups reach the steps.

TFX hands a component its settings as execution properties and Transform and Trainer theirs
as a JSON custom_config; both are recorded in ML Metadata and make the cache key. A group
travels as {"config_version": WIRE_VERSION, "fields": {...}} and comes back as its dataclass,
validated again by its own `__post_init__`, so a step never reads a setting by string key.
Anything written with another version (an artifact or ML Metadata record of older code)
fails with `WireVersionError`, which names both versions.

What each step gets:
- S3AudioExampleGen: execution property DATA_PROPERTY (DataConfig), beside `code_version`
  and `compression`;
- AudioAugmenter: execution property AUGMENTER_PROPERTY (AugmenterConfig), beside
  `sample_rate`, `splits`, `code_version` and `compression`;
- Transform: custom_config {"features", "data", "code_version", "executor": {"compression",
  "batch_size"}} (`transform_custom_config` / `transform_settings`; the executor reads only
  its own entry, `transform_executor_settings`);
- Trainer: custom_config {"training", "features", "data", "code_version"}
  (`trainer_custom_config` / `trainer_settings`).
DataConfig fields marked OFF_WIRE (config/groups.py) stay out of its JSON (decoded, they hold
their defaults), so they stay out of these steps' cache keys.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.groups import (
    AugmenterConfig,
    ConfigError,
    DataConfig,
    FeatureConfig,
    TrainingConfig,
)

WIRE_VERSION = 1
DATA_PROPERTY = "data_config"   # S3AudioExampleGen's execution property holding the DataConfig
AUGMENTER_PROPERTY = "augmenter_config"  # AudioAugmenter's, holding the AugmenterConfig
CODE_VERSION_KEY = "code_version"
EXECUTOR_KEY = "executor"       # Transform's executor settings (not preprocessing_fn's)


class WireVersionError(ConfigError):
    """A serialized group or custom_config written by code of another config wire version."""


def _wired(field: dataclasses.Field) -> bool:
    return field.metadata.get("wire", True) is not False


def _plain(value: Any) -> Any:
    """JSON-safe form of a field value: dataclasses as field dicts, tuples as lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if _wired(f)}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _nested_group(cls: type, name: str) -> type | None:
    """The dataclass a field of `cls` holds (ModelConfig, SpecAugmentConfig | None ...), else None."""
    hint = typing.get_type_hints(cls)[name]
    candidates = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    return next((c for c in candidates if dataclasses.is_dataclass(c)), None)


def _build(cls: type, fields: Mapping[str, Any]):
    known = {f.name: f for f in dataclasses.fields(cls) if _wired(f)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {unknown} (written by other code)")
    values = {}
    for name, value in fields.items():
        group = _nested_group(cls, name)
        values[name] = _build(group, value) if group is not None and value is not None else value
    return cls(**values)


def group_to_json(group) -> dict:
    """A config group (frozen dataclass) as its versioned JSON object."""
    return {"config_version": WIRE_VERSION, "fields": _plain(group)}


def group_from_json(cls: type, payload: Mapping[str, Any] | None, where: str = ""):
    """The group back from `group_to_json`'s object; fields it lacks take their defaults."""
    where = where or cls.__name__
    if not isinstance(payload, Mapping) or "fields" not in payload:
        raise WireVersionError(f"{where}: no versioned {cls.__name__} (config wire version {WIRE_VERSION} expected; "
                               f"written by code older than it): got {str(payload)[:200]}")
    version = payload.get("config_version")
    if version != WIRE_VERSION:
        raise WireVersionError(f"{where}: {cls.__name__} of config wire version {version!r}; this code reads "
                               f"version {WIRE_VERSION} only: rerun the step that wrote it")
    return _build(cls, payload["fields"])


# S3AudioExampleGen's execution property: the DataConfig as one JSON string.
def data_to_property(data: DataConfig) -> str:
    return json.dumps(group_to_json(data), sort_keys=True)


def data_from_property(text: str) -> DataConfig:
    return group_from_json(DataConfig, _loads(text, DATA_PROPERTY), DATA_PROPERTY)


# AudioAugmenter's execution property: the AugmenterConfig as one JSON string.
def augmenter_to_property(augmenter: AugmenterConfig) -> str:
    return json.dumps(group_to_json(augmenter), sort_keys=True)


def augmenter_from_property(text: str) -> AugmenterConfig:
    return group_from_json(AugmenterConfig, _loads(text, AUGMENTER_PROPERTY), AUGMENTER_PROPERTY)


COMPRESSION_KEY = "compression"  # in Transform's EXECUTOR_KEY entry: RuntimeConfig.intermediate_compression
BATCH_SIZE_KEY = "batch_size"    # ... and RuntimeConfig.transform_batch_size


@dataclass(frozen=True)
class TransformExecutorSettings:
    """components/transform_executor.py's own settings (preprocessing_fn ignores them)."""

    compression: str           # RuntimeConfig.intermediate_compression
    batch_size: int            # RuntimeConfig.transform_batch_size


@dataclass(frozen=True)
class TransformSettings:
    """Transform's custom_config decoded: what preprocessing_fn and the executor read."""

    features: FeatureConfig
    data: DataConfig           # the audio geometry (sample_rate, segment_seconds) the features share
    code_version: str
    executor: TransformExecutorSettings


def transform_custom_config(features: FeatureConfig, data: DataConfig, *, code_version: str, compression: str,
                            batch_size: int) -> dict:
    return {"features": group_to_json(features), "data": group_to_json(data), CODE_VERSION_KEY: code_version,
            EXECUTOR_KEY: {COMPRESSION_KEY: compression, BATCH_SIZE_KEY: batch_size}}


def transform_executor_settings(custom_config: Mapping[str, Any] | str | None) -> TransformExecutorSettings:
    """Only the executor's entry; an error names the setting that is missing or bad."""
    executor = _loads(custom_config, "Transform's custom_config").get(EXECUTOR_KEY)
    if not isinstance(executor, Mapping):
        raise WireVersionError(f"Transform's custom_config has no {EXECUTOR_KEY!r} entry (config wire version "
                               f"{WIRE_VERSION} expected; written by older code?)")
    if COMPRESSION_KEY not in executor:
        raise ConfigError(f"Transform's custom_config has no {EXECUTOR_KEY}.{COMPRESSION_KEY!r} "
                          "(pipeline/pipeline.py sets it from --intermediate-compression)")
    size = executor.get(BATCH_SIZE_KEY)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"Transform's custom_config needs a positive integer {EXECUTOR_KEY}.{BATCH_SIZE_KEY!r} "
                          f"(pipeline/pipeline.py sets it from --transform-batch-size), got {size!r}")
    return TransformExecutorSettings(compression=str(executor[COMPRESSION_KEY]), batch_size=size)


def transform_settings(custom_config: Mapping[str, Any] | str | None) -> TransformSettings:
    config = _loads(custom_config, "Transform's custom_config")
    where = "Transform's custom_config"
    return TransformSettings(features=group_from_json(FeatureConfig, config.get("features"), where),
                             data=group_from_json(DataConfig, config.get("data"), where),
                             code_version=str(config.get(CODE_VERSION_KEY, "")),
                             executor=transform_executor_settings(config))


@dataclass(frozen=True)
class TrainerSettings:
    """The Trainer's custom_config decoded: what run_fn and the base-model resolvers read."""

    training: TrainingConfig
    features: FeatureConfig
    data: DataConfig           # languages (label order), audio geometry, corpus fingerprint
    code_version: str


def trainer_custom_config(training: TrainingConfig, features: FeatureConfig, data: DataConfig, *,
                          code_version: str) -> dict:
    return {"training": group_to_json(training), "features": group_to_json(features), "data": group_to_json(data),
            CODE_VERSION_KEY: code_version}


def trainer_settings(custom_config: Mapping[str, Any] | str | None) -> TrainerSettings:
    config = _loads(custom_config, "the Trainer's custom_config")
    where = "the Trainer's custom_config"
    return TrainerSettings(training=group_from_json(TrainingConfig, config.get("training"), where),
                           features=group_from_json(FeatureConfig, config.get("features"), where),
                           data=group_from_json(DataConfig, config.get("data"), where),
                           code_version=str(config.get(CODE_VERSION_KEY, "")))


def code_version_of(custom_config: Mapping[str, Any] | str | None) -> str:
    """The step's code digest in a Transform or Trainer custom_config ("" when absent or unreadable)."""
    try:
        config = _loads(custom_config, "custom_config")
    except ConfigError:
        return ""
    return str(config.get(CODE_VERSION_KEY) or "")


def _loads(value: Mapping[str, Any] | str | None, where: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    try:
        loaded = json.loads(value or "{}")
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where} is not JSON ({err})") from err
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{where} must be a JSON object, got {str(value)[:200]}")
    return loaded
