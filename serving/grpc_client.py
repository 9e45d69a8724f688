"""TF Serving's gRPC PredictionService (tensorflow-serving-api protos): predict_wav with the
file chunk as a DT_STRING tensor, one chunk per request, a deadline on every call."""
from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from serving.audio_input import wav_bytes
from serving.retry import CallPolicy, RetryableError, ServingError, call_with_retries
from serving.settings import REMOTE_SIGNATURE as SIGNATURE

_RETRYABLE_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
# Long recordings are sent in chunks, but a chunk of 32 windows still exceeds gRPC's 4 MiB default.
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class GrpcModel:
    def __init__(self, target: str, model: str, version: int | None, policy: CallPolicy):
        self.target, self.model, self.version = target, model, version
        self.policy = policy
        self._channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _spec(self, spec) -> None:
        spec.name = self.model
        if self.version:
            spec.version.value = self.version

    def _call(self, method, request):
        def call():
            try:
                return method(request, timeout=self.policy.timeout_s)
            except grpc.RpcError as err:
                message = f"gRPC {err.code().name} from {self.target}: {err.details()}"
                raise (RetryableError if err.code() in _RETRYABLE_CODES else ServingError)(message) from err

        return call_with_retries(call, retries=self.policy.retries, backoff_s=self.policy.backoff_s)

    def check_signature(self) -> None:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        response = self._call(self._stub.GetModelMetadata, request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        if SIGNATURE not in signatures.signature_def:
            raise ServingError(f"model {self.model} at {self.target} has no '{SIGNATURE}' signature "
                               f"(it has: {', '.join(sorted(signatures.signature_def)) or 'none'})")

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        if embeddings:
            raise ServingError("embeddings are computed in-process (python -m serving embed)")
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec)
        request.model_spec.signature_name = SIGNATURE
        request.inputs["audio"].CopyFrom(
            tf.make_tensor_proto([wav_bytes(waveform, sample_rate)], dtype=tf.string))
        response = self._call(self._stub.Predict, request)
        return {k: tf.make_ndarray(v)[0] for k, v in response.outputs.items()}

    def close(self) -> None:
        self._channel.close()
