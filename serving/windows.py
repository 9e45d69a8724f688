"""Long recordings: cut into chunks that line up with the model's own windows, then merged.

The model's signatures cut the windows and say where each window starts and how much real
audio it holds; the grid and the pooling rule are contract/geometry.py's, which this module
uses too (its seconds -> samples rounding, window count and weighted mean). A recording of
any length goes to the model in chunks of `windows_per_call` windows, each chunk starting on
the global window grid, so the chunked result equals one call on the whole recording while
memory and request size stay bounded. Pooling is the model's: probabilities (and
embeddings) averaged over the windows that hold speech, weighted by real audio; `window_speech`
(from the model) says which do. Recordings are streamed: only one chunk is held at a time.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

from contract.geometry import WindowGeometry, pooling_weights, serving_window_count, to_samples, weighted_pool
from serving.retry import ServingError

NO_SPEECH = "no_speech"  # the model's answer for audio without speech (models/keras_model/signatures.py)
# A model with Whisper gives its [99] language distribution per window; pooled like the embedding,
# it lets --reject-unknown name what an unknown clip most likely is (models/open_set.py).
WHISPER_WINDOWS = "window_whisper_language_probabilities"
WHISPER_POOLED = "whisper_language_probabilities"
# ... and (from `embed`) its pooled encoder features per window, which the open-set rule reads.
WHISPER_EMBEDDING_WINDOWS = "window_whisper_embeddings"
WHISPER_EMBEDDING = "whisper_embedding"


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
    of silence). Samples come from the model's seconds by contract/geometry.py's rounding; a
    hop other than the geometry's half window is refused, as the chunks would not tile."""
    out = backend.analyse(np.zeros(probe_rate // 10, np.float32), probe_rate)
    if "window_seconds" not in out:
        raise ServingError("the model has no per-window outputs (exported before serving/ existed); "
                           "re-run the pipeline to push a current model")
    sample_rate = int(out.get("sample_rate", probe_rate))
    windows = WindowGeometry(sample_rate, float(out["window_seconds"]))
    hop = to_samples(float(out["hop_seconds"]), sample_rate)
    if hop != windows.hop_samples:
        raise ServingError(f"the model's hop ({hop} samples) is not half its window ({windows.window_samples})")
    return Geometry(window=windows.window_samples, hop=windows.hop_samples,
                    sample_rate=sample_rate, languages=_text(out["languages"]))


def chunk_bounds(num_samples: int, geometry: Geometry, windows_per_call: int) -> list[tuple[int, int]]:
    """[start, end) sample ranges whose windows, as the model cuts them, tile the recording's."""
    n, hop, per_call = geometry.window, geometry.hop, max(1, windows_per_call)
    total_windows = serving_window_count(num_samples, n, hop)
    return [(first * hop, min(num_samples, first * hop + (per_call - 1) * hop + n))
            for first in range(0, total_windows, per_call)]


def stream_chunks(blocks: Iterable[np.ndarray], geometry: Geometry,
                  windows_per_call: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start sample, chunk) pairs equal to chunk_bounds' on the concatenated blocks, holding at
    most one chunk plus one block in memory. A full chunk is sent only once audio beyond it is
    known to exist, because only then does the whole-recording grid have the next window."""
    n, hop, per_call = geometry.window, geometry.hop, max(1, windows_per_call)
    full = (per_call - 1) * hop + n
    buffer, start, seen = np.zeros(0, np.float32), 0, False
    for block in blocks:
        buffer = np.concatenate([buffer, block]) if len(buffer) else np.asarray(block, np.float32)
        seen = seen or len(block) > 0
        while len(buffer) > full:
            yield start, buffer[:full]
            buffer, start = buffer[per_call * hop:], start + per_call * hop
    if len(buffer) or not seen:
        yield start, buffer


def analyse_stream(backend: Backend, blocks: Iterable[np.ndarray], geometry: Geometry, windows_per_call: int,
                   embeddings: bool = False, allowed: tuple[str, ...] | None = None,
                   before_last: Callable[[int], None] | None = None) -> dict:
    """Pooled language, probabilities (and embedding) plus the per-window timeline, from blocks
    of audio at the model's rate. `allowed` restricts the answer to those languages
    (renormalised). `before_last(total_samples)` runs before the last chunk goes to the model
    (a length check that should not cost a model call)."""
    keys = ["window_probabilities", "window_weight", "window_start_s", "window_end_s", "window_speech"]
    keys += ["window_embeddings"] if embeddings else []
    parts: dict[str, list] = {k: [] for k in keys}
    total = 0
    chunks = stream_chunks(blocks, geometry, windows_per_call)
    pending = next(chunks, None)
    while pending is not None:
        start, chunk = pending
        pending = next(chunks, None)
        if pending is None:
            total = start + len(chunk)
            if before_last:
                before_last(total)
        out = backend.analyse(chunk, geometry.sample_rate, embeddings=embeddings)
        out.setdefault("window_speech", np.ones_like(np.asarray(out["window_weight"])))  # models before no_speech
        offset = start / geometry.sample_rate
        out["window_start_s"] = np.asarray(out["window_start_s"]) + offset
        out["window_end_s"] = np.asarray(out["window_end_s"]) + offset
        for k in keys:
            parts[k].append(np.asarray(out[k], np.float64))
        for k in (WHISPER_WINDOWS, WHISPER_EMBEDDING_WINDOWS):
            if k in out:
                parts.setdefault(k, []).append(np.asarray(out[k], np.float64))
    merged = {k: np.concatenate(v) for k, v in parts.items()}
    return pool(merged, geometry.languages, total / geometry.sample_rate, allowed)


def restrict(probabilities: np.ndarray, languages: tuple[str, ...], allowed: tuple[str, ...] | None):
    """Columns of the allowed languages, each row renormalised to sum to 1."""
    if not allowed:
        return probabilities, languages
    columns = [languages.index(name) for name in allowed]
    kept = probabilities[..., columns]
    return kept / np.maximum(kept.sum(axis=-1, keepdims=True), 1e-12), tuple(allowed)


def pool(merged: dict, languages: tuple[str, ...], duration_s: float, allowed: tuple[str, ...] | None) -> dict:
    probabilities, names = restrict(merged["window_probabilities"], languages, allowed)
    speech = merged["window_speech"] > 0.5
    weights = pooling_weights(merged["window_weight"], speech)
    has_speech = weights.sum() > 0
    pooled = weighted_pool(probabilities, weights)
    keep = merged["window_weight"] > 0
    result = {
        "language": names[int(np.argmax(pooled))] if has_speech else NO_SPEECH,
        "confidence": round(float(pooled.max()), 6) if has_speech else None,
        "probabilities": _by_language(names, pooled),
        "duration_s": round(duration_s, 3),
        "speech_s": round(float(np.diff(owned_spans(merged["window_start_s"][keep], merged["window_end_s"][keep],
                                                    duration_s))[speech[keep]].sum()), 3),
        "timeline": [
            {"start_s": round(float(s), 3), "end_s": round(float(e), 3),
             "language": names[int(np.argmax(p))] if v else NO_SPEECH, "probabilities": _by_language(names, p)}
            for s, e, p, v in zip(merged["window_start_s"][keep], merged["window_end_s"][keep],
                                  probabilities[keep], speech[keep])],
        "_windows": (merged["window_start_s"][keep], merged["window_end_s"][keep], probabilities[keep],
                     speech[keep], names),
    }
    if "window_embeddings" in merged:
        emb_weights = weights if has_speech else merged["window_weight"]
        result["embedding"] = weighted_pool(merged["window_embeddings"], emb_weights)
    whisper_weights = weights if has_speech else merged["window_weight"]
    for windows, pooled in ((WHISPER_WINDOWS, WHISPER_POOLED), (WHISPER_EMBEDDING_WINDOWS, WHISPER_EMBEDDING)):
        if windows in merged and len(merged[windows]) == len(merged["window_weight"]):
            result[pooled] = weighted_pool(merged[windows], whisper_weights)
    return result


def owned_spans(starts, ends, duration_s: float) -> np.ndarray:
    """Boundaries of the time each (half-overlapping) window stands for: from the midpoint between
    its centre and the previous window's to the midpoint with the next one (first from 0, last to
    the end); len(starts) + 1 values."""
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    if len(starts) == 0:
        return np.zeros(1)
    centres = (starts + ends) / 2
    return np.concatenate([[0.0], (centres[:-1] + centres[1:]) / 2, [max(duration_s, ends[-1])]])


def _by_language(languages, probabilities) -> dict:
    return {name: round(float(p), 6) for name, p in zip(languages, probabilities)}
