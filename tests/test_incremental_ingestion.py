"""Incremental ingestion against moto's S3 over HTTP: only new or changed objects are fetched.

The independent expectation is a from-scratch ingestion of the final bucket: the incremental
artifact must hold exactly its (clip, segment) set, with identical waveforms, while the proxy in
front of the store sees GETs of the new and changed clips only.
"""
from __future__ import annotations

import collections
import json
import os
import urllib.parse
import uuid

import numpy as np
import pytest
from tfx.types import standard_artifacts

from components.s3_audio_example_gen.executor import Executor
from components.s3_audio_example_gen.ledger import LEDGER_NAME
from components.s3_audio_example_gen.report import REPORT_NAME
from components.speaker_split import EVAL, TRAIN, assign_speakers_keeping_duplicates_together, clips_crossing_the_split
from contract import features
from contract.codec import read_split
from storage import s3
from storage.embedded_s3 import embedded_s3
from tests.helpers.fault_proxy import audio_gets, fault_proxy
from tests.helpers.ingestion import _data, _props, _records
from tests.helpers.synthetic_corpus import make_corpus

NEW_SPEAKER = ("English/en-s4__000.mp3", "French/fr-s4__000.mp3", "German/ge-s4__000.mp3")
NEW_CLIP_OF_KNOWN_SPEAKER = "German/ge-s1__001.mp3"
CHANGED = "English/en-s2__000.mp3"
DELETED = "French/fr-s3__001.mp3"
BROKEN = "clips/German/broken.mp3"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """4 speakers x 2 clips of 1.5 s per language, plus one unrelated clip for the changed object."""
    root = str(tmp_path_factory.mktemp("incremental"))
    rows = make_corpus(root, speakers_per_language=4, clips_per_speaker=2, seconds=1.5, seed=7)
    other = str(tmp_path_factory.mktemp("other"))
    make_corpus(other, languages=("English",), speakers_per_language=1, clips_per_speaker=1, seconds=1.5, seed=99)
    with open(os.path.join(other, "English/en-s1__000.mp3"), "rb") as f:
        replacement = f.read()
    return root, rows, replacement


def _upload(client, bucket, corpus, keys, replaced=None):
    root, rows, _ = corpus
    s3.ensure_bucket(client, bucket)
    for key in keys:
        with open(os.path.join(root, key), "rb") as f:
            body = f.read()
        s3.put_bytes(client, bucket, "clips/" + key, (replaced or {}).get(key, body))
    manifest = [{**row, "key": "clips/" + row["key"]} for row in rows if row["key"] in keys]
    s3.write_manifest(client, bucket, manifest, "clips/")


def _ingest(uri, bucket, endpoint, previous=None, max_skipped=0.1):
    """One ingestion through a proxy; returns (artifact, keys of the clips GET-fetched).

    Every ingestion here also checks that no clip is fetched twice: one pass fetches, decodes,
    fingerprints and segments each clip (the proxy fails nothing, so there are no retries)."""
    fetched = []

    def record(method, path):
        if audio_gets(method, path):
            fetched.append(urllib.parse.unquote(urllib.parse.urlsplit(path).path).split("/", 2)[2])
        return False

    examples = standard_artifacts.Examples()
    examples.uri = str(uri)
    with fault_proxy(endpoint) as proxy:
        proxy.fail(record, 503, None)
        Executor().Do({"previous_examples": [previous]} if previous else {}, {"examples": [examples]},
                      _props(bucket, s3_endpoint=proxy.endpoint, max_skipped_fraction=max_skipped))
    twice = sorted(key for key, n in collections.Counter(fetched).items() if n > 1)
    assert not twice, f"clips fetched more than once: {twice}"
    return examples, set(fetched)


def _segments(examples) -> dict:
    return {(r["key"], r["index"]): (split, r["speaker"], r["waveform"])
            for split in (TRAIN, EVAL) for r in _records(examples, split)}


def _report(examples) -> dict:
    with open(os.path.join(examples.uri, REPORT_NAME)) as f:
        return json.load(f)


def test_second_scrape_fetches_only_new_and_changed_objects(tmp_path, s3_endpoint, corpus):
    root, rows, replacement = corpus
    client = s3.make_client(s3_endpoint)
    bucket = f"incr-{uuid.uuid4().hex[:8]}"
    all_keys = sorted(row["key"] for row in rows)
    first_keys = [k for k in all_keys if k not in NEW_SPEAKER and k != NEW_CLIP_OF_KNOWN_SPEAKER]
    _upload(client, bucket, corpus, first_keys)
    s3.put_bytes(client, bucket, BROKEN, b"<html>not audio</html>")
    first, fetched = _ingest(tmp_path / "Gen" / "examples" / "1", bucket, s3_endpoint)
    assert fetched == {"clips/" + k for k in first_keys} | {BROKEN}
    assert first.span == 0
    # Each ingested clip's ledger row keeps the fingerprint its segments carry (the next run's
    # duplicate-aware split is built from these).
    with open(os.path.join(first.uri, LEDGER_NAME)) as f:
        rows = [json.loads(line) for line in f][1:]   # after the header line (settings, span)
    on_segments = {e.features.feature[features.SOURCE_KEY].bytes_list.value[0].decode():
                   e.features.feature[features.CLIP_FINGERPRINT].bytes_list.value[0].decode()
                   for split in (TRAIN, EVAL) for e in read_split(first.uri, split)}
    assert {r["key"]: r["fingerprint"] for r in rows if r["outcome"] == "ingested"} == on_segments

    # The next scrape: a new speaker per language, a new clip of a known speaker, one object
    # replaced by other audio under the same key, one deleted.
    final_keys = [k for k in all_keys if k != DELETED]
    _upload(client, bucket, corpus, final_keys, replaced={CHANGED: replacement})
    client.delete_object(Bucket=bucket, Key="clips/" + DELETED)
    second, fetched = _ingest(tmp_path / "Gen" / "examples" / "2", bucket, s3_endpoint, previous=first)
    assert fetched == {"clips/" + k for k in (*NEW_SPEAKER, NEW_CLIP_OF_KNOWN_SPEAKER, CHANGED)}
    assert second.span == 1
    report = _report(second)
    assert report["clips_ingested"] == 5
    assert report["clips_carried_over"] == len(first_keys) - 2 + 1  # + the bad object
    assert report["clips_total"] == len(final_keys)
    assert report["incremental"]["dropped"] == {"deleted": 1, "changed": 1}
    # The bad object is not fetched again (same ETag) but still reported and counted.
    assert [row["key"] for row in report["skipped"]] == [BROKEN] and report["skipped_count"] == 1
    assert second.get_int_custom_property("clips_ingested") == 5

    scratch, _ = _ingest(tmp_path / "Gen" / "examples" / "3", bucket, s3_endpoint)
    incremental, expected = _segments(second), _segments(scratch)
    assert set(incremental) == set(expected)
    assert ("clips/" + DELETED, 0) not in incremental
    for where, (_, _, waveform) in expected.items():
        np.testing.assert_array_equal(incremental[where][2], waveform)
    # Speakers seen before keep their split; each speaker (old or new) sits on one side only.
    split_before = {speaker: split for split, speaker, _ in _segments(first).values()}
    split_after = {}
    for split, speaker, _ in incremental.values():
        assert split_after.setdefault(speaker, split) == split
    assert {s: split_after[s] for s in split_before} == split_before
    assert {split_after[k.split("/")[1].split("__")[0]] for k in NEW_SPEAKER} <= {TRAIN, EVAL}

    # The embedded S3 restarts (empty) and the same bytes are uploaded again: same ETags, nothing fetched.
    with embedded_s3() as restarted:
        fresh = s3.make_client(restarted)
        _upload(fresh, bucket, corpus, final_keys, replaced={CHANGED: replacement})
        s3.put_bytes(fresh, bucket, BROKEN, b"<html>not audio</html>")
        third, fetched = _ingest(tmp_path / "Gen" / "examples" / "4", bucket, restarted, previous=second)
    assert fetched == set()
    assert third.span == 2
    assert _report(third)["clips_carried_over"] == len(final_keys) + 1
    assert set(_segments(third)) == set(expected)


def test_changed_settings_start_over(tmp_path, s3_endpoint, corpus):
    client = s3.make_client(s3_endpoint)
    bucket = f"incr-{uuid.uuid4().hex[:8]}"
    keys = sorted(row["key"] for row in corpus[1])[:12]
    _upload(client, bucket, corpus, keys)
    first, _ = _ingest(tmp_path / "a", bucket, s3_endpoint)
    with open(os.path.join(first.uri, LEDGER_NAME)) as f:
        header = json.loads(f.readline())
    with open(os.path.join(first.uri, LEDGER_NAME), "w") as f:  # as if segment_seconds had changed
        f.write(json.dumps({**header, "settings": "other"}) + "\n")
    again, fetched = _ingest(tmp_path / "b", bucket, s3_endpoint, previous=first)
    assert fetched == {"clips/" + k for k in keys}
    assert again.span == 0


def test_a_failed_ingestion_leaves_no_ledger_to_build_on(tmp_path, s3_endpoint, corpus):
    from components.s3_audio_example_gen.ledger import read_previous, settings_digest
    from components.s3_audio_example_gen.report import IngestionFailed

    client = s3.make_client(s3_endpoint)
    bucket = f"incr-{uuid.uuid4().hex[:8]}"
    _upload(client, bucket, corpus, sorted(row["key"] for row in corpus[1])[:6])
    s3.put_bytes(client, bucket, BROKEN, b"<html>not audio</html>")
    with pytest.raises(IngestionFailed, match="are bad"):
        _ingest(tmp_path / "failed", bucket, s3_endpoint, max_skipped=0.0)
    assert not (tmp_path / "failed" / LEDGER_NAME).exists()
    assert read_previous(str(tmp_path / "failed"), settings_digest(_data(bucket), "", "none"))[0] is None


@pytest.mark.parametrize("damage, reason", [
    (lambda rows: rows[:1] + ["{not json"] + rows[2:], "unreadable"),
    (lambda rows: [rows[0], json.dumps({k: v for k, v in json.loads(rows[1]).items() if k != "etag"})] + rows[2:],
     "lacks ['etag']"),
    (lambda rows: [rows[0], json.dumps({**json.loads(rows[1]), "outcome": "maybe"})] + rows[2:], "outcome 'maybe'"),
    (lambda rows: ['{"span": 0}'] + rows[1:], "settings or code changed"),
])
def test_a_damaged_ledger_is_not_built_on(tmp_path, damage, reason):
    from components.s3_audio_example_gen.ledger import read_previous, write_ledger

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"key": f"English/c{i}.mp3", "etag": f"e{i}", "language": "English",
                                        "speaker": "s", "span": 0, "outcome": "ingested", "split": TRAIN,
                                        "segments": 2, "seconds": 3.0}) + "\n" for i in range(3)))
    write_ledger(str(tmp_path), "digest", 0, [str(rows)])
    previous, why = read_previous(str(tmp_path), "digest")
    assert why == "" and sorted(previous.rows) == [f"English/c{i}.mp3" for i in range(3)]
    ledger = tmp_path / LEDGER_NAME
    ledger.write_text("\n".join(damage(ledger.read_text().splitlines())) + "\n")
    previous, why = read_previous(str(tmp_path), "digest")
    assert previous is None and reason in why


def test_new_duplicate_of_an_earlier_clip_never_crosses_the_split():
    # a1 (train) and b1 (eval) were ingested; new clip a2 of speaker a has b1's audio.
    prints = {"a1": ("x", "a"), "b1": ("y", "b"), "a2": ("y", "a"), "c1": ("y", "c")}
    fixed = {"a": TRAIN, "b": EVAL}
    split_of = assign_speakers_keeping_duplicates_together({"L": {"a", "b", "c"}}, prints, 0.3, 1, fixed,
                                                           kept={"a1", "b1"})
    assert split_of["a"] == TRAIN and split_of["b"] == EVAL
    assert split_of["c"] == EVAL               # a new speaker sharing b's audio joins b's side
    assert clips_crossing_the_split(prints, split_of, kept={"a1", "b1"}) == {"a2": "b1"}


def test_pipeline_resolves_the_previous_ingestion_and_keeps_its_cache(tmp_path, s3_endpoint, corpus):
    """Real LocalDagRunner + ML Metadata, ingestion and the augmenter as create_pipeline builds them."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx import v1 as tfx

    from config import PipelineConfig
    from pipeline.pipeline import create_pipeline, upstream_of
    from reports.runs import latest_run, run_names
    from storage.corpus import corpus_fingerprint

    client = s3.make_client(s3_endpoint)
    bucket = f"incr-{uuid.uuid4().hex[:8]}"
    all_keys = sorted(row["key"] for row in corpus[1])
    first_keys = [k for k in all_keys if k not in NEW_SPEAKER]
    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(tmp_path / "m.sqlite"))
    store = metadata_store.MetadataStore(metadata)

    def run_once():
        config = PipelineConfig().override(
            data={"bucket": bucket, "prefix": "clips/", "languages": ("English", "French", "German"),
                  "segment_seconds": 1.0, "eval_fraction": 0.25,
                  "corpus_fingerprint": corpus_fingerprint(client, bucket, "clips/")},
            augmenter={"copies": 1}, push={"serving_model_dir": str(tmp_path / "serving")},
            runtime={"pipeline_root": str(tmp_path / "root"), "enable_cache": True})
        before = run_names(metadata)
        tfx.orchestration.LocalDagRunner().run(
            upstream_of(create_pipeline(config, metadata_connection_config=metadata), "AudioAugmenter"))
        return latest_run(store, config.runtime.pipeline_name, (run_names(metadata) - before).pop())

    def previous_input(execution):
        events = [e for e in store.get_events_by_execution_ids([execution.id])
                  if e.type == metadata_store_pb2.Event.INPUT and e.path.steps[0].key == "previous_examples"]
        return [e.artifact_id for e in events]

    _upload(client, bucket, corpus, first_keys)
    first = run_once()
    execution, outputs = first["S3AudioExampleGen"]
    first_examples = outputs["examples"][0]
    assert previous_input(execution) == [] and first_examples.properties["span"].int_value == 0

    same = run_once()  # unchanged bucket: the same (empty) previous input, so a cache hit
    assert same["S3AudioExampleGen"][0].last_known_state == metadata_store_pb2.Execution.CACHED

    _upload(client, bucket, corpus, all_keys)
    execution, outputs = run_once()["S3AudioExampleGen"]
    assert execution.last_known_state == metadata_store_pb2.Execution.COMPLETE
    assert previous_input(execution) == [first_examples.id]  # ingestion's own output, not the augmenter's
    examples = outputs["examples"][0]
    assert examples.properties["span"].int_value == 1
    assert examples.custom_properties["clips_ingested"].int_value == len(NEW_SPEAKER)
    assert examples.custom_properties["clips_total"].int_value == len(all_keys)
