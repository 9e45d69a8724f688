"""Beam transform: every ingested clip's audio fingerprint -> {speaker: split}, duplicates kept together.

The split must see every clip's fingerprint before any segment can go to a split, yet the
clips are fetched and decoded only once: the ingestion pass writes each clip's segments to a
staging file and emits its fingerprint; this transform turns all fingerprints into the
speaker -> split map (a side input: memory holds one fingerprint a clip, a few dozen bytes,
never audio), and the staged segments are routed once it is known (executor.py).
"""
from __future__ import annotations

import apache_beam as beam

from components.speaker_split import assign_speakers_keeping_duplicates_together, clips_crossing_the_split


class SplitKeepingDuplicatesTogether(beam.PTransform):
    """(clip key, (fingerprint, speaker)) pairs -> a single ({speaker id: split}, {clip key: key it
    duplicates}).

    With an earlier ingestion (`fixed`: its speaker -> split, `carried`: its clips' key ->
    (fingerprint, speaker)), known speakers keep their split, and a new clip whose audio
    already sits on the other side is listed in the second dict, to be skipped
    (components/speaker_split.py).
    """

    def __init__(self, speakers_by_language: dict[str, set[str]], eval_fraction: float, seed: int,
                 fixed: dict[str, str] | None = None, carried: dict[str, tuple[str, str]] | None = None):
        super().__init__()
        self._by_language, self._fraction, self._seed = speakers_by_language, eval_fraction, seed
        self._fixed, self._carried = dict(fixed or {}), dict(carried or {})

    def expand(self, fingerprints):
        by_language, fraction, seed, fixed, carried = (self._by_language, self._fraction, self._seed,
                                                       self._fixed, self._carried)

        def assign(new_prints: dict) -> tuple[dict, dict]:
            prints = {**carried, **new_prints}
            split_of = assign_speakers_keeping_duplicates_together(by_language, prints, fraction, seed, fixed,
                                                                     set(carried))
            crossing = clips_crossing_the_split(prints, split_of, set(carried))
            return split_of, crossing

        return (fingerprints
                | "AllFingerprints" >> beam.combiners.ToDict()
                | "AssignSplits" >> beam.Map(assign))
