"""Corpus upload (idempotent, manifest with prefixed keys) and the listing fingerprint."""
from __future__ import annotations

import hashlib
import os
import uuid

from storage import s3
from storage.corpus import corpus_fingerprint, upload_corpus


def test_upload_is_idempotent_and_writes_a_prefixed_manifest(s3_endpoint, tiny_corpus):
    root, rows = tiny_corpus
    bucket = f"up-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    assert upload_corpus(client, bucket, root, prefix="p/") == {"uploaded": len(rows), "present": 0}
    assert upload_corpus(client, bucket, root, prefix="p/") == {"uploaded": 0, "present": len(rows)}

    manifest = {r["key"]: r for r in s3.read_manifest(client, bucket, "p/")}
    assert set(manifest) == {"p/" + r["key"] for r in rows}
    for row in rows:
        with open(os.path.join(root, row["key"]), "rb") as f:
            body = f.read()
        entry = manifest["p/" + row["key"]]
        assert entry["speaker_id"] == row["speaker_id"] and entry["language"] == row["language"]
        assert entry["size"] == len(body) and entry["md5"] == hashlib.md5(body).hexdigest()
        assert s3.get_bytes(client, bucket, "p/" + row["key"]) == body


def test_fingerprint_is_stable_and_changes_with_the_content(s3_endpoint, tiny_corpus):
    bucket = f"fp-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    upload_corpus(client, bucket, tiny_corpus[0])
    first = corpus_fingerprint(client, bucket)
    assert corpus_fingerprint(client, bucket) == first
    s3.put_bytes(client, bucket, "English/new__000.mp3", b"ID3 new clip")
    second = corpus_fingerprint(client, bucket)
    assert second != first
    s3.put_bytes(client, bucket, "English/new__000.mp3", b"ID3 new clip, edited")
    assert corpus_fingerprint(client, bucket) not in (first, second)


def test_fingerprint_sees_an_edit_that_keeps_the_size(s3_endpoint):
    """A re-encoded clip often keeps its length; its ETag (the content's MD5) still changes."""
    bucket = f"fp-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    s3.ensure_bucket(client, bucket)
    s3.put_bytes(client, bucket, "English/a__000.mp3", b"ID3 version one")
    first = corpus_fingerprint(client, bucket)
    s3.put_bytes(client, bucket, "English/a__000.mp3", b"ID3 version two")    # same length
    assert corpus_fingerprint(client, bucket) != first


def test_clients_share_service_models_but_read_credentials_afresh(monkeypatch):
    """botocore's JSON models are read once per process; credentials are not cached with them."""
    from storage import s3 as s3_module

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    first = s3_module.make_client("http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second-key")
    second = s3_module.make_client("http://127.0.0.1:1")
    assert first._request_signer._credentials.access_key == "first-key"
    assert second._request_signer._credentials.access_key == "second-key"
    assert first._loader is second._loader is s3_module._MODELS
