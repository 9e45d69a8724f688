"""Fault injection for ingestion: a failing store, malformed manifests, hostile audio files.

The store's faults come from tests/helpers/fault_proxy.py, a proxy on 127.0.0.1 in front of moto's
S3 server that answers 500/503 or resets connections for a number of requests.
"""
from __future__ import annotations

import io
import json
import os
import struct
import uuid

import numpy as np
import pytest
import soundfile

from components.s3_audio_example_gen.report import REPORT_NAME, IngestionFailed
from storage import s3
from storage.corpus import upload_corpus
from tests.helpers.fault_proxy import audio_gets, fault_proxy
from tests.helpers.ingestion import _data, _props, _records, _run


def _report(examples):
    with open(os.path.join(examples.uri, REPORT_NAME)) as f:
        return json.load(f)


@pytest.fixture()
def clean_bucket(s3_endpoint, tiny_corpus):
    """The tiny corpus (36 good clips, manifest) alone under clips/."""
    name = f"faults-{uuid.uuid4().hex[:8]}"
    upload_corpus(s3.make_client(), name, tiny_corpus[0], prefix="clips/")
    return name


@pytest.fixture()
def proxy(s3_endpoint):
    with fault_proxy(s3_endpoint) as running:
        yield running


def _all_keys(tiny_corpus):
    return {"clips/" + row["key"] for row in tiny_corpus[1]}


@pytest.mark.parametrize("action", [503, 500, "reset"])
def test_store_failing_for_a_while_loses_nothing(tmp_path, clean_bucket, tiny_corpus, proxy, action):
    # 12 failures in a row: more than botocore's own attempts on one object, so only the
    # executor's backoff gets the first clips through.
    rule = proxy.fail(audio_gets, action, times=12)
    examples = _run(tmp_path, _props(clean_bucket, s3_endpoint=proxy.endpoint, fetch_retry_seconds=30.0))
    report = _report(examples)
    assert rule.failed == 12
    assert report["skipped_count"] == 0 and report["unfetched_count"] == 0
    records = _records(examples, "train") + _records(examples, "eval")
    assert {r["key"] for r in records} == _all_keys(tiny_corpus)


def test_store_gone_fails_with_the_count_and_keeps_the_report(tmp_path, clean_bucket, proxy):
    proxy.fail(audio_gets, "reset", times=None)  # listing and manifest work, every clip fetch drops
    with pytest.raises(IngestionFailed, match=r"36 of 36 objects could not be fetched") as failure:
        _run(tmp_path, _props(clean_bucket, s3_endpoint=proxy.endpoint, fetch_retry_seconds=1.0))
    kept = str(failure.value).rsplit("report: ", 1)[1]
    with open(kept) as f:
        report = json.load(f)
    assert report["unfetched_count"] == 36 and report["skipped_count"] == 0


def test_a_store_error_is_not_a_bad_object(tmp_path, clean_bucket, proxy):
    """503 forever on one clip fails the run; a clip deleted after listing is skipped (404)."""
    client = s3.make_client()
    victim = "clips/English/en-s1__000.mp3"
    proxy.fail(lambda method, path: method == "GET" and path.endswith(victim), 503, times=None)
    with pytest.raises(IngestionFailed, match=r"1 of 36 objects could not be fetched.*en-s1__000"):
        _run(tmp_path / "a", _props(clean_bucket, s3_endpoint=proxy.endpoint, fetch_retry_seconds=1.0))
    proxy.heal()
    # A 404 on the clip (listed, then gone) is the object's problem: skipped and reported.
    proxy.fail(lambda method, path: method == "GET" and path.endswith(victim), 404, times=None)
    examples = _run(tmp_path / "b", _props(clean_bucket, s3_endpoint=proxy.endpoint))
    report = _report(examples)
    assert [row["key"] for row in report["skipped"]] == [victim]
    assert report["unfetched_count"] == 0
    del client


def _mp3(seconds: float, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.5 * np.sin(2 * np.pi * 440 * t * (1 + t))).astype(np.float32), rate, format="MP3")
    return buffer.getvalue()


def _wav_claiming(rate_in_header: int, seconds: float = 7.0) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(seconds * 16000)) / 16000
    soundfile.write(buffer, (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000, format="WAV",
                    subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    data[24:32] = struct.pack("<II", rate_in_header, rate_in_header * 2)
    return bytes(data)


def test_hostile_audio_files_are_rejected_with_a_reason(tmp_path, clean_bucket, tiny_corpus):
    client = s3.make_client()
    whole = _mp3(7.0)
    hostile = {
        "clips/English/truncated.mp3": whole[: int(len(whole) * 0.3)],
        "clips/French/slow_header.wav": _wav_claiming(1000),
        "clips/German/page.mp3": b"\n  <html><head><title>Not found</title></head></html>",
        "clips/English/empty.mp3": b"",
        "clips/German/cut.wav": _wav_claiming(16000)[:40000],
        "clips/French/../German/x.mp3": whole,
    }
    for key, body in hostile.items():
        s3.put_bytes(client, clean_bucket, key, body)
    listed = {o.key for o in s3.list_objects(client, clean_bucket, "clips/")}
    assert "clips/French/../German/x.mp3" in listed  # the store kept the key as written
    examples = _run(tmp_path, _props(clean_bucket, max_skipped_fraction=0.5))
    reasons = {row["key"]: row["reason"] for row in _report(examples)["skipped"]}
    assert set(reasons) == set(hostile)
    assert reasons["clips/English/truncated.mp3"].startswith("truncated: decoded")
    assert reasons["clips/French/slow_header.wav"].startswith("implausible sample rate 1000 Hz")
    assert "HTML" in reasons["clips/German/page.mp3"]
    assert reasons["clips/English/empty.mp3"] == "empty object"
    assert reasons["clips/German/cut.wav"].startswith("truncated: WAV data chunk")
    assert reasons["clips/French/../German/x.mp3"].startswith("key escapes its language folder")
    records = _records(examples, "train") + _records(examples, "eval")
    assert {r["key"] for r in records} == _all_keys(tiny_corpus)


def test_too_many_bad_clips_fail_the_run_naming_the_report(tmp_path, clean_bucket):
    client = s3.make_client()
    for n in range(3):  # 3 bad of 39: 7.7 %
        s3.put_bytes(client, clean_bucket, f"clips/French/bad{n}.mp3", b"<html>gone</html>")
    with pytest.raises(IngestionFailed, match=r"3 of 39 clips \(7.7%\) are bad.*report: .*\.json") as failure:
        _run(tmp_path / "a", _props(clean_bucket, max_skipped_fraction=0.05))
    with open(str(failure.value).rsplit("report: ", 1)[1]) as f:
        assert json.load(f)["skipped_count"] == 3
    report = _report(_run(tmp_path / "b", _props(clean_bucket, max_skipped_fraction=0.1)))
    assert report["skipped_count"] == 3


def test_malformed_manifest_rows_are_reported_and_resolved(tmp_path, clean_bucket, tiny_corpus):
    good = {"clips/" + row["key"]: row["speaker_id"] for row in tiny_corpus[1]}
    keys = sorted(good)
    # en-s1 is also claimed by a German clip: one speaker, two languages.
    german = next(k for k in keys if k.startswith("clips/German/"))
    lines = [b"\xef\xbb\xbf" + json.dumps({"key": keys[0], "speaker_id": good[keys[0]]}).encode(),  # BOM
             b"{not json", b"[1, 2]", json.dumps({"speaker_id": "x"}).encode(), b"\xff\xfe bad bytes",
             json.dumps({"key": keys[1], "speaker_id": ["a", "b"]}).encode(),
             json.dumps({"key": keys[2], "speaker_id": True}).encode(),
             json.dumps({"key": german, "speaker_id": "en-s1"}).encode()]
    lines += [json.dumps({"key": k, "speaker_id": good[k]}).encode() for k in keys[3:] if k != german]
    lines.append(json.dumps({"key": keys[3], "speaker_id": "someone-else"}).encode())  # duplicate key
    s3.put_bytes(s3.make_client(), clean_bucket, "clips/manifest.jsonl", b"\n".join(lines) + b"\n")

    examples = _run(tmp_path, _props(clean_bucket))
    manifest = _report(examples)["manifest"]
    by_line = {p["line"]: p["reason"] for p in manifest["problems"]}
    assert by_line[2].startswith("invalid JSON") and by_line[3] == "not a JSON object (list)"
    assert by_line[4] == "no string 'key'" and by_line[5].startswith("not UTF-8")
    assert by_line[6].startswith("speaker_id has type list") and by_line[7].startswith("speaker_id has type bool")
    assert by_line[len(lines)].startswith("duplicate key")
    assert 1 not in by_line  # the BOM line is read
    assert manifest["speakers_in_several_languages"] == {"en-s1": ["English", "German"]}

    records = _records(examples, "train") + _records(examples, "eval")
    speaker = {r["key"]: r["speaker"] for r in records}
    assert speaker[keys[0]] == good[keys[0]]
    assert speaker[keys[1]] == keys[1].rsplit("/", 1)[1].split("__")[0]  # wrong type: file-name speaker
    assert speaker[keys[2]] == keys[2].rsplit("/", 1)[1].split("__")[0]
    assert speaker[keys[3]] == good[keys[3]]  # the first row of a duplicated key wins
    assert speaker[german] == "en-s1"
    train = {r["speaker"] for r in _records(examples, "train")}
    held_out = {r["speaker"] for r in _records(examples, "eval")}
    assert train and held_out and not train & held_out


def test_a_failed_ingestion_is_not_cached_and_the_rerun_ingests_everything(tmp_path, clean_bucket, tiny_corpus,
                                                                            proxy):
    """Through TFX's launcher and ML Metadata cache: store down, then back with the same objects."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx import v1 as tfx

    from components.s3_audio_example_gen import S3AudioExampleGen
    from config import LOCAL_DIRECT_ARGS
    from reports.runs import latest_run, run_names

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(tmp_path / "m.sqlite"))

    def run_once():
        gen = S3AudioExampleGen(data=_data(clean_bucket, s3_endpoint=proxy.endpoint, corpus_fingerprint="same-listing",
                                           max_skipped_fraction=0.05, fetch_retry_seconds=1.0), compression="gzip")
        pipeline = tfx.dsl.Pipeline(pipeline_name="faults", pipeline_root=str(tmp_path / "root"), components=[gen],
                                    metadata_connection_config=metadata, enable_cache=True,
                                    beam_pipeline_args=list(LOCAL_DIRECT_ARGS))
        before = run_names(metadata)
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        finally:
            this_run = (run_names(metadata) - before).pop()
        return this_run

    # French goes missing for a while: a partial corpus that must not be trained on, nor cached.
    proxy.fail(lambda method, path: audio_gets(method, path) and "/French/" in path, "reset", times=None)
    with pytest.raises(Exception, match=r"\d+ of 36 objects could not be fetched"):
        run_once()
    proxy.heal()
    second = run_once()
    store = metadata_store.MetadataStore(metadata)
    execution, outputs = latest_run(store, "faults", second)["S3AudioExampleGen"]
    assert execution.last_known_state == metadata_store_pb2.Execution.COMPLETE  # not CACHED from the failure
    with open(os.path.join(outputs["examples"][0].uri, REPORT_NAME)) as f:
        report = json.load(f)
    assert report["skipped_count"] == 0 and report["unfetched_count"] == 0
    ingested = sum(e["clips"] for langs in report["per_split"].values() for e in langs.values())
    assert ingested == len(tiny_corpus[1]) == 36
    third = run_once()
    cached, _ = latest_run(store, "faults", third)["S3AudioExampleGen"]
    assert cached.last_known_state == metadata_store_pb2.Execution.CACHED  # a sound ingestion is reused
