"""TF Serving's two wire protocols on 127.0.0.1, backed by a real SavedModel, for client tests.

- gRPC: tensorflow_serving.apis PredictionService (Predict, GetModelMetadata) from the
  official protos, tensors as TensorProto.
- REST: the documented JSON API (https://www.tensorflow.org/tfx/serving/api_rest):
  POST /v1/models/NAME[/versions/N]:predict with "instances" (row) or "inputs" (columnar),
  "signature_name", bytes as {"b64": ...}; GET /v1/models/NAME (status) and .../metadata.

Both can refuse the first `fail_first` calls (UNAVAILABLE / 503) and answer the first
`slow_first` calls only after `delay_s` (or, with delay_s=None, once released), to test the
clients' retries and timeouts.
"""
from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, predict_pb2, prediction_service_pb2_grpc


class ServedModel:
    """One SavedModel version as TF Serving exposes it, plus failure injection."""

    def __init__(self, name: str, version_dir: str, version: int):
        self.name, self.version = name, version
        self.model = tf.saved_model.load(version_dir)
        with open(f"{version_dir}/saved_model.pb", "rb") as f:
            saved = saved_model_pb2.SavedModel.FromString(f.read())
        self.signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in saved.meta_graphs[0].signature_def.items():
            if not key.startswith("__"):
                self.signature_defs.signature_def[key].CopyFrom(signature)
        self._lock = threading.Lock()
        self.reset()

    def reset(self, fail_first: int = 0, slow_first: int = 0, delay_s: float | None = 0.0) -> None:
        """`delay_s=None` holds the slow calls until `release()`: a client's timeout then fires
        first however loaded the machine is, with no race between its timer and the reply."""
        if getattr(self, "_released", None) is not None:
            self._released.set()                  # free calls still held by the previous setting
        self.fail_first, self.slow_first, self.delay_s = fail_first, slow_first, delay_s
        self._released = threading.Event()
        self.calls = 0

    def release(self) -> None:
        self._released.set()

    def admit(self) -> bool:
        """Count a call; False while it should be refused as unavailable."""
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= self.slow_first:
            if self.delay_s is None:
                self._released.wait(120.0)        # bounded, so a forgotten release cannot hang a run
            else:
                time.sleep(self.delay_s)
        return call > self.fail_first

    def run(self, signature_name: str, inputs: dict) -> dict[str, np.ndarray]:
        if signature_name not in self.signature_defs.signature_def:
            raise KeyError(f"Serving signature name: \"{signature_name}\" not found in signature def")
        function = self.model.signatures[signature_name]
        specs = function.structured_input_signature[1]
        tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
        return {k: v.numpy() for k, v in function(**tensors).items()}


def _first_line(err: Exception) -> str:
    """TF's own message of an op error (like TF Serving's), else the exception's first line."""
    text = err.message if isinstance(err, tf.errors.OpError) else str(err)
    lines = [line for line in text.splitlines() if line.strip() and "Graph execution error" not in line]
    return (lines[0] if lines else type(err).__name__)[:300]


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, served: ServedModel):
        self.served = served

    def _check(self, spec, context) -> None:
        if not self.served.admit():
            context.abort(grpc.StatusCode.UNAVAILABLE, "model is loading")
        if spec.name != self.served.name or (spec.HasField("version") and spec.version.value != self.served.version):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {spec.name}")

    def _spec(self, spec: model_pb2.ModelSpec, signature: str = "") -> model_pb2.ModelSpec:
        out = model_pb2.ModelSpec(name=self.served.name, signature_name=signature)
        out.version.value = self.served.version
        return out

    def Predict(self, request, context):
        self._check(request.model_spec, context)
        signature = request.model_spec.signature_name or "serving_default"
        try:
            outputs = self.served.run(signature, {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
        except (KeyError, tf.errors.InvalidArgumentError, TypeError, ValueError) as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, _first_line(err))
        response = predict_pb2.PredictResponse(model_spec=self._spec(request.model_spec, signature))
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):
        self._check(request.model_spec, context)
        response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=self._spec(request.model_spec))
        response.metadata["signature_def"].Pack(self.served.signature_defs)
        return response


@contextlib.contextmanager
def grpc_server(served: ServedModel):
    """Yield "127.0.0.1:PORT" of a PredictionService for `served`."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_PredictionService(served), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<rest>:predict|/metadata)?$")


def _from_json(value):
    """JSON values with {"b64": ...} objects turned into bytes."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _to_json(value):
    """NumPy output -> JSON; strings as UTF-8 text, as TF Serving sends them."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    array = np.asarray(value)
    if array.dtype == object:
        return [_to_json(v) for v in array] if array.ndim else _to_json(array.item())
    return array.tolist()


class _RestHandler(BaseHTTPRequestHandler):
    served: ServedModel

    def log_message(self, *args):  # quiet test output
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> str | None:
        """The part after the model ("" status, "/metadata", ":predict"); None once refused."""
        match = _PATH.match(self.path)
        served = self.served
        if not match or match["name"] != served.name or (match["version"] and int(match["version"]) != served.version):
            self._reply(404, {"error": f"Servable not found for request: {self.path}"})
            return None
        if not served.admit():
            self._reply(503, {"error": "model is loading"})
            return None
        return match["rest"] or ""

    def do_GET(self):
        rest = self._route()
        served = self.served
        if rest == "/metadata":
            self._reply(200, {"model_spec": {"name": served.name, "signature_name": "", "version": str(served.version)},
                              "metadata": {"signature_def": json_format.MessageToDict(
                                  served.signature_defs, preserving_proto_field_name=True)}})
        elif rest == "":
            self._reply(200, {"model_version_status": [{"version": str(served.version), "state": "AVAILABLE",
                                                        "status": {"error_code": "OK", "error_message": ""}}]})
        elif rest is not None:
            self._reply(404, {"error": "Malformed request: GET " + self.path})

    def do_POST(self):
        rest = self._route()
        if rest is None:
            return
        if rest != ":predict":
            self._reply(404, {"error": "Malformed request: POST " + self.path})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        signature = body.get("signature_name", "serving_default")
        try:
            names = list(self.served.signature_defs.signature_def[signature].inputs)
        except KeyError:
            self._reply(400, {"error": f"Serving signature name: \"{signature}\" not found in signature def"})
            return
        try:
            # Python lists, not NumPy arrays: NumPy's bytes dtype drops trailing NULs of WAV data.
            if "instances" in body:                     # row format
                rows = _from_json(body["instances"])
                if rows and isinstance(rows[0], dict):
                    inputs = {k: [row[k] for row in rows] for k in names}
                else:
                    inputs = {names[0]: rows}
            elif "inputs" in body:                      # columnar format
                columns = _from_json(body["inputs"])
                inputs = columns if isinstance(columns, dict) else {names[0]: columns}
            else:
                raise ValueError("Missing 'inputs' or 'instances' key")
            outputs = self.served.run(signature, inputs)
        except (KeyError, ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
            self._reply(400, {"error": _first_line(err)})
            return
        if "instances" in body:
            batch = {len(v) for v in outputs.values()}
            if len(batch) != 1:   # TF Serving's row format needs one batch size across outputs
                self._reply(400, {"error": "Tensor name: outputs have inconsistent batch size"})
                return
            rows = [{k: _to_json(v[i]) for k, v in outputs.items()} for i in range(len(next(iter(outputs.values()))))]
            self._reply(200, {"predictions": rows})
        else:
            self._reply(200, {"outputs": {k: _to_json(v) for k, v in outputs.items()}})


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that timed out and hung up is expected here; anything else is printed."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def rest_server(served: ServedModel):
    """Yield "http://127.0.0.1:PORT" of TF Serving's REST API for `served`."""
    handler = type("Handler", (_RestHandler,), {"served": served})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
