"""TF Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest): predict_wav with
the audio as {"b64": ...} in the columnar "inputs" format, one file chunk per request."""
from __future__ import annotations

import base64

import numpy as np
import requests

from serving.audio_input import wav_bytes
from serving.retry import CallPolicy, RetryableError, ServingError, call_with_retries
from serving.settings import REMOTE_SIGNATURE as SIGNATURE

_RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class RestModel:
    def __init__(self, url: str, model: str, version: int | None, policy: CallPolicy):
        self.base = f"{url.rstrip('/')}/v1/models/{model}" + (f"/versions/{version}" if version else "")
        self.policy = policy
        self._session = requests.Session()

    def _request(self, method: str, url: str, body: dict | None = None) -> dict:
        def call():
            try:
                response = self._session.request(method, url, json=body, timeout=self.policy.timeout_s)
            except requests.Timeout as err:
                raise RetryableError(f"REST timeout after {self.policy.timeout_s:g} s ({url})") from err
            except requests.ConnectionError as err:
                raise RetryableError(f"REST connection failed ({url})") from err
            if response.status_code != 200:
                message = f"REST {response.status_code} from {url}: {_error_text(response)}"
                raise (RetryableError if response.status_code in _RETRYABLE_STATUS else ServingError)(message)
            return response.json()

        return call_with_retries(call, retries=self.policy.retries, backoff_s=self.policy.backoff_s)

    def check_signature(self) -> None:
        """Fail early, with the signatures the server has, if it lacks predict_wav."""
        metadata = self._request("GET", f"{self.base}/metadata")
        signatures = metadata.get("metadata", {}).get("signature_def", {}).get("signature_def", {})
        if SIGNATURE not in signatures:
            raise ServingError(f"model at {self.base} has no '{SIGNATURE}' signature "
                               f"(it has: {', '.join(sorted(signatures)) or 'none'})")

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict:
        if embeddings:
            raise ServingError("embeddings are computed in-process (python -m serving embed)")
        audio = base64.b64encode(wav_bytes(waveform, sample_rate)).decode("ascii")
        body = {"signature_name": SIGNATURE, "inputs": {"audio": [{"b64": audio}]}}
        outputs = self._request("POST", f"{self.base}:predict", body)["outputs"]
        return {k: np.asarray(v)[0] if isinstance(v, list) else np.asarray(v) for k, v in outputs.items()}


def _error_text(response) -> str:
    try:
        return str(response.json().get("error", response.text))[:200]
    except ValueError:
        return response.text.strip()[:200] or response.reason
