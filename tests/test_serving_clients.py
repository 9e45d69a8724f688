"""`python -m serving client` against TF Serving's wire formats (tests/helpers/tf_serving_servers.py),
gRPC and REST on 127.0.0.1, backed by the pushed SavedModel of the tiny pipeline run."""
from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest
import requests

from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import RATE, clip, run_cli, wav_bytes, write
from tests.helpers.tf_serving_servers import ServedModel, grpc_server, rest_server

NAME = "langid"


@pytest.fixture(scope="module")
def served_model(pipeline_run):
    pushed = pipeline_run[0]["pushed_to"]
    return ServedModel(NAME, pushed, int(os.path.basename(pushed)))


@pytest.fixture
def served(served_model):
    served_model.reset()
    yield served_model
    served_model.reset()


@pytest.fixture(params=["rest", "grpc"])
def endpoint(request, served):
    """("--rest", URL) or ("--grpc", HOST:PORT) of a server for `served`."""
    server = rest_server if request.param == "rest" else grpc_server
    with server(served) as address:
        yield f"--{request.param}", address


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client_files")
    return [write(folder / "fr.mp3", clip("French", 2.6, rate=44100), 44100),
            write(folder / "two.flac", np.concatenate([clip("English", 4.0, seed=8), clip("German", 4.0, seed=9)]),
                  RATE),
            write(folder / "de.wav", np.stack([clip("German", 1.7, rate=22050)] * 2, axis=1), 22050)]


def test_client_agrees_with_the_in_process_model(endpoint, served, files, pipeline_run, capsys):
    common = ["--timeline", "--windows-per-call", "4", *files]
    status, remote, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, *common])
    assert status == 0 and errors == [], errors
    _, local, _ = run_cli(capsys, ["predict", "--model-dir", pipeline_run[0]["pushed_to"], *common])
    assert [remote[0]["language"], remote[2]["language"]] == ["French", "German"]
    for r, here in zip(remote, local):
        assert r["file"] == here["file"] and r["language"] == here["language"]
        assert list(r["probabilities"]) == LANGUAGES
        # only the 16-bit WAV encoding on the way to TF Serving differs
        np.testing.assert_allclose(list(r["probabilities"].values()), list(here["probabilities"].values()), atol=5e-3)
        assert [w["start_s"] for w in r["timeline"]] == [w["start_s"] for w in here["timeline"]]
        assert [w["language"] for w in r["timeline"]] == [w["language"] for w in here["timeline"]]
    assert {"English", "German"} <= {w["language"] for w in remote[1]["timeline"]}
    # metadata check + geometry probe + French (1 chunk) + 8 s recording (11 windows: 3 chunks) + German (1)
    assert served.calls == 2 + 1 + 3 + 1


def test_client_retries_unavailable_servers(endpoint, served, files, capsys):
    served.reset(fail_first=2)
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--retries", "2",
                                               "--backoff", "0.01", files[0]])
    assert status == 0 and errors == [] and records[0]["language"] == "French"
    assert served.calls == 2 + 3      # two refusals, then metadata, probe, one prediction


def test_client_gives_up_after_its_retries_with_a_clear_error(endpoint, served, files, capsys):
    served.reset(fail_first=100)
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--retries", "1",
                                               "--backoff", "0.01", files[0]])
    assert status == 2 and records == []
    assert "gave up after 2 attempts" in errors[0]
    assert ("UNAVAILABLE" if endpoint[0] == "--grpc" else "503") in errors[0]
    assert served.calls == 2


def test_client_times_out_a_slow_call_and_retries_it(endpoint, served, files, capsys):
    # The slow call is held until the client has finished, so it can only end by the client's
    # timeout; the timeout leaves the other calls (tens of ms each) a wide margin on a loaded machine.
    served.reset(slow_first=1, delay_s=None)
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--timeout", "5",
                                               "--retries", "1", "--backoff", "0.01", files[0]])
    served.release()
    assert status == 0 and records[0]["language"] == "French"
    assert served.calls == 1 + 3
    served.reset(slow_first=100, delay_s=None)
    status, _, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--timeout", "1",
                                         "--retries", "0", files[0]])
    served.release()
    assert status == 2
    assert ("DEADLINE_EXCEEDED" if endpoint[0] == "--grpc" else "timeout") in errors[0]


def test_client_names_the_missing_signature_of_an_old_model(endpoint, served, files, capsys):
    saved = type(served.signature_defs)()
    saved.CopyFrom(served.signature_defs)
    del served.signature_defs.signature_def["predict_wav"]
    try:
        status, _, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, files[0]])
    finally:
        served.signature_defs.CopyFrom(saved)
    assert status == 2 and "no 'predict_wav' signature" in errors[0] and "predict_waveform" in errors[0]


def test_client_reports_a_bad_file_and_goes_on(endpoint, served, files, tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, str(empty), files[2]])
    assert status == 1 and [r["language"] for r in records] == ["German"]
    assert errors == [f"error: {json.dumps(str(empty))}: empty file"]


def test_client_asks_for_the_version_it_is_given(endpoint, served, files, capsys):
    """The servers answer only their own version: the right --version works, another is refused."""
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--version",
                                               str(served.version), files[0]])
    assert status == 0 and errors == [] and records[0]["language"] == "French"
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--version",
                                               str(served.version + 1), "--retries", "0", files[0]])
    assert status == 2 and records == []
    assert ("NOT_FOUND" if endpoint[0] == "--grpc" else "404") in errors[0], errors


def test_client_min_seconds_refuses_shorter_files_and_keeps_longer_ones(endpoint, served, files, capsys):
    german = files[2]                                                    # 1.7 s
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--min-seconds", "2",
                                               german, files[0]])        # French: 2.6 s
    assert status == 1 and [r["language"] for r in records] == ["French"]
    assert errors == [f"error: {json.dumps(german)}: too short (1.70 s < 2.00 s minimum)"]
    status, records, errors = run_cli(capsys, ["client", *endpoint, "--model", NAME, "--min-seconds", "1.5", german])
    assert status == 0 and errors == [] and records[0]["language"] == "German"


def test_rest_row_format_and_status_work_with_every_signature(served):
    """What TF Serving's REST API requires of the model: every output batch-major (row format)."""
    with rest_server(served) as url:
        status = requests.get(f"{url}/v1/models/{NAME}", timeout=30).json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
        base = f"{url}/v1/models/{NAME}/versions/{served.version}:predict"
        clips = [clip("English", 1.5), clip("French", 1.5)]
        response = requests.post(base, json={"signature_name": "predict_waveform",
                                             "instances": [c.tolist() for c in clips]}, timeout=60)
        assert response.status_code == 200, response.text
        rows = response.json()["predictions"]
        assert [row["language"] for row in rows] == ["English", "French"]
        assert rows[0]["languages"] == LANGUAGES
        wavs = [{"audio": {"b64": base64.b64encode(wav_bytes(c, RATE)).decode()}} for c in clips]
        rows = requests.post(base, json={"signature_name": "predict_wav", "instances": wavs}, timeout=60).json()
        assert [row["language"] for row in rows["predictions"]] == ["English", "French"]
        rows = requests.post(base, json={"signature_name": "embed", "instances": [c.tolist() for c in clips]},
                             timeout=60).json()["predictions"]
        assert len(rows[0]["embedding"]) > 8
        bad = requests.post(base, json={"signature_name": "predict_wav", "instances": [{"audio": {"b64": "AAAA"}}]},
                            timeout=60)
        assert bad.status_code == 400 and "error" in bad.json()
