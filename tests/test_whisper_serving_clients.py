"""A model on the `whisper` representation behind TF Serving's two wire protocols
(tests/helpers/tf_serving_servers.py, REST and gRPC on 127.0.0.1): the project's clients and
plain protocol calls get Whisper's outputs and the same answers as the model in-process. The
model is the pushed SavedModel of conftest's `whisper_pipeline_run` (one run for both files)."""
from __future__ import annotations

import gc
import os

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from models.whisper.languages import CODES
from serving.retry import CallPolicy
from serving.windows import WHISPER_POOLED, WHISPER_WINDOWS, analyse_stream, probe_geometry
from tests.helpers.pipeline_runs import PIPELINE_LANGUAGES as LANGUAGES
from tests.helpers.serving_helpers import RATE, clip, run_cli, write
from tests.helpers.tf_serving_servers import ServedModel, grpc_server, rest_server

NAME = "langid_whisper"
WHISPER_OUTPUTS = {WHISPER_POOLED, WHISPER_WINDOWS, "whisper_languages"}


@pytest.fixture(scope="module")
def served(whisper_pipeline_run):
    pushed = whisper_pipeline_run[0]["pushed_to"]
    yield ServedModel(NAME, pushed, int(os.path.basename(pushed)))
    gc.collect()          # each loaded copy of the model holds Whisper's weights


class InProcess:
    """serving/local_model.py's call on the model the servers already loaded (one copy of Whisper's
    weights in this process, not two)."""

    def __init__(self, model):
        self.model = model

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        out = self.model.signatures["predict_waveform"](waveform=tf.constant(np.asarray(waveform, np.float32)[None]))
        return {k: v.numpy()[0] for k, v in out.items()}


def _client(protocol: str, address: str):
    policy = CallPolicy(timeout_s=120.0, retries=0, backoff_s=0.01)
    if protocol == "rest":
        from serving.rest_client import RestModel
        return RestModel(address, NAME, None, policy)
    from serving.grpc_client import GrpcModel
    return GrpcModel(address, NAME, None, policy)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_clients_get_whispers_languages_and_the_in_process_answer(protocol, served):
    """Two languages in one 6 s recording, sent in chunks of 3 windows (3 calls)."""
    recording = np.concatenate([clip("French", 3.0, seed=3), clip("German", 3.0, seed=4)])
    server = rest_server if protocol == "rest" else grpc_server
    with server(served) as address:
        remote = _client(protocol, address)
        remote.check_signature()
        geometry = probe_geometry(remote, RATE)
        got = analyse_stream(remote, [recording], geometry, windows_per_call=3)
    local = InProcess(served.model)
    here = analyse_stream(local, [recording], probe_geometry(local, RATE), windows_per_call=3)
    assert geometry.languages == tuple(LANGUAGES)
    whisper = np.asarray(got[WHISPER_POOLED])
    assert whisper.shape == (len(CODES),) and whisper.sum() == pytest.approx(1.0, abs=1e-4)
    # only the 16-bit WAV encoding on the way to the server differs
    np.testing.assert_allclose(whisper, here[WHISPER_POOLED], atol=1e-2)
    assert got["language"] == here["language"]
    np.testing.assert_allclose(list(got["probabilities"].values()), list(here["probabilities"].values()), atol=5e-3)
    timeline = [w["language"] for w in got["timeline"]]
    assert timeline == [w["language"] for w in here["timeline"]] and len(timeline) == 7
    assert timeline[0] == "French" and timeline[-1] == "German"


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_serving_client_command_answers_from_the_whisper_model(protocol, served, tmp_path, capsys):
    path = write(tmp_path / "fr.wav", clip("French", 2.6, rate=22050, seed=5), 22050)
    server = rest_server if protocol == "rest" else grpc_server
    with server(served) as address:
        status, records, errors = run_cli(capsys, ["client", f"--{protocol}", address, "--model", NAME, path])
    assert status == 0 and errors == [], errors
    assert records[0]["language"] == "French" and list(records[0]["probabilities"]) == LANGUAGES
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_metadata_over_both_protocols_lists_whispers_outputs(served):
    with rest_server(served) as url:
        metadata = requests.get(f"{url}/v1/models/{NAME}/metadata", timeout=60).json()
    rest_defs = metadata["metadata"]["signature_def"]["signature_def"]
    with grpc_server(served) as target, grpc.insecure_channel(target) as channel:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = NAME
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(request, timeout=60)
    grpc_defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(grpc_defs)
    for signature in ("predict_waveform", "predict_wav", "embed"):
        assert WHISPER_OUTPUTS <= set(rest_defs[signature]["outputs"]), signature
        assert WHISPER_OUTPUTS <= set(grpc_defs.signature_def[signature].outputs), signature


def test_rest_row_format_and_grpc_predict_return_whispers_distribution_per_clip(served):
    clips = [clip("English", 1.5, seed=6), clip("German", 1.5, seed=7)]
    with rest_server(served) as url:
        response = requests.post(f"{url}/v1/models/{NAME}/versions/{served.version}:predict",
                                 json={"signature_name": "predict_waveform",
                                       "instances": [c.tolist() for c in clips]}, timeout=120)
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [row["language"] for row in rows] == ["English", "German"]
    for row in rows:
        assert row["whisper_languages"] == list(CODES)
        assert len(row[WHISPER_POOLED]) == len(CODES) and sum(row[WHISPER_POOLED]) == pytest.approx(1.0, abs=1e-4)

    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = NAME, "predict_waveform"
    request.inputs["waveform"].CopyFrom(tf.make_tensor_proto(np.stack(clips)))
    with grpc_server(served) as target, grpc.insecure_channel(target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=120)
    whisper = tf.make_ndarray(response.outputs[WHISPER_POOLED])
    assert whisper.shape == (2, len(CODES))
    np.testing.assert_allclose(whisper, [row[WHISPER_POOLED] for row in rows], atol=1e-5)
    assert [x.decode() for x in tf.make_ndarray(response.outputs["language"])] == ["English", "German"]
