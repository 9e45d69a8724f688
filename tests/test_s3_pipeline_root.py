"""The whole pipeline with an s3:// pipeline root and push destination on the embedded endpoint.

local_runner runs in a subprocess (as users run it): tensorflow-io's S3 client aborts at
interpreter exit, so the exit status itself is under test. Afterwards every artifact must be an
object in the bucket, nothing may land in the local output directory but ML Metadata and
reports, and the pushed model must load from the bucket.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from storage import s3
from storage.corpus import upload_corpus

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANGUAGES = ["English", "French", "German"]
CLIPS, ARTIFACTS = "langid-s3root-clips", "langid-s3root-artifacts"


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO, env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def s3_run(s3_endpoint, tiny_corpus, tmp_path_factory):
    client = s3.make_client(s3_endpoint)
    for bucket in (CLIPS, ARTIFACTS):
        s3.ensure_bucket(client, bucket)
    upload_corpus(client, CLIPS, tiny_corpus[0], "", languages=LANGUAGES)
    out = tmp_path_factory.mktemp("s3root")
    argv = [sys.executable, os.path.join(REPO, "local_runner.py"), "--s3-endpoint", s3_endpoint, "--bucket", CLIPS,
            "--languages", ",".join(LANGUAGES), "--output-dir", str(out / "local"),
            "--pipeline-root", f"s3://{ARTIFACTS}/tfx", "--serving-dir", f"s3://{ARTIFACTS}/serving",
            "--train-steps", "40", "--epochs", "1", "--eval-steps", "1", "--augment-copies", "1",
            "--segment-seconds", "1.5", "--eval-fraction", "0.25", "--accuracy-bound", "0.0", "--quiet",
            "--representations", "log_mel,mfcc"]
    done = subprocess.run(argv, env=subprocess_env(), capture_output=True, text=True, timeout=900)
    keys = [obj.key for obj in s3.list_objects(client, ARTIFACTS)]
    return done, keys, out, client


def test_runner_exits_zero_after_using_s3(s3_run):
    done, _, _, _ = s3_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pure virtual method called" not in done.stderr


def test_every_artifact_is_an_object_in_the_bucket(s3_run):
    _, keys, out, _ = s3_run

    def under(component, output, suffix):
        return [k for k in keys if k.startswith(f"tfx/{component}/{output}/") and k.endswith(suffix)]

    for split in ("train", "eval"):
        assert [k for k in under("S3AudioExampleGen", "examples", "") if f"/Split-{split}/span-0-data_tfrecord-" in k]
        # --intermediate-compression's default (none) covers Transform's output too: plain files.
        transformed = [k for k in under("Transform", "transformed_examples", "") if f"/Split-{split}/" in k]
        assert transformed and not any(k.endswith(".gz") for k in transformed)
    assert under("S3AudioExampleGen", "examples", "ingestion_report.json")
    assert under("S3AudioExampleGen", "examples", "ingested_objects.jsonl")  # the ledger of incremental ingestion
    assert [k for k in keys if k.startswith("tfx/AudioAugmenter/augmented_examples/") and "/data_tfrecord-" in k]
    assert under("Transform", "transform_graph", "transform_fn/saved_model.pb")
    assert under("Trainer", "model", "Format-Serving/saved_model.pb")
    assert under("Evaluator", "evaluation", "")
    assert under("Evaluator", "blessing", "/BLESSED")
    assert [k for k in keys if k.startswith("serving/") and k.endswith("/saved_model.pb")]
    # Locally only ML Metadata, the reports and the run lock: no artifact fell back to the local disk.
    assert sorted(os.listdir(out / "local")) == [".run.lock", "metadata.sqlite", "reports"]
    summary = json.loads((out / "local" / "reports" / "run_summary.json").read_text())
    assert summary["pushed_to"].startswith(f"s3://{ARTIFACTS}/serving/")
    assert set(summary["ingestion"]["per_split"]["train"]) == set(LANGUAGES)


def test_pushed_model_loads_from_the_bucket(s3_run, s3_endpoint, tmp_path):
    _, keys, _, client = s3_run
    (model_file,) = [k for k in keys if k.startswith("serving/") and k.endswith("/saved_model.pb")]
    prefix = model_file[: -len("saved_model.pb")]
    for key in (k for k in keys if k.startswith(prefix)):  # a plain copy, for comparison
        target = tmp_path / key[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_bytes(client, ARTIFACTS, key))
    done = subprocess.run([sys.executable, "-m", "tests.helpers.s3_model_probe", s3_endpoint, f"s3://{ARTIFACTS}/{prefix}",
                           str(tmp_path)], env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    from_s3 = np.asarray(result["s3"]["probabilities"])
    assert from_s3.shape == (3, len(LANGUAGES))
    np.testing.assert_allclose(from_s3.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(from_s3, result["local"]["probabilities"], atol=1e-6)
    assert set(result["s3"]["language"]) <= set(LANGUAGES)


def test_container_entrypoint_reaches_s3_and_keeps_the_exit_status(s3_endpoint):
    client = s3.make_client(s3_endpoint)
    s3.ensure_bucket(client, ARTIFACTS)
    for code in (0, 3):
        done = subprocess.run(
            [sys.executable, "-m", "operations.container_entrypoint", "--module", "tests.helpers.s3_gfile_probe",
             f"s3://{ARTIFACTS}/probe/{code}.txt", f"exit {code}", str(code)],
            env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == code, done.stderr[-2000:]
        assert s3.get_bytes(client, ARTIFACTS, f"probe/{code}.txt") == f"exit {code}".encode()
