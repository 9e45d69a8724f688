"""Resolver strategy: the blessed model a Trainer run warm-starts from.

The latest blessed model that was trained on a different corpus listing than this run's
(the listing fingerprint is in the Trainer's custom_config). Skipping models of the same
listing keeps TFX's cache working: a rerun on an unchanged bucket resolves the same base
model as the run that made the cached Trainer output (none on a first run), so the Trainer
is a cache hit instead of training again on every run after a blessing.
"""
from __future__ import annotations

import json

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

FINGERPRINT_KEY = "corpus_fingerprint"   # in the Trainer's custom_config


def trained_on(store, model_id: int) -> str | None:
    """The corpus fingerprint in the custom_config of the Trainer run that produced model `model_id`."""
    outputs = [e.execution_id for e in store.get_events_by_artifact_ids([model_id])
               if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    for execution in store.get_executions_by_id(outputs):
        for props in (execution.custom_properties, execution.properties):
            if "custom_config" in props:
                try:
                    return json.loads(props["custom_config"].string_value).get(FINGERPRINT_KEY)
                except (ValueError, AttributeError):
                    return None
    return None


class LatestBlessedModelOfOtherData(tfx.dsl.experimental.ResolverStrategy):
    def __init__(self, corpus_fingerprint: str = ""):
        self._corpus_fingerprint = corpus_fingerprint

    def resolve_artifacts(self, store, input_dict):
        blessed = {b.get_int_custom_property("current_model_id"): b for b in input_dict["model_blessing"]
                   if b.get_int_custom_property("blessed") == 1}
        for model in sorted(input_dict["model"], key=lambda a: a.id, reverse=True):
            if model.id in blessed and trained_on(store, model.id) != self._corpus_fingerprint:
                return {"model": [model], "model_blessing": [blessed[model.id]]}
        return {"model": [], "model_blessing": []}
