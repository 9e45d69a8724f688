"""Beam executor of S3AudioExampleGen.

list (driver) -> assign speakers to splits (driver) -> fetch -> decode -> trim -> segment ->
tf.Example -> gzipped TFRecords per split (Beam workers). A bad object never fails the run:
it is counted, logged with its key and reason, and listed in ingestion_report.json.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Iterator

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from audio.decode import DecodeError, decode_audio
from audio.segment import fixed_segments, trim_silence
from audio.stats import clip_statistics
from components.clip_stats import stats_to_features
from components.example_codec import float_feature
from components.s3_audio_example_gen.split_by_audio import SplitBySpeakerAndAudio
from components.speaker_split import EVAL, TRAIN, Clip, speaker_from_key
from models import features
from storage import s3

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
REPORT_NAME = "ingestion_report.json"
_NAMESPACE = "S3AudioExampleGen"


def list_clips(client, bucket: str, prefix: str, languages: list[str]) -> tuple[list[Clip], dict]:
    """Clips under prefix whose folder is a configured language, with manifest speakers."""
    label_of = {name: i for i, name in enumerate(languages)}
    speakers = {row["key"]: str(row["speaker_id"]) for row in s3.read_manifest(client, bucket, prefix)
                if row.get("speaker_id") not in (None, "")}
    clips, ignored = [], {"not_audio": 0, "unlisted_language": 0}
    for obj in s3.list_objects(client, bucket, prefix):
        if obj.key == s3.manifest_key(prefix):
            continue
        relative = obj.key[len(prefix):]
        if not relative.lower().endswith(AUDIO_EXTENSIONS):
            ignored["not_audio"] += 1
            continue
        language = relative.split("/", 1)[0] if "/" in relative else ""
        if language not in label_of:
            ignored["unlisted_language"] += 1
            continue
        speaker = speakers.get(obj.key) or speaker_from_key(obj.key)
        clips.append(Clip(obj.key, language, label_of[language], speaker))
    return clips, ignored


def segment_to_example(segment: np.ndarray, clip: Clip, index: int, stats: dict | None = None) -> bytes:
    feature = {
        features.WAVEFORM: float_feature(segment),
        features.LABEL: tf.train.Feature(int64_list=tf.train.Int64List(value=[clip.label])),
        features.LANGUAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[clip.language.encode()])),
        features.SPEAKER_ID: tf.train.Feature(bytes_list=tf.train.BytesList(value=[clip.speaker_id.encode()])),
        features.SOURCE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[clip.key.encode()])),
        features.SEGMENT_INDEX: tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
        **stats_to_features(stats or {}),  # the clip's statistics (audio/stats.py), on each segment
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class _DecodeAndSegment(beam.DoFn):
    """One clip in, its segments out (main output), or one failure record (tagged output)."""

    FAILED = "failed"
    INGESTED = "ingested"

    def __init__(self, bucket: str, endpoint: str, sample_rate: int, segment_samples: int,
                 hop_samples: int, trim_threshold_db: float):
        self._bucket = bucket
        self._endpoint = endpoint
        self._rate = sample_rate
        self._segment = segment_samples
        self._hop = hop_samples
        self._trim_db = trim_threshold_db
        self._client = None
        self._clips = beam.metrics.Metrics.counter(_NAMESPACE, "clips_ingested")
        self._segments = beam.metrics.Metrics.counter(_NAMESPACE, "segments_written")
        self._failures = beam.metrics.Metrics.counter(_NAMESPACE, "clips_skipped")
        self._seconds = beam.metrics.Metrics.counter(_NAMESPACE, "audio_ms_ingested")

    def setup(self):
        self._client = s3.make_client(self._endpoint or None)

    def process(self, item: tuple[Clip, str]) -> Iterator[Any]:
        clip, split = item
        try:
            data = s3.get_bytes(self._client, self._bucket, clip.key)
        except Exception as err:  # noqa: BLE001 - missing objects and network faults alike
            yield from self._fail(clip, f"fetch failed: {type(err).__name__}: {str(err)[:160]}")
            return
        try:
            waveform = decode_audio(data, self._rate)
        except DecodeError as err:
            yield from self._fail(clip, str(err))
            return
        voiced = trim_silence(waveform, self._rate, self._trim_db)
        if len(voiced) < self._rate // 10:
            yield from self._fail(clip, "silent or shorter than 0.1 s after trimming")
            return
        segments = fixed_segments(voiced, self._segment, self._hop)
        stats = clip_statistics(data, waveform, self._rate)
        self._clips.inc()
        self._segments.inc(len(segments))
        self._seconds.inc(int(1000 * len(voiced) / self._rate))
        for index, segment in enumerate(segments):
            yield split, segment_to_example(segment, clip, index, stats)
        yield beam.pvalue.TaggedOutput(self.INGESTED, {
            "key": clip.key, "split": split, "language": clip.language, "speaker_id": clip.speaker_id,
            "seconds": round(len(voiced) / self._rate, 3), "segments": len(segments)})

    def _fail(self, clip: Clip, reason: str):
        logging.warning("S3AudioExampleGen: skipping s3://%s/%s: %s", self._bucket, clip.key, reason)
        self._failures.inc()
        yield beam.pvalue.TaggedOutput(self.FAILED, {"key": clip.key, "reason": reason})


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the Examples artifact; raises when nothing usable was ingested."""

    def Do(self, input_dict, output_dict, exec_properties):
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        bucket = exec_properties["bucket"]
        prefix = exec_properties.get("prefix") or ""
        endpoint = exec_properties.get("s3_endpoint") or ""
        languages = json.loads(exec_properties["languages"])
        rate = int(exec_properties["sample_rate"])
        segment_samples = int(round(float(exec_properties["segment_seconds"]) * rate))
        hop_samples = int(round(float(exec_properties["hop_seconds"]) * rate))

        client = s3.make_client(endpoint or None)
        clips, ignored = list_clips(client, bucket, prefix, languages)
        if not clips:
            raise ValueError(
                f"no audio clips found under s3://{bucket}/{prefix} in folders {languages} "
                f"(ignored: {ignored}); expected keys like {prefix}{languages[0]}/clip.mp3")
        logging.info("S3AudioExampleGen: %d clips from s3://%s/%s", len(clips), bucket, prefix)

        splits = [TRAIN, EVAL]
        examples.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        scratch = os.path.join(examples.uri, "_report_parts")

        dofn = _DecodeAndSegment(bucket, endpoint, rate, segment_samples, hop_samples,
                                 float(exec_properties["trim_threshold_db"]))
        with self._make_beam_pipeline() as pipeline:
            results = (
                pipeline
                | "SplitClips" >> SplitBySpeakerAndAudio(
                    clips, bucket, endpoint, rate, float(exec_properties["eval_fraction"]),
                    int(exec_properties["split_seed"]))
                | "Spread" >> beam.Reshuffle()
                | "DecodeAndSegment" >> beam.ParDo(dofn).with_outputs(
                    _DecodeAndSegment.FAILED, _DecodeAndSegment.INGESTED, main="segments"))
            segments = results.segments
            for split in splits:
                (segments
                 | f"Only{split}" >> beam.Filter(lambda row, s=split: row[0] == s)
                 | f"Serialize{split}" >> beam.Map(lambda row: row[1])
                 | f"Write{split}" >> beam.io.WriteToTFRecord(
                     os.path.join(artifact_utils.get_split_uri([examples], split), "data_tfrecord"),
                     file_name_suffix=".gz"))
            # One JSON list per tag, "[]" when nothing failed: Beam's S3 sink cannot write an
            # empty object (S3 rejects a multipart upload with no parts).
            for tag in (_DecodeAndSegment.INGESTED, _DecodeAndSegment.FAILED):
                (results[tag]
                 | f"{tag}List" >> beam.combiners.ToList()
                 | f"{tag}Json" >> beam.Map(json.dumps)
                 | f"Write{tag}" >> beam.io.WriteToText(os.path.join(scratch, tag), shard_name_template="", num_shards=1))

        report = self._report(scratch, ignored, len(clips))
        with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_NAME), "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        tf.io.gfile.rmtree(scratch)
        for split in splits:
            examples.set_int_custom_property(f"{split}_segments", report["segments"].get(split, 0))
        examples.set_int_custom_property("clips_skipped", len(report["skipped"]))
        missing = [s for s in splits if not report["segments"].get(s)]
        if missing:
            raise ValueError(
                f"ingestion produced no segments for split(s) {missing}: {len(clips)} clips listed, "
                f"{len(report['skipped'])} skipped (see {REPORT_NAME}); the eval split needs at "
                "least two speakers in some language")

    @staticmethod
    def _report(scratch: str, ignored: dict, listed: int) -> dict:
        """Counts per split and language from the per-clip records the workers wrote."""
        def read_lines(name):
            path = os.path.join(scratch, name)
            if not tf.io.gfile.exists(path):
                return []
            with tf.io.gfile.GFile(path) as f:
                return [row for line in f if line.strip() for row in json.loads(line)]

        per_split: dict = {}
        speakers: dict = {}
        for clip in read_lines(_DecodeAndSegment.INGESTED):
            entry = per_split.setdefault(clip["split"], {}).setdefault(
                clip["language"], {"clips": 0, "segments": 0, "seconds": 0.0, "speakers": 0})
            entry["clips"] += 1
            entry["segments"] += clip["segments"]
            entry["seconds"] = round(entry["seconds"] + clip["seconds"], 3)
            speakers.setdefault((clip["split"], clip["language"]), set()).add(clip["speaker_id"])
        for (split, language), names in speakers.items():
            per_split[split][language]["speakers"] = len(names)
        return {
            "per_split": per_split,
            "segments": {s: sum(e["segments"] for e in langs.values()) for s, langs in per_split.items()},
            "clips_listed": listed,
            "ignored_objects": ignored,
            "skipped": sorted(read_lines(_DecodeAndSegment.FAILED), key=lambda r: r["key"]),
        }
