"""Resolver strategies over blessed models, reading the custom_config of the Trainer run that made each.

LatestBlessedModelOfOtherData: the blessed model a Trainer run warm-starts from.

The latest blessed model that was trained on a different corpus listing than this run's
(the listing fingerprint is in the DataConfig of the Trainer's custom_config). Skipping models of the same
listing keeps TFX's cache working: a rerun on an unchanged bucket resolves the same base
model as the run that made the cached Trainer output (none on a first run), so the Trainer
is a cache hit instead of training again on every run after a blessing.

LatestBlessedModelOfSameLanguages: the Evaluator's baseline. A model of another language list
cannot be compared on this run's eval split (its outputs are other classes): after a language
is added, the first run is gated on the absolute accuracy bound only.
"""
from __future__ import annotations

import json

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from config import ConfigError, DataConfig, trainer_settings


def trainer_data(store, model_id: int) -> DataConfig | None:
    """The DataConfig of the Trainer run that produced model `model_id` (languages, corpus
    fingerprint), from its custom_config; None when unknown or written by code of another
    config wire version."""
    outputs = [e.execution_id for e in store.get_events_by_artifact_ids([model_id])
               if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    for execution in store.get_executions_by_id(outputs):
        for props in (execution.custom_properties, execution.properties):
            if "custom_config" in props:
                try:
                    return trainer_settings(props["custom_config"].string_value).data
                except (ConfigError, AttributeError):
                    return None
    return None


def trained_on(store, model_id: int) -> str | None:
    """The corpus fingerprint the model was trained on."""
    data = trainer_data(store, model_id)
    return data.corpus_fingerprint if data else None


def _blessed_newest_first(input_dict):
    blessed = {b.get_int_custom_property("current_model_id"): b for b in input_dict["model_blessing"]
               if b.get_int_custom_property("blessed") == 1}
    for model in sorted(input_dict["model"], key=lambda a: a.id, reverse=True):
        if model.id in blessed:
            yield model, blessed[model.id]


class LatestBlessedModelOfOtherData(tfx.dsl.experimental.ResolverStrategy):
    def __init__(self, corpus_fingerprint: str = ""):
        self._corpus_fingerprint = corpus_fingerprint

    def resolve_artifacts(self, store, input_dict):
        for model, blessing in _blessed_newest_first(input_dict):
            if trained_on(store, model.id) != self._corpus_fingerprint:
                return {"model": [model], "model_blessing": [blessing]}
        return {"model": [], "model_blessing": []}


class LatestBlessedModelOfSameLanguages(tfx.dsl.experimental.ResolverStrategy):
    """`languages`: this run's language list as JSON (resolver config values are scalars)."""

    def __init__(self, languages: str = "[]"):
        self._languages = json.loads(languages)

    def resolve_artifacts(self, store, input_dict):
        for model, blessing in _blessed_newest_first(input_dict):
            data = trainer_data(store, model.id)
            if data is not None and list(data.languages) == self._languages:
                return {"model": [model], "model_blessing": [blessing]}
        return {"model": [], "model_blessing": []}
