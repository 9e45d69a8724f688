"""Beam executor of S3AudioExampleGen: the order of the jobs, each in its own module.

list (listing.py: driver, streamed to a work file) -> fetch, decode, segment, drop windows
without speech (fetch_segment.py: Beam workers, one pass, each clip fetched and decoded once,
segments staged) -> speakers to splits from every clip's fingerprint (split_by_audio.py) ->
staged segments routed to TFRecords per split, gzipped or not, and outcomes tallied
(routing.py) -> earlier spans carried over and the ledger written (ledger.py) ->
ingestion_report.json and the verdict (report.py).

Two kinds of trouble, two answers:
- a bad object (undecodable, truncated, implausible header, a key escaping its language
  folder, gone since the listing) is skipped, counted and listed in ingestion_report.json
  with its key and reason; more than `max_skipped_fraction` of them fails the run;
- a failing store (connections refused or reset, 5xx) is retried with backoff for
  `fetch_retry_seconds` per object; any object still unfetched fails the component, so
  nothing is trained on, or cached from, a partial corpus.

Every setting comes from the DataConfig in the execution property config.DATA_PROPERTY.
"""
from __future__ import annotations

import logging
import os

import apache_beam as beam
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from components.s3_audio_example_gen.fetch_segment import DecodeAndSegment
from components.s3_audio_example_gen.ledger import (
    Previous,
    carry_over,
    ledger_row,
    outcome_of_ledger_row,
    read_previous,
    settings_digest,
    span_file_prefix,
    write_ledger,
)
from components.s3_audio_example_gen.listing import Listing, list_clips
from components.s3_audio_example_gen.report import IngestionFailed, raise_if_unfit, write_report
from components.s3_audio_example_gen.routing import RouteStaged, settle_outcome, write_tally
from components.s3_audio_example_gen.split_by_audio import SplitKeepingDuplicatesTogether
from components.speaker_split import EVAL, TRAIN
from config import DATA_PROPERTY, DataConfig, data_from_property
from contract.codec import tfrecord_suffix
from storage import s3, tfrecord_crc  # noqa: F401  (tfrecord_crc: hardware CRC32C for the TFRecords)
from storage.fetch import describe
from storage.manifest import read_manifest_object

PREVIOUS_EXAMPLES_KEY = "previous_examples"
COMPRESSION_PROPERTY = "compression"      # RuntimeConfig.intermediate_compression: "none" | "gzip"
CODE_VERSION_PROPERTY = "code_version"    # digest of the executor's code (pipeline/code_version.py)
# Custom properties of the Examples artifact that the resolver of the previous ingestion reads.
LEDGER_SETTINGS_PROPERTY = "ingestion_settings"
CORPUS_PROPERTY = "corpus_fingerprint"
SPLITS = [TRAIN, EVAL]


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the Examples artifact; raises when the corpus could not be ingested soundly."""

    def Do(self, input_dict, output_dict, exec_properties):
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        data = data_from_property(exec_properties[DATA_PROPERTY])
        compression = exec_properties[COMPRESSION_PROPERTY]
        where = f"s3://{data.bucket}/{data.prefix}"
        settings = settings_digest(data, exec_properties.get(CODE_VERSION_PROPERTY) or "", compression)
        earlier = input_dict.get(PREVIOUS_EXAMPLES_KEY) or []
        previous, why_not = read_previous(earlier[0].uri if earlier else None, settings)
        if earlier and previous is None:
            logging.warning("S3AudioExampleGen: ingesting everything again: %s", why_not)
        span = previous.span + 1 if previous else 0

        scratch = os.path.join(examples.uri, "_scratch")
        tf.io.gfile.makedirs(scratch)
        client = s3.make_client(data.s3_endpoint or None)
        try:
            manifest = read_manifest_object(client, data.bucket, s3.manifest_key(data.prefix))
            listing = list_clips(client, data.bucket, data.prefix, list(data.languages),
                                 os.path.join(scratch, "clips.jsonl"), manifest, previous)
        except Exception as err:
            raise IngestionFailed(f"could not list {where} or read its manifest: {describe(err)}") from err
        if not listing.clips:
            raise ValueError(
                f"no audio clips found under {where} in folders {list(data.languages)} "
                f"(ignored: {listing.ignored_counts()}); expected keys like {data.prefix}{data.languages[0]}/clip.mp3")
        logging.info("S3AudioExampleGen: %d clips from %s: span %d, %d to ingest, %d carried over from %s, "
                     "dropped %s", listing.clips, where, span, len(listing.to_ingest), listing.carried,
                     previous.uri if previous else "-", listing.dropped)

        examples.split_names = artifact_utils.encode_split_names(SPLITS)
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        with self._make_beam_pipeline() as pipeline:
            _ingest(pipeline, data, listing, previous, examples, span, scratch, compression)

        carried_files = carry_over(previous, examples.uri, SPLITS, listing.dropped_keys) if previous else {}
        report = write_report(examples, scratch, listing, manifest, span, previous.uri if previous else None,
                              why_not, carried_files)
        raise_if_unfit(report, examples.uri, where, data)
        # Last, once the examples are known good: only a complete artifact carries a ledger.
        write_ledger(examples.uri, settings, span, [listing.carried_path, os.path.join(scratch, "new_rows")])
        examples.set_string_custom_property(LEDGER_SETTINGS_PROPERTY, settings)
        examples.set_string_custom_property(CORPUS_PROPERTY, data.corpus_fingerprint)
        tf.io.gfile.rmtree(scratch)


def _ingest(pipeline, data: DataConfig, listing: Listing, previous: Previous | None, examples, span: int,
            scratch: str, compression: str) -> None:
    """The Beam graph: this run's clips fetched and segmented, split by speaker, routed to the
    split's span files; tallies and this run's ledger rows into `scratch`."""
    # (a GFile nobody wrote to is never created: an all-carried run reads no work file)
    clips = pipeline | "Clips" >> (beam.io.ReadFromText(listing.work_path) if listing.to_ingest
                                   else beam.Create([]))
    results = (clips
               | "Spread" >> beam.Reshuffle()
               | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=16)
               | "DecodeAndSegment" >> beam.ParDo(DecodeAndSegment(data)).with_outputs(
                   DecodeAndSegment.OUTCOMES, DecodeAndSegment.PRINTS, main="staged"))
    staged_files = results.staged | "Stage" >> beam.io.WriteToTFRecord(os.path.join(scratch, "staged"))
    assigned = results[DecodeAndSegment.PRINTS] | "SplitBySpeaker" >> SplitKeepingDuplicatesTogether(
        listing.speakers_by_language, data.eval_fraction, data.split_seed,
        previous.fixed_splits() if previous else None, listing.carried_prints)
    split_of = beam.pvalue.AsSingleton(assigned | "SpeakerSplits" >> beam.Map(lambda a: a[0]))
    crossing = beam.pvalue.AsSingleton(assigned | "CrossingDuplicates" >> beam.Map(lambda a: a[1]))
    routed = (staged_files
              | "ReadStaged" >> beam.io.ReadAllFromTFRecord()
              | "Route" >> beam.ParDo(RouteStaged(), split_of=split_of, crossing=crossing))
    for split in SPLITS:
        (routed
         | f"Only{split}" >> beam.Filter(lambda row, s=split: row[0] == s)
         | f"Serialize{split}" >> beam.Map(lambda row: row[1])
         | f"Write{split}" >> beam.io.WriteToTFRecord(
             os.path.join(artifact_utils.get_split_uri([examples], split), span_file_prefix(span)),
             file_name_suffix=tfrecord_suffix(compression)))
    this_run = results[DecodeAndSegment.OUTCOMES] | "Settle" >> beam.Map(
        settle_outcome, split_of=split_of, crossing=crossing)
    write_tally(this_run, os.path.join(scratch, "tally_this_run"), "ThisRun")
    if listing.carried:  # the totals add what was carried over (else they are this run's tally)
        carried = (pipeline
                   | "Carried" >> beam.io.ReadFromText(listing.carried_path)
                   | "CarriedOutcomes" >> beam.Map(outcome_of_ledger_row))
        write_tally((this_run, carried) | "All" >> beam.Flatten(), os.path.join(scratch, "tally"), "")
    (this_run
     | "LedgerRows" >> beam.Map(ledger_row, span=span, clips=listing.to_ingest)
     | "WriteLedgerRows" >> beam.io.WriteToText(os.path.join(scratch, "new_rows"), shard_name_template="",
                                                num_shards=1))
