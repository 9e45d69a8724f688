"""Beam transform: listed clips -> (clip, split), speakers that share decoded audio kept together.

The split must know every clip's audio fingerprint before any segment is written, so this
pass fetches and decodes each clip once just to fingerprint it (about a quarter of
ingestion's time on the demo) and hands the splits to the main pass as a side input. A
second pass instead of holding every segment until the fingerprints are in keeps the
memory of ingestion bounded by a bundle, as before.
"""
from __future__ import annotations

import logging
from typing import Iterator

import apache_beam as beam

from audio.decode import decode_audio
from audio.stats import fingerprint
from components.speaker_split import Clip, assign_clip_splits
from storage import s3


class _Fingerprint(beam.DoFn):
    """Clip -> (key, fingerprint of its decoded audio); nothing for a clip that fails (the main
    pass reports it)."""

    def __init__(self, bucket: str, endpoint: str, sample_rate: int):
        self._bucket, self._endpoint, self._rate = bucket, endpoint, sample_rate
        self._client = None

    def setup(self):
        self._client = s3.make_client(self._endpoint or None)

    def process(self, clip: Clip) -> Iterator[tuple[str, str]]:
        try:
            waveform = decode_audio(s3.get_bytes(self._client, self._bucket, clip.key), self._rate)
        except Exception as err:  # noqa: BLE001 - decode errors, missing objects: the main pass reports them
            logging.debug("fingerprint pass: %s: %s", clip.key, err)
            return
        yield clip.key, fingerprint(waveform)


class SplitBySpeakerAndAudio(beam.PTransform):
    """PBegin -> PCollection of (Clip, split) by components/speaker_split.assign_clip_splits."""

    def __init__(self, clips: list[Clip], bucket: str, endpoint: str, sample_rate: int,
                 eval_fraction: float, seed: int):
        super().__init__()
        self._clips, self._fraction, self._seed = list(clips), eval_fraction, seed
        self._dofn = _Fingerprint(bucket, endpoint, sample_rate)

    def expand(self, pbegin):
        clips, fraction, seed = self._clips, self._fraction, self._seed
        split_of_key = (
            pbegin
            | "ClipsToFingerprint" >> beam.Create(clips)
            | "SpreadFingerprinting" >> beam.Reshuffle()
            | "Fingerprint" >> beam.ParDo(self._dofn)
            | "AllFingerprints" >> beam.combiners.ToDict()
            | "AssignSplits" >> beam.Map(lambda prints: assign_clip_splits(clips, prints, fraction, seed)))
        return (pbegin
                | "Clips" >> beam.Create(clips)
                | "WithSplit" >> beam.Map(lambda clip, s: (clip, s[clip.key]),
                                          s=beam.pvalue.AsSingleton(split_of_key)))
