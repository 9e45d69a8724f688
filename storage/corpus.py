"""Upload a local corpus folder ({Language}/{file} + manifest.jsonl) to S3.

Uses the same primitives as the scraper (storage.s3.put_bytes with Content-MD5, one atomic
manifest PUT), so the demo bucket looks exactly like a scraped one.
"""
from __future__ import annotations

import hashlib
import json
import os

from tqdm import tqdm

from storage import s3


def read_local_manifest(corpus_dir: str) -> list[dict]:
    path = os.path.join(corpus_dir, s3.MANIFEST_NAME)
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return s3.decode_manifest(f.read())


def upload_corpus(client, bucket: str, corpus_dir: str, prefix: str = "", languages=None) -> dict:
    """Upload every manifest row's file under `prefix`; skip objects already there with the same size.

    Returns counts: uploaded, present. The manifest in the bucket gets the rows with `key`
    prefixed, plus `size` and `md5`.
    """
    rows = read_local_manifest(corpus_dir)
    if not rows:
        raise FileNotFoundError(f"no {s3.MANIFEST_NAME} with rows in {corpus_dir}")
    if languages is not None:
        rows = [r for r in rows if r.get("language") in set(languages)]
    s3.ensure_bucket(client, bucket)
    counts = {"uploaded": 0, "present": 0}
    out_rows = []
    for row in tqdm(rows, desc=f"upload to s3://{bucket}/{prefix}", unit="clip", leave=False):
        with open(os.path.join(corpus_dir, row["key"]), "rb") as f:
            body = f.read()
        key = prefix + row["key"]
        if s3.object_size(client, bucket, key) == len(body):
            counts["present"] += 1
            md5 = hashlib.md5(body).hexdigest()
        else:
            md5 = s3.put_bytes(client, bucket, key, body, "audio/mpeg")
            counts["uploaded"] += 1
        out_rows.append({**row, "key": key, "size": len(body), "md5": md5})
    s3.write_manifest(client, bucket, out_rows, prefix)
    return counts


def corpus_fingerprint(client, bucket: str, prefix: str = "") -> str:
    """A digest of the listing (key, size, ETag) under prefix: changes when any clip changes."""
    digest = hashlib.sha256()
    for obj in sorted(s3.list_objects(client, bucket, prefix), key=lambda o: o.key):
        digest.update(json.dumps([obj.key, obj.size, obj.etag]).encode())
    return digest.hexdigest()[:16]
