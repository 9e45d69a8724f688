"""s3:// paths for TensorFlow (tensorflow-io's S3 filesystem), on the same endpoint as boto3.

TFX writes artifacts through tf.io.gfile, which has no S3 support in TF 2.16 until
tensorflow-io registers its filesystem on import. That filesystem reads its own settings
(S3_ENDPOINT, S3_USE_HTTPS, S3_VERIFY_SSL, AWS_REGION) rather than boto3's AWS_ENDPOINT_URL,
so this module derives them from the one endpoint the project uses everywhere: Beam's S3
filesystem and our own client (boto3) read AWS_ENDPOINT_URL, tensorflow-io reads S3_*.
Credentials are left to the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the
pod's role); nothing here reads or prints them.

tensorflow-io's S3 client aborts the interpreter at exit ("pure virtual method called",
SIGABRT) after the work is done, so a process that used it ends with exit_now(status).
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn
from urllib.parse import urlparse

from storage.s3 import ENDPOINT_ENV, resolve_endpoint


def is_s3(path: str | None) -> bool:
    return bool(path) and str(path).startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3://BUCKET/... URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def tensorflow_io_settings(endpoint: str | None) -> dict[str, str]:
    """tensorflow-io's S3 settings for an endpoint URL (None: AWS itself, region only)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    settings = {"AWS_REGION": region}
    if endpoint:
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
        secure = parsed.scheme == "https"
        settings.update(S3_ENDPOINT=endpoint, S3_USE_HTTPS="1" if secure else "0",
                        S3_VERIFY_SSL="1" if secure else "0")
    return settings


def enable_s3_filesystem(endpoint: str | None = None) -> None:
    """Point boto3, Beam and tensorflow-io at one endpoint and register s3:// for tf.io.gfile.

    `endpoint` None means AWS_ENDPOINT_URL if set, else AWS itself. Must run before the
    first s3:// access of the process; Beam's worker processes inherit the environment.
    """
    endpoint = resolve_endpoint(endpoint)
    if endpoint:
        os.environ[ENDPOINT_ENV] = endpoint
    os.environ.update(tensorflow_io_settings(endpoint))
    import tensorflow_io  # noqa: F401  (registers the s3 filesystem with TensorFlow)


def exit_now(status: int) -> None:
    """Flush and leave without running C++ static destructors (tensorflow-io's S3 client aborts)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not change the exit status
            pass
    os._exit(status)


def run_then_exit(fn: Callable[[], int | None]) -> NoReturn:
    """Run fn() as a program's main, then exit_now with the status Python would have given it."""
    try:
        result = fn()
        status = result if isinstance(result, int) else 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            status = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            status = 1
    except BaseException:  # noqa: BLE001 - report it and fail, as an uncaught exception would
        traceback.print_exc()
        status = 1
    exit_now(status)


def exit_now_at_interpreter_exit() -> None:
    """exit_now for a process whose main is not ours (a Beam SDK worker): at interpreter exit
    leave with Python's own status (1 after an uncaught exception, else 0) before the abort."""
    failed = []
    previous_hook = sys.excepthook

    def record_failure(*info):
        failed.append(True)
        previous_hook(*info)

    sys.excepthook = record_failure
    atexit.register(lambda: exit_now(1 if failed else 0))
