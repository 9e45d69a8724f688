"""A real S3 HTTP endpoint on 127.0.0.1 (moto's server), for the demo and the tests."""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
from typing import Iterator

import boto3


def _ensure_throwaway_credentials() -> None:
    """Give this process a random key pair when the standard chain has none.

    moto's server checks that requests are signed but accepts any key, and it refuses
    anonymous reads. A random pair made per run, never written anywhere, lets boto3 sign
    without anyone hard-coding placeholder keys; real credentials, if present, are left alone.
    """
    if boto3.session.Session().get_credentials() is None:
        os.environ["AWS_ACCESS_KEY_ID"] = "EMBEDDED" + secrets.token_hex(6).upper()
        os.environ["AWS_SECRET_ACCESS_KEY"] = secrets.token_urlsafe(30)


@contextlib.contextmanager
def embedded_s3() -> Iterator[str]:
    """Start moto's threaded S3 server on a free loopback port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _ensure_throwaway_credentials()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
