"""Hardware CRC32C for Beam's TFRecord reader and writer (importing this module installs it).

Every TFRecord carries two masked CRC32C checksums. apache-beam 2.59 computes them with
python-snappy if importable, else with crcmod. crcmod 1.7 is an sdist: built with a compiler
it has a table-driven C extension (0.52 ms per 235 KB record on this machine), built without
one (python:3.11-slim, the Docker image's base, has no gcc) it silently falls back to pure
Python. google-crc32c (pinned, manylinux wheels with its C extension) uses the CPU's CRC
instruction: 0.009 ms per record, identical checksums (tests/test_tfrecord_crc.py).

The executors that write or read TFRecords import this module; Beam imports it in every SDK
worker process via `--beam_plugin=storage.tfrecord_crc` (pipeline.pipeline.beam_pipeline_args).
"""
from __future__ import annotations

import google_crc32c
from apache_beam.io import tfrecordio


def install() -> None:
    """Make Beam's TFRecord coder use google-crc32c's hardware CRC32C (idempotent)."""
    if google_crc32c.implementation == "c":  # its pure-Python fallback would be slower than crcmod
        tfrecordio._default_crc32c_fn.fn = google_crc32c.value


install()
