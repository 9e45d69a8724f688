"""Resolver strategy: the Examples artifact an incremental ingestion builds on.

The latest successful S3AudioExampleGen output that carries a ledger and was made from a
different corpus listing than this run's. Skipping artifacts of the same listing keeps TFX's
cache working: a rerun on an unchanged bucket resolves the same input as the run that made
the cached output (none on a first run), so it is a cache hit, not a new copy of everything.
"""
from __future__ import annotations

from tfx import v1 as tfx

from components.s3_audio_example_gen.executor import CORPUS_PROPERTY, LEDGER_SETTINGS_PROPERTY


class LatestIngestionOfAnotherListing(tfx.dsl.experimental.ResolverStrategy):
    def __init__(self, corpus_fingerprint: str = ""):
        self._corpus_fingerprint = corpus_fingerprint

    def resolve_artifacts(self, store, input_dict):
        del store  # everything needed is on the artifacts
        resolved = {}
        for key, artifacts in input_dict.items():
            usable = [a for a in artifacts
                      if a.get_string_custom_property(LEDGER_SETTINGS_PROPERTY)
                      and a.get_string_custom_property(CORPUS_PROPERTY) != self._corpus_fingerprint]
            resolved[key] = sorted(usable, key=lambda a: a.id)[-1:]
        return resolved
