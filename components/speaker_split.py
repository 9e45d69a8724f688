"""Assign whole speakers, never single clips or segments, to the train or eval split.

Segments of one clip, and clips of one speaker, are near-duplicates: letting a speaker into
both splits measures memorised voices, not language identification.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

TRAIN = "train"
EVAL = "eval"


@dataclass(frozen=True)
class Clip:
    key: str
    language: str
    label: int
    speaker_id: str


def speaker_from_key(key: str) -> str:
    """Fallback speaker id for a clip with no manifest row: the file name before '__'.

    `French/fr-m3__007.mp3` -> `fr-m3`; a name without '__' is its own speaker, which keeps
    the split disjoint at worst by treating one real speaker as several.
    """
    stem = os.path.splitext(os.path.basename(key))[0]
    return stem.split("__", 1)[0] if "__" in stem else stem


def _rank(seed: int, speaker_id: str) -> str:
    return hashlib.sha256(f"{seed}:{speaker_id}".encode("utf-8")).hexdigest()


def assign_splits(clips: list[Clip], eval_fraction: float, seed: int) -> dict[str, str]:
    """Map speaker id -> split for these clips (see assign_speakers)."""
    by_language: dict[str, set[str]] = {}
    for clip in clips:
        by_language.setdefault(clip.language, set()).add(clip.speaker_id)
    return assign_speakers(by_language, eval_fraction, seed)


def assign_speakers(by_language: dict[str, set[str]], eval_fraction: float, seed: int) -> dict[str, str]:
    """Map speaker id -> split, stratified by language, from the speakers heard in each language.

    Each language with at least two speakers sends round(eval_fraction * n) of them (at least
    one, never all) to eval, chosen by a seeded hash so the choice is stable across runs and
    machines. A speaker heard in several languages keeps the split it got first (languages
    in name order): one speaker id, one split, whatever the manifest says.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    assignment: dict[str, str] = {}
    for language in sorted(by_language):
        speakers = sorted(by_language[language], key=lambda s: _rank(seed, s))
        n = len(speakers)
        n_eval = 0 if n < 2 else min(n - 1, max(1, round(eval_fraction * n)))
        already_eval = sum(1 for s in speakers if assignment.get(s) == EVAL)
        for speaker in speakers:
            if speaker in assignment:
                continue
            if already_eval < n_eval:
                assignment[speaker] = EVAL
                already_eval += 1
            else:
                assignment[speaker] = TRAIN
    return assignment
