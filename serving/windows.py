"""Long recordings: cut into chunks that line up with the model's own windows, then merged.

The model's signatures cut the windows (one source of truth for window length, hop and
padding) and say where each window starts and how much real audio it holds. A recording of
any length goes to the model in chunks of `windows_per_call` windows, each chunk starting on
the global window grid, so the chunked result equals one call on the whole recording while
memory and request size stay bounded. Pooling is the model's: probabilities (and
embeddings) averaged over windows, weighted by real audio.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from serving.retry import ServingError


class Backend(Protocol):
    """A model that analyses one mono waveform: outputs of predict_waveform/predict_wav/embed,
    first row, as NumPy arrays."""

    def analyse(self, waveform: np.ndarray, sample_rate: int, embeddings: bool = False) -> dict: ...


@dataclasses.dataclass(frozen=True)
class Geometry:
    window: int              # samples per window
    hop: int                 # samples between window starts
    sample_rate: int
    languages: tuple[str, ...]

    @property
    def window_seconds(self) -> float:
        return self.window / self.sample_rate


def _text(values) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).tolist())


def probe_geometry(backend: Backend, probe_rate: int) -> Geometry:
    """Ask the model for its sample rate, window, hop and language names (one call on 0.1 s
    of silence)."""
    out = backend.analyse(np.zeros(probe_rate // 10, np.float32), probe_rate)
    if "window_seconds" not in out:
        raise ServingError("the model has no per-window outputs (exported before serving/ existed); "
                           "re-run the pipeline to push a current model")
    sample_rate = int(out.get("sample_rate", probe_rate))
    return Geometry(window=int(round(float(out["window_seconds"]) * sample_rate)),
                    hop=int(round(float(out["hop_seconds"]) * sample_rate)),
                    sample_rate=sample_rate, languages=_text(out["languages"]))


def chunk_bounds(num_samples: int, geometry: Geometry, windows_per_call: int) -> list[tuple[int, int]]:
    """[start, end) sample ranges whose windows, as the model cuts them, tile the recording's."""
    n, hop, per_call = geometry.window, geometry.hop, max(1, windows_per_call)
    total_windows = 1 + -(-max(num_samples - n, 0) // hop)
    return [(first * hop, min(num_samples, first * hop + (per_call - 1) * hop + n))
            for first in range(0, total_windows, per_call)]


def analyse_recording(backend: Backend, waveform: np.ndarray, geometry: Geometry, windows_per_call: int,
                      embeddings: bool = False) -> dict:
    """Pooled language, probabilities (and embedding) plus the per-window timeline."""
    parts = []
    for start, end in chunk_bounds(len(waveform), geometry, windows_per_call):
        out = backend.analyse(waveform[start:end], geometry.sample_rate, embeddings=embeddings)
        out["window_start_s"] = np.asarray(out["window_start_s"]) + start / geometry.sample_rate
        out["window_end_s"] = np.asarray(out["window_end_s"]) + start / geometry.sample_rate
        parts.append(out)
    keys = ["window_probabilities", "window_weight", "window_start_s", "window_end_s"]
    keys += ["window_embeddings"] if embeddings else []
    merged = {k: np.concatenate([np.asarray(p[k], np.float64) for p in parts]) for k in keys}
    weights = merged["window_weight"]
    keep = weights > 0
    pooled = (merged["window_probabilities"] * weights[:, None]).sum(0) / weights.sum()
    languages = geometry.languages
    result = {
        "language": languages[int(np.argmax(pooled))],
        "probabilities": _by_language(languages, pooled),
        "duration_s": round(len(waveform) / geometry.sample_rate, 3),
        "timeline": [
            {"start_s": round(float(s), 3), "end_s": round(float(e), 3), "language": languages[int(np.argmax(p))],
             "probabilities": _by_language(languages, p)}
            for s, e, p in zip(merged["window_start_s"][keep], merged["window_end_s"][keep],
                               merged["window_probabilities"][keep])],
    }
    if embeddings:
        result["embedding"] = (merged["window_embeddings"] * weights[:, None]).sum(0) / weights.sum()
    return result


def _by_language(languages, probabilities) -> dict:
    return {name: round(float(p), 6) for name, p in zip(languages, probabilities)}
