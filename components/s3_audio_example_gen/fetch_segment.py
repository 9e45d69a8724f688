"""The fetch/decode/segment step of S3AudioExampleGen: one Beam DoFn, with its loader thread.

Per clip: fetch (retried while the store fails) -> decode -> fingerprint -> trim -> segment ->
drop windows without speech (audio/speech.py, as serving) -> tf.Example staging records. The
split is not known yet (it needs every clip's fingerprint), so each record is staged with its
clip's key and speaker (`stage_envelope`) and routed later (routing.py).

A bad object (undecodable, truncated, no speech) is skipped with its reason; a failing store
(connections refused or reset, 5xx) gives an "unfetched" outcome, which fails the component.
"""
from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np

from audio import speech
from audio.decode import DecodeError, decode_audio
from audio.segment import fixed_segments
from audio.stats import clip_statistics
from components.clip_stats import stats_to_features
from components.speaker_split import Clip
from config import DataConfig
from contract import features
from contract.codec import duration_features, encode_segment
from storage import s3
from storage.fetch import BadObject, StoreUnavailable, describe, fetch_object

# A clip with no window of speech (silence, noise, a tone) is bad data: skipped, and counted
# against max_skipped_fraction like an undecodable one.
NO_SPEECH_REASON = "no speech: no window holds speech (audio/speech.py)"
NAMESPACE = "S3AudioExampleGen"  # of the Beam metrics
# After this many objects in a row exhausted their retry budget, a worker stops asking.
_STORE_DOWN_AFTER = 3


def segment_to_example(segment: np.ndarray, clip: Clip, index: int, stats: dict, real_seconds: float) -> bytes:
    # The clip's statistics (audio/stats.py) ride on each of its segments, for data validation;
    # the segment's own real duration, for the Evaluator's duration slice.
    return encode_segment(segment, label=clip.label, language=clip.language, speaker_id=clip.speaker_id,
                          source_key=clip.key, segment_index=index,
                          extra={**stats_to_features(stats), **duration_features(real_seconds)})


class DecodeAndSegment(beam.DoFn):
    """Batches of clips (work-file lines) in; per clip out: its segments as staging records (main), its
    fingerprint (tagged PRINTS, for the split) and one outcome record (tagged OUTCOMES).

    The split is not known yet (it needs every clip's fingerprint), so segments are staged
    with their clip's key and speaker, and outcomes get their split in `settle_outcome`.
    """

    OUTCOMES = "outcomes"
    PRINTS = "fingerprints"

    def __init__(self, data: DataConfig):
        self._bucket = data.bucket
        self._endpoint = data.s3_endpoint
        self._rate = data.sample_rate
        self._segment, self._hop = data.geometry.window_samples, data.geometry.hop_samples
        self._retry_seconds = data.fetch_retry_seconds
        self._client = None
        self._store_failures_in_a_row = 0
        self._segmented = beam.metrics.Metrics.counter(NAMESPACE, "clips_segmented")
        self._no_speech = beam.metrics.Metrics.counter(NAMESPACE, "no_speech_windows")
        self._failures = beam.metrics.Metrics.counter(NAMESPACE, "clips_skipped")
        self._unfetched = beam.metrics.Metrics.counter(NAMESPACE, "clips_unfetched")

    def setup(self):
        # Two botocore attempts and short timeouts: storage.fetch's backoff owns the waiting.
        self._client = s3.make_client(self._endpoint or None, max_attempts=2, timeout_s=20)
        self._loader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fetch-decode")

    def teardown(self):
        if getattr(self, "_loader", None) is not None:
            self._loader.shutdown(wait=True)

    def process(self, lines: list[str]) -> Iterator[Any]:
        """A batch of clips (work-file lines). While one clip's windows are encoded and written here,
        the next one is fetched, decoded and cut in a background thread: the S3 wait, libsndfile
        and soxr (which release the GIL) overlap the Python work. One clip is held ahead, so
        memory stays that of two clips."""
        ahead = None
        for line in lines:
            clip = Clip(*json.loads(line))
            loading = self._start_loading(clip)
            if ahead is not None:
                yield from self._emit_clip(*ahead)
            ahead = clip, loading
        if ahead is not None:
            yield from self._emit_clip(*ahead)

    def _start_loading(self, clip: Clip):
        if self._store_failures_in_a_row >= _STORE_DOWN_AFTER:
            known = concurrent.futures.Future()
            known.set_result(("not_attempted", f"not attempted: the store failed for {_STORE_DOWN_AFTER} "
                                               "objects in a row"))
            return known
        return self._loader.submit(self._load, clip)

    def _load(self, clip: Clip) -> tuple[str, Any]:
        """Fetch, decode, describe and cut one clip into the windows that hold speech (in the loader
        thread): (outcome, payload)."""
        try:
            data = fetch_object(self._client, self._bucket, clip.key, self._retry_seconds)
        except BadObject as err:
            return "bad", f"fetch failed: {err}"
        except StoreUnavailable as err:
            return "store", str(err)
        except Exception as err:  # noqa: BLE001 - anything unforeseen counts against the store, never the data
            return "store", describe(err)
        try:
            waveform = decode_audio(data, self._rate)
        except DecodeError as err:
            return "bad", str(err)
        stats = clip_statistics(data, waveform, self._rate)
        del data
        # audio/speech.py is the one definition of speech: trim to the first and last active frame,
        # then keep only the windows the serving graph would not call no_speech (judged, as there,
        # on each window's real audio, never its zero padding), so training never sees such a window.
        voiced = speech.trim(waveform, self._rate)
        kept, dropped = [], 0
        for index, segment in enumerate(fixed_segments(voiced, self._segment, self._hop)):
            real = min(self._segment, len(voiced) - index * self._hop)
            if speech.window_has_speech(segment[:real], self._rate):
                kept.append((index, segment, real))
            else:
                dropped += 1
        return "ok", (kept, dropped, len(voiced) / self._rate, stats)

    def _emit_clip(self, clip: Clip, loading) -> Iterator[Any]:
        """One loaded clip's outputs: staging records, fingerprint and outcome, or a skip / unfetched outcome."""
        outcome, payload = loading.result()
        if outcome == "not_attempted":
            yield from self._unfetchable(clip, payload, log=False)
            return
        if outcome == "store":
            self._store_failures_in_a_row += 1
            yield from self._unfetchable(clip, payload)
            return
        self._store_failures_in_a_row = 0
        if outcome == "bad":
            yield from self._skip(clip, payload)
            return
        kept, dropped, voiced_seconds, stats = payload
        self._no_speech.inc(dropped)
        if not kept:
            yield from self._skip(clip, NO_SPEECH_REASON)
            return
        self._segmented.inc()
        envelope = stage_envelope(clip.key, clip.speaker_id)
        for index, segment, real in kept:   # index: the window's place in the clip, so example keys stay stable
            yield envelope + segment_to_example(segment, clip, index, stats, round(real / self._rate, 3))
        digest = stats[features.CLIP_FINGERPRINT]
        yield beam.pvalue.TaggedOutput(self.PRINTS, (clip.key, (digest, clip.speaker_id)))
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {
            "kind": "ingested", "language": clip.language, "speaker_id": clip.speaker_id,
            "seconds": voiced_seconds, "segments": len(kept), "no_speech_windows": dropped,
            "key": clip.key, "fingerprint": digest})

    def _skip(self, clip: Clip, reason: str):
        logging.warning("S3AudioExampleGen: skipping s3://%s/%s: %s", self._bucket, clip.key, reason)
        self._failures.inc()
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {"kind": "skipped", "key": clip.key, "reason": reason})

    def _unfetchable(self, clip: Clip, reason: str, log: bool = True):
        if log:
            logging.warning("S3AudioExampleGen: could not fetch s3://%s/%s: %s", self._bucket, clip.key, reason)
        if self._store_failures_in_a_row == _STORE_DOWN_AFTER and log:
            logging.warning("S3AudioExampleGen: the store failed for %d objects in a row; this worker will not "
                            "ask for its remaining clips (the component fails)", _STORE_DOWN_AFTER)
        self._unfetched.inc()
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {"kind": "unfetched", "key": clip.key, "reason": reason})


def stage_envelope(key: str, speaker: str) -> bytes:
    """The head of a staging record: which clip and speaker the tf.Example after it belongs to
    (JSON escapes control characters, so the first newline ends it)."""
    return json.dumps([key, speaker]).encode("utf-8") + b"\n"
