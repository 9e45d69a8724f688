"""Routing and tallies of S3AudioExampleGen, once every clip's speaker has its split.

Staged segments go to their split's TFRecords (a clip duplicating audio across the split is
dropped); per-clip outcomes get their split and are reduced by a CombineFn to counts plus
bounded key lists, so memory does not grow with the corpus.
"""
from __future__ import annotations

import heapq
import json

import apache_beam as beam

from components.s3_audio_example_gen.fetch_segment import NAMESPACE
from components.s3_audio_example_gen.listing import MAX_LISTED

_INGESTED = beam.metrics.Metrics.counter(NAMESPACE, "clips_ingested")
_CROSSING = beam.metrics.Metrics.counter(NAMESPACE, "clips_skipped_as_crossing_duplicates")


class RouteStaged(beam.DoFn):
    """A staging record -> (split, serialized tf.Example); nothing for a clip that duplicates
    audio on the other side of the split (its outcome says so, see settle_outcome)."""

    def __init__(self):
        self._segments = beam.metrics.Metrics.counter(NAMESPACE, "segments_written")

    def process(self, record: bytes, split_of: dict[str, str], crossing: dict[str, str]):
        head, example = record.split(b"\n", 1)
        key, speaker = json.loads(head)
        if key in crossing:
            return
        self._segments.inc()
        yield split_of[speaker], example


def settle_outcome(outcome: dict, split_of: dict[str, str], crossing: dict[str, str]) -> dict:
    """A clip's outcome once the split is known: its split, or skipped as a crossing duplicate."""
    if outcome["kind"] != "ingested":
        return outcome
    if outcome["key"] in crossing:
        _CROSSING.inc()
        return {"kind": "skipped", "key": outcome["key"], "fingerprint": outcome["fingerprint"],
                "reason": f"same audio as {crossing[outcome['key']]}, on the other side of the split"}
    _INGESTED.inc()
    return {**outcome, "split": split_of[outcome["speaker_id"]]}


class TallyOutcomes(beam.CombineFn):
    """Per-clip outcomes -> counts per split and language, speaker sets, bounded key lists."""

    def create_accumulator(self):
        return {"per": {}, "speakers": {}, "skipped": [0, []], "unfetched": [0, []]}

    def add_input(self, acc, row):
        if row["kind"] == "ingested":
            entry = acc["per"].setdefault((row["split"], row["language"]), [0, 0, 0.0, 0])
            entry[0] += 1
            entry[1] += row["segments"]
            entry[2] += row["seconds"]
            entry[3] += row["no_speech_windows"]
            acc["speakers"].setdefault((row["split"], row["language"]), set()).add(row["speaker_id"])
        else:
            count_and_keys = acc[row["kind"]]
            count_and_keys[0] += 1
            count_and_keys[1] = heapq.nsmallest(MAX_LISTED, count_and_keys[1] + [(row["key"], row["reason"])])
        return acc

    def merge_accumulators(self, accumulators):
        out = self.create_accumulator()
        for acc in accumulators:
            for where, counts in acc["per"].items():
                entry = out["per"].setdefault(where, [0, 0, 0.0, 0])
                for i, value in enumerate(counts):
                    entry[i] += value
            for where, names in acc["speakers"].items():
                out["speakers"].setdefault(where, set()).update(names)
            for kind in ("skipped", "unfetched"):
                out[kind][0] += acc[kind][0]
                out[kind][1] = heapq.nsmallest(MAX_LISTED, out[kind][1] + acc[kind][1])
        return out

    def extract_output(self, acc):
        per_split: dict = {}
        for (split, language), (clips, segments, seconds, no_speech) in acc["per"].items():
            per_split.setdefault(split, {})[language] = {
                "clips": clips, "segments": segments, "seconds": round(seconds, 3), "no_speech_windows": no_speech,
                "speakers": len(acc["speakers"].get((split, language), ()))}
        return {"per_split": per_split,
                **{kind: {"count": acc[kind][0], "keys": [{"key": k, "reason": r} for k, r in acc[kind][1]]}
                   for kind in ("skipped", "unfetched")}}



def write_tally(outcomes, path: str, label: str) -> None:
    (outcomes
     | f"Tally{label}" >> beam.CombineGlobally(TallyOutcomes())
     | f"TallyJson{label}" >> beam.Map(json.dumps)
     | f"WriteTally{label}" >> beam.io.WriteToText(path, shard_name_template="", num_shards=1))
