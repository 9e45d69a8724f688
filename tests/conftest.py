"""Shared fixtures: an embedded S3 endpoint and a tiny synthetic corpus."""
from __future__ import annotations

import os

import pytest

from tests.helpers.pipeline_runs import (
    pipeline_argv,
    run_local_pipeline,
    run_local_pipeline_in_subprocess,
    whisper_pipeline_argv,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1; AWS_ENDPOINT_URL points at it for the whole session."""
    from storage.embedded_s3 import embedded_s3

    with embedded_s3() as endpoint:
        previous = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield endpoint
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """3 synthetic 'languages' x 4 speakers x 3 clips of 2.5 s, as MP3 + manifest."""
    from tests.helpers.synthetic_corpus import make_corpus

    root = tmp_path_factory.mktemp("tiny_corpus")
    rows = make_corpus(str(root), speakers_per_language=4, clips_per_speaker=3)
    return str(root), rows


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, tiny_corpus):
    """One real pipeline run on the tiny corpus, shared by the end-to-end and serving tests:
    (run summary, output folder, argv). The pushed SavedModel is at summary["pushed_to"]."""
    out = tmp_path_factory.mktemp("e2e")
    argv = pipeline_argv(tiny_corpus[0], out)
    return run_local_pipeline(argv), out, argv


@pytest.fixture(scope="session")
def whisper_pipeline_run(tmp_path_factory, tiny_corpus):
    """The same tiny run on `--representations whisper`, shared by the Whisper end-to-end and
    serving tests: (run summary, output folder, argv). In a process of its own, so the memory
    its Transform takes (near 10 GB) is given back before the tests load the pushed model."""
    out = tmp_path_factory.mktemp("e2e_whisper")
    argv = whisper_pipeline_argv(tiny_corpus[0], out)
    return run_local_pipeline_in_subprocess(argv), out, argv
