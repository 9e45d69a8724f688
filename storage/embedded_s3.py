"""A real S3 HTTP endpoint on 127.0.0.1 (moto's server), for the demo and the tests."""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

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


def _start_server():
    """moto's threaded S3 server on a free loopback port, started (one definition for both modes)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


@contextlib.contextmanager
def embedded_s3(in_process: bool = True) -> Iterator[str]:
    """Start moto's threaded S3 server on a free loopback port; yield its endpoint URL.

    in_process=False serves from a child process instead. Needed when this process reaches
    S3 from C++ that holds the GIL (tensorflow-io's filesystem under tf.saved_model.save):
    a server in the same interpreter would wait for that GIL forever.
    """
    _ensure_throwaway_credentials()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if not in_process:
        child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            port = child.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError(f"embedded S3 server did not start (exit status {child.poll()})")
            yield f"http://127.0.0.1:{port}"
        finally:
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        return
    server = _start_server()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


if __name__ == "__main__":
    # The out-of-process server: print the port, serve until stdin closes (the parent exits
    # or dies), so it never outlives the run.
    child_server = _start_server()
    print(child_server.get_host_and_port()[1], flush=True)
    sys.stdin.read()
    child_server.stop()
