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
    return hashlib.sha256(f"{seed}:{speaker_id}".encode()).hexdigest()


def speakers_by_language(clips: list[Clip]) -> dict[str, set[str]]:
    by_language: dict[str, set[str]] = {}
    for clip in clips:
        by_language.setdefault(clip.language, set()).add(clip.speaker_id)
    return by_language


def assign_splits(clips: list[Clip], eval_fraction: float, seed: int) -> dict[str, str]:
    """Map speaker id -> split for these clips (see assign_speakers)."""
    return assign_speakers(speakers_by_language(clips), eval_fraction, seed)


def assign_speakers(by_language: dict[str, set[str]], eval_fraction: float, seed: int,
                    fixed: dict[str, str] | None = None) -> dict[str, str]:
    """Map speaker id -> split, stratified by language, from the speakers heard in each language.

    `fixed` (speaker -> split, from an earlier ingestion) keeps those speakers where they were
    and counts them towards each language's eval share: only new speakers are placed.

    Each language with at least two speakers sends round(eval_fraction * n) of them (at least
    one, never all) to eval, chosen by a seeded hash so the choice is stable across runs and
    machines. A speaker heard in several languages keeps the split it got first (languages
    in name order): one speaker id, one split, whatever the manifest says.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    assignment: dict[str, str] = dict(fixed or {})
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


def speakers_linked_by_duplicates(fingerprint_of: dict[str, str], clips: list[Clip]) -> dict[str, str]:
    """Map speaker id -> group id, where speakers that share any decoded audio are one group.

    `fingerprint_of` maps clip key -> audio fingerprint (audio/stats.py). The same recording
    under two speakers (or two languages) ties those speakers together so that the split
    treats them as one: a duplicate can then never sit on both sides of it.
    """
    parent: dict[str, str] = {clip.speaker_id: clip.speaker_id for clip in clips}

    def root(speaker: str) -> str:
        while parent[speaker] != speaker:
            parent[speaker] = parent[parent[speaker]]
            speaker = parent[speaker]
        return speaker

    first_speaker: dict[str, str] = {}
    for clip in sorted(clips, key=lambda c: c.key):
        digest = fingerprint_of.get(clip.key)
        if not digest:
            continue
        other = first_speaker.setdefault(digest, clip.speaker_id)
        a, b = sorted((root(other), root(clip.speaker_id)))
        parent[b] = a
    members: dict[str, list[str]] = {}
    for speaker in parent:
        members.setdefault(root(speaker), []).append(speaker)
    return {speaker: "+".join(sorted(members[root(speaker)])) for speaker in parent}


def assign_speakers_keeping_duplicates_together(by_language: dict[str, set[str]],
                                                prints: dict[str, tuple[str, str]], eval_fraction: float,
                                                seed: int, fixed: dict[str, str] | None = None,
                                                kept: set[str] = frozenset()) -> dict[str, str]:
    """Map speaker id -> split as assign_speakers does, with speakers that share decoded audio
    (`prints`: clip key -> (fingerprint, speaker id)) split as one group, so a duplicate can
    never sit on both sides. Without duplicates every group is one speaker and the result
    equals assign_speakers. `fixed` speakers (an earlier ingestion's) keep their split, and a
    new speaker whose audio duplicates one of the `kept` (earlier) clips takes that clip's split."""
    fixed = dict(fixed or {})
    earlier_split: dict[str, str] = {}
    for key in sorted(kept & set(prints)):
        digest, speaker = prints[key]
        if speaker in fixed:
            earlier_split.setdefault(digest, fixed[speaker])
    for key in sorted(set(prints) - kept):
        digest, speaker = prints[key]
        if speaker not in fixed and digest in earlier_split:
            fixed[speaker] = earlier_split[digest]
    clips = [Clip(key, "", 0, speaker) for key, (_, speaker) in prints.items()]
    group_of = speakers_linked_by_duplicates({key: digest for key, (digest, _) in prints.items()}, clips)
    grouped = {language: {group_of.get(s, s) for s in speakers} for language, speakers in by_language.items()}
    fixed_groups: dict[str, str] = {}
    for speaker, split in sorted(fixed.items()):
        fixed_groups.setdefault(group_of.get(speaker, speaker), split)
    split_of_group = assign_speakers(grouped, eval_fraction, seed, fixed_groups)
    return {s: fixed.get(s) or split_of_group[group_of.get(s, s)]
            for speakers in by_language.values() for s in speakers}


def clips_crossing_the_split(prints: dict[str, tuple[str, str]], split_of: dict[str, str],
                             kept: set[str]) -> dict[str, str]:
    """New clips whose audio already sits on the other side of the split: {clip key: key it duplicates}.

    Clips in `kept` (carried over from an earlier ingestion) come first and are never
    dropped; among the rest, the first clip (by key) of each fingerprint sets its side. Only
    fixed speakers can pull duplicates apart, so without `fixed` splits this finds nothing.
    """
    first: dict[str, str] = {}
    crossing: dict[str, str] = {}
    for key in sorted(prints, key=lambda k: (k not in kept, k)):
        digest, speaker = prints[key]
        other = first.setdefault(digest, key)
        if other != key and key not in kept and split_of.get(speaker) != split_of.get(prints[other][1]):
            crossing[key] = other
    return crossing


def assign_clip_splits(clips: list[Clip], fingerprint_of: dict[str, str], eval_fraction: float,
                       seed: int) -> dict[str, str]:
    """Map clip key -> split by assign_speakers_keeping_duplicates_together (what ingestion runs),
    for callers that hold the clips and their fingerprints in memory."""
    prints = {c.key: (fingerprint_of[c.key], c.speaker_id) for c in clips if fingerprint_of.get(c.key)}
    split_of = assign_speakers_keeping_duplicates_together(speakers_by_language(clips), prints, eval_fraction, seed)
    return {clip.key: split_of[clip.speaker_id] for clip in clips}
