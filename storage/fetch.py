"""Fetch one object, telling a bad object apart from a store that is failing.

A bad object (gone since the listing, forbidden) is the object's problem: the caller skips
and reports it. A failing store (refused or reset connections, timeouts, 5xx, throttling)
is nobody's data: the fetch is retried with exponential backoff and jitter until a time
budget runs out, then StoreUnavailable tells the caller not to trust a partial corpus.
"""
from __future__ import annotations

import random
import time

import botocore.exceptions

from storage import s3

_RETRYABLE_STATUS = {408, 429}


class BadObject(Exception):
    """The object cannot be read however often we ask (missing, forbidden, ...)."""


class StoreUnavailable(Exception):
    """The store kept failing for longer than the retry budget."""


def is_bad_object(err: Exception) -> bool:
    """A 4xx answer other than timeout/throttling: asking again would get the same answer."""
    if not isinstance(err, botocore.exceptions.ClientError):
        return False
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = err.response.get("Error", {}).get("Code", "")
    if code in ("NoSuchKey", "NotFound", "404", "AccessDenied", "403", "InvalidObjectState"):
        return True
    return 400 <= int(status) < 500 and int(status) not in _RETRYABLE_STATUS


def describe(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err)[:160]}"


def fetch_object(client, bucket: str, key: str, budget_s: float, sleep=time.sleep) -> bytes:
    """The object's bytes; BadObject or StoreUnavailable when they cannot be had."""
    deadline = time.monotonic() + budget_s
    delay, attempts = 0.5, 0
    while True:
        attempts += 1
        try:
            return s3.get_bytes(client, bucket, key)
        except Exception as err:  # noqa: BLE001 - classified right below
            if is_bad_object(err):
                raise BadObject(describe(err)) from err
            if time.monotonic() + delay > deadline:
                raise StoreUnavailable(f"{describe(err)} (after {attempts} attempts in {budget_s:.0f} s)") from err
            sleep(delay * random.uniform(0.5, 1.0))
            delay = min(2 * delay, 8.0)
