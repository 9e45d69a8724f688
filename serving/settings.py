"""The serving clients' settings: one typed, validated value that the CLI builds from these
defaults plus its flags, and tests build directly.

Window length, hop, sample rate and language names are not here: they come from the model
itself (its signatures' outputs), so a client needs no configuration to match a model.
Constants both clients (REST and gRPC) share live here too, so neither imports the other.
"""
from __future__ import annotations

import dataclasses
import math

MODEL_NAME = "langid"            # the served model's name (TF Serving's MODEL_NAME)
REMOTE_SIGNATURE = "predict_wav"  # what the REST and gRPC clients call
PROBE_SAMPLE_RATE = 16000        # rate of the 0.1 s of silence that asks a model for its geometry

# Declared sample rates outside this range are refused before decoding (a WAV claiming 1 Hz
# would otherwise "decode" to days of audio).
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000

DEFAULT_MAX_FILE_MB = 200.0       # bigger files are refused before they are read
DEFAULT_MAX_SECONDS = 4 * 3600.0  # decoded audio longer than this is refused (memory stays bounded anyway)
DEFAULT_MIN_WINDOW_FRACTION = 0.5  # clips shorter than this much of a window are refused (as in ingestion)
DEFAULT_WINDOWS_PER_CALL = 32     # long recordings go to the model in chunks of this many windows
DEFAULT_TIMEOUT_S = 30.0          # per request to TF Serving
DEFAULT_RETRIES = 3               # further attempts after a retryable failure (UNAVAILABLE, 503, timeout)
DEFAULT_BACKOFF_S = 0.5           # first retry delay, doubled each time, with jitter
DEFAULT_MIN_SEGMENT_S = 1.5       # --segments: shorter language runs are merged into a neighbour
DEFAULT_SMOOTHING_WINDOWS = 3     # --segments: median filter over this many window posteriors (odd)


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    """Everything `python -m serving` needs besides the model; invalid values raise ValueError."""

    max_file_mb: float = DEFAULT_MAX_FILE_MB
    max_seconds: float = DEFAULT_MAX_SECONDS
    min_window_fraction: float = DEFAULT_MIN_WINDOW_FRACTION
    min_seconds: float | None = None  # None: min_window_fraction of the model's window
    windows_per_call: int = DEFAULT_WINDOWS_PER_CALL
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    backoff_s: float = DEFAULT_BACKOFF_S
    min_segment_s: float = DEFAULT_MIN_SEGMENT_S
    smoothing_windows: int = DEFAULT_SMOOTHING_WINDOWS

    def __post_init__(self):
        _positive("max_file_mb", self.max_file_mb)
        _positive("max_seconds", self.max_seconds)
        if not 0.0 < self.min_window_fraction <= 1.0:
            raise ValueError(f"min_window_fraction must be in (0, 1], not {self.min_window_fraction!r}")
        if self.min_seconds is not None:
            _positive("min_seconds", self.min_seconds, allow_zero=True)
        if not _is_int(self.windows_per_call) or self.windows_per_call < 1:
            raise ValueError(f"windows_per_call must be an integer >= 1, not {self.windows_per_call!r}")
        _positive("timeout_s", self.timeout_s)
        if not _is_int(self.retries) or self.retries < 0:
            raise ValueError(f"retries must be an integer >= 0, not {self.retries!r}")
        _positive("backoff_s", self.backoff_s, allow_zero=True)
        _positive("min_segment_s", self.min_segment_s, allow_zero=True)
        if not _is_int(self.smoothing_windows) or self.smoothing_windows < 1 or self.smoothing_windows % 2 == 0:
            raise ValueError(f"smoothing_windows must be an odd integer >= 1, not {self.smoothing_windows!r}")

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    def min_seconds_for(self, window_seconds: float) -> float:
        return self.min_seconds if self.min_seconds is not None else self.min_window_fraction * window_seconds


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(name: str, value, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, not {value!r}")
