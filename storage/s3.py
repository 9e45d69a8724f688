"""One S3 client factory and the few S3 operations the project needs.

Credentials always come from boto3's standard chain (environment, shared profile, instance or
pod role); nothing here reads, stores or prints them.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import boto3
import botocore
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

ENDPOINT_ENV = "AWS_ENDPOINT_URL"
MANIFEST_NAME = "manifest.jsonl"


def resolve_endpoint(endpoint_url: str | None = None) -> str | None:
    """The explicit endpoint if given, else AWS_ENDPOINT_URL, else None (real AWS)."""
    return endpoint_url or os.environ.get(ENDPOINT_ENV) or None


def make_client(endpoint_url: str | None = None, max_pool_connections: int = 16, max_attempts: int = 5,
                timeout_s: float | None = None):
    """An S3 client on the standard credential chain, with retries for transient faults.

    Callers that run their own backoff (storage.fetch) ask for fewer attempts and shorter
    timeouts, so their budget, not botocore's, decides how long a failing store is awaited.
    """
    endpoint = resolve_endpoint(endpoint_url)
    timeouts = {"connect_timeout": timeout_s, "read_timeout": timeout_s} if timeout_s else {}
    config = botocore.config.Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if endpoint else {},
        **timeouts,
    )
    return _session().client("s3", endpoint_url=endpoint, config=config)


# botocore reads its JSON service models (endpoints, S3's API) anew for every Session: about
# 0.2 s a client, paid by every Beam DoFn's setup. One loader per process keeps what it read;
# each client still gets a fresh Session, so credentials come from the standard chain as it is now.
_MODELS = botocore.loaders.create_loader()


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    return boto3.session.Session(botocore_session=core)


def ensure_bucket(client, bucket: str) -> None:
    """Create the bucket unless it exists (and is ours)."""
    try:
        client.head_bucket(Bucket=bucket)
        return
    except botocore.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = client.meta.region_name
    kwargs = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**kwargs)
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def object_size(client, bucket: str, key: str) -> int | None:
    """Size in bytes of an object, or None when it does not exist."""
    try:
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def put_bytes(client, bucket: str, key: str, body: bytes, content_type: str = "application/octet-stream") -> str:
    """Upload with Content-MD5 so S3 rejects a body damaged in transit; returns the hex MD5.

    A single PUT is atomic on S3: the object appears whole or not at all.
    """
    digest = hashlib.md5(body)
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
        ContentType=content_type,
    )
    return digest.hexdigest()


def get_bytes(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


def list_objects(client, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
    """Every object under prefix, across pages."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield ObjectInfo(item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'))


def manifest_key(prefix: str = "") -> str:
    return f"{prefix}{MANIFEST_NAME}"


def encode_manifest(rows: Iterable[dict]) -> bytes:
    """JSON lines, one clip a line, sorted by key so the same rows give the same bytes."""
    ordered = sorted(rows, key=lambda r: r["key"])
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in ordered).encode("utf-8")


def decode_manifest(data: bytes) -> list[dict]:
    rows = []
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or "key" not in row:
            raise ValueError(f"manifest line {n} is not an object with a 'key'")
        rows.append(row)
    return rows


def read_manifest(client, bucket: str, prefix: str = "") -> list[dict]:
    """The manifest rows under prefix, or [] when there is no manifest."""
    try:
        return decode_manifest(get_bytes(client, bucket, manifest_key(prefix)))
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return []
        raise


def write_manifest(client, bucket: str, rows: Iterable[dict], prefix: str = "") -> str:
    """Replace the manifest in one atomic PUT."""
    return put_bytes(client, bucket, manifest_key(prefix), encode_manifest(rows), "application/x-ndjson")
