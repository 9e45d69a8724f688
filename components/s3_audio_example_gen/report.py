"""ingestion_report.json of S3AudioExampleGen, and the verdict whether the corpus is fit to train on."""
from __future__ import annotations

import json
import os

import tensorflow as tf

from components.s3_audio_example_gen.listing import MAX_LISTED, Listing
from components.speaker_split import EVAL, TRAIN
from config import DataConfig
from storage.manifest import ManifestReading

REPORT_NAME = "ingestion_report.json"
FAILED_REPORTS = "failed_ingestion_reports"  # beside the examples folder: failed outputs are deleted


class IngestionFailed(RuntimeError):
    """The corpus could not be ingested completely or cleanly enough to train on."""


def read_json(path: str) -> dict:
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def ingested(tally: dict) -> int:
    return sum(entry["clips"] for languages in tally["per_split"].values() for entry in languages.values())


def build_report(tally: dict, listing: Listing, manifest: ManifestReading) -> dict:
    """ingestion_report.json: counts always complete, key lists capped at MAX_LISTED."""
    per_split = tally["per_split"]
    several = {}
    for language, speakers in listing.speakers_by_language.items():
        for speaker in speakers:
            several.setdefault(speaker, []).append(language)
    several = {s: sorted(langs) for s, langs in several.items() if len(langs) > 1}
    skipped = sorted(listing.rejected.entries + tally["skipped"]["keys"], key=lambda e: e["key"])[:MAX_LISTED]
    return {
        "per_split": per_split,
        "segments": {s: sum(e["segments"] for e in langs.values()) for s, langs in per_split.items()},
        "clips_listed": listing.clips,
        "skipped": skipped,
        "skipped_count": listing.rejected.count + tally["skipped"]["count"],
        "unfetched": tally["unfetched"]["keys"],
        "unfetched_count": tally["unfetched"]["count"],
        "ignored_objects": listing.ignored_counts(),
        "ignored_keys": {reason: sorted(e["key"] for e in b.entries) for reason, b in listing.ignored.items()},
        "manifest": {"rows": manifest.rows_read, "problem_count": manifest.problem_count,
                     "problems": manifest.problems,
                     "speakers_in_several_languages": dict(sorted(several.items())[:MAX_LISTED])},
        "max_listed": MAX_LISTED,
    }


def write_report(examples, scratch: str, listing: Listing, manifest: ManifestReading, span: int,
                 previous_uri: str | None, why_not: str, carried_files: dict) -> dict:
    """Write ingestion_report.json (totals, and what this run added) into the artifact and set
    its count properties; return the report."""
    tally_this_run = read_json(os.path.join(scratch, "tally_this_run"))
    tally = read_json(os.path.join(scratch, "tally")) if listing.carried else tally_this_run
    report = build_report(tally, listing, manifest)
    # Beside the totals (per_split, segments: what the artifact holds), what this run added.
    report.update(span=span, clips_ingested=ingested(tally_this_run), clips_total=ingested(tally),
                  clips_carried_over=listing.carried)
    report["incremental"] = {
        "dropped": listing.dropped, "this_run": tally_this_run["per_split"],
        "previous_examples": previous_uri, "started_over_because": why_not,
        "span_files": carried_files}
    with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_NAME), "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    for split in (TRAIN, EVAL):
        examples.set_int_custom_property(f"{split}_segments", report["segments"].get(split, 0))
    examples.set_int_custom_property("clips_skipped", report["skipped_count"])
    examples.span = span
    for name in ("clips_ingested", "clips_carried_over", "clips_total"):
        examples.set_int_custom_property(name, report[name])
    return report


def raise_if_unfit(report: dict, examples_uri: str, where: str, data: DataConfig) -> None:
    """Raise when the ingestion is not fit to train on; the report survives in FAILED_REPORTS."""
    max_skipped, retry_seconds = data.max_skipped_fraction, data.fetch_retry_seconds
    listed, unfetched, skipped = report["clips_listed"], report["unfetched_count"], report["skipped_count"]
    problem = None
    if unfetched:
        first = report["unfetched"][0]
        problem = (f"{unfetched} of {listed} objects could not be fetched from {where} (the store was "
                   f"unreachable or failing after {retry_seconds:.0f} s of retries per object; first: "
                   f"{first['key']}: {first['reason']}). Nothing from this run is kept or cached: rerun when "
                   "the store is back")
    elif skipped > max_skipped * listed:
        problem = (f"{skipped} of {listed} clips ({skipped / listed:.1%}) are bad, more than "
                   f"--max-skipped-fraction {max_skipped:g}")
    elif missing := [s for s in (TRAIN, EVAL) if not report["segments"].get(s)]:
        problem = (f"ingestion produced no segments for split(s) {missing}: {listed} clips listed, "
                   f"{skipped} skipped; the eval split needs at least two speakers in some language")
    if problem is None:
        return
    kept = os.path.join(os.path.dirname(os.path.dirname(examples_uri)), FAILED_REPORTS,
                        f"{os.path.basename(examples_uri)}.json")
    tf.io.gfile.makedirs(os.path.dirname(kept))
    with tf.io.gfile.GFile(kept, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    raise IngestionFailed(f"{problem}; report: {kept}")

