"""Beam transform: listed clips -> {speaker: split}, speakers that share decoded audio kept together.

The split must know every clip's audio fingerprint before any segment is written, so this
pass fetches and decodes each clip once just to fingerprint it and hands the result to the
main pass as a side input: memory holds one fingerprint a clip (a few dozen bytes), never
audio. A clip this pass cannot read is simply left out of the grouping; the main pass
fetches it again with retries and reports it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import apache_beam as beam

from audio.decode import decode_audio
from audio.stats import fingerprint
from components.speaker_split import assign_speakers_keeping_duplicates_together, clips_crossing_the_split
from storage import s3

# After this many clips in a row could not be read, the pass stops asking (the store is down:
# the main pass's retries and its failure message handle that).
_GIVE_UP_AFTER = 3


class _Fingerprint(beam.DoFn):
    """Work-file line -> (key, (fingerprint of the decoded audio, speaker)); nothing on failure."""

    def __init__(self, bucket: str, endpoint: str, sample_rate: int):
        self._bucket, self._endpoint, self._rate = bucket, endpoint, sample_rate
        self._client = None
        self._failures_in_a_row = 0

    def setup(self):
        self._client = s3.make_client(self._endpoint or None, max_attempts=2, timeout_s=20)

    def process(self, line: str) -> Iterator[tuple[str, tuple[str, str]]]:
        key, _language, _label, speaker = json.loads(line)
        if self._failures_in_a_row >= _GIVE_UP_AFTER:
            return
        try:
            waveform = decode_audio(s3.get_bytes(self._client, self._bucket, key), self._rate)
        except Exception as err:  # noqa: BLE001 - decode errors, missing objects: the main pass reports them
            self._failures_in_a_row += 1
            logging.debug("fingerprint pass: %s: %s", key, err)
            return
        self._failures_in_a_row = 0
        yield key, (fingerprint(waveform), speaker)


class SplitKeepingDuplicatesTogether(beam.PTransform):
    """Work-file lines -> a single ({speaker id: split}, {clip key: key it duplicates}, {clip key: fingerprint}).

    With an earlier ingestion (`fixed`: its speaker -> split, `carried`: its clips' key ->
    (fingerprint, speaker)), known speakers keep their split, only the new lines are fetched
    for fingerprints, and a new clip whose audio already sits on the other side is listed
    in the second dict, to be skipped (components/speaker_split.py).
    """

    def __init__(self, speakers_by_language: dict[str, set[str]], bucket: str, endpoint: str, sample_rate: int,
                 eval_fraction: float, seed: int, fixed: dict[str, str] | None = None,
                 carried: dict[str, tuple[str, str]] | None = None):
        super().__init__()
        self._by_language, self._fraction, self._seed = speakers_by_language, eval_fraction, seed
        self._fixed, self._carried = dict(fixed or {}), dict(carried or {})
        self._dofn = _Fingerprint(bucket, endpoint, sample_rate)

    def expand(self, lines):
        by_language, fraction, seed, fixed, carried = (self._by_language, self._fraction, self._seed,
                                                       self._fixed, self._carried)

        def assign(new_prints: dict) -> tuple[dict, dict, dict]:
            prints = {**carried, **new_prints}
            split_of = assign_speakers_keeping_duplicates_together(by_language, prints, fraction, seed, fixed,
                                                                     set(carried))
            crossing = clips_crossing_the_split(prints, split_of, set(carried))
            return split_of, crossing, {key: digest for key, (digest, _) in new_prints.items()}

        return (lines
                | "SpreadFingerprinting" >> beam.Reshuffle()
                | "Fingerprint" >> beam.ParDo(self._dofn)
                | "AllFingerprints" >> beam.combiners.ToDict()
                | "AssignSplits" >> beam.Map(assign))
