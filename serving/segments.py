"""`--segments`: per-window posteriors -> time-stamped language segments.

Smoothing, then merging: each speech window's posteriors are replaced by the per-language
median over its `smoothing` nearest speech windows (a median filter, robust to one odd
window); each window owns the time from the midpoint to its neighbours' centres (hop
resolution); adjacent windows with the same label merge; runs shorter than `min_segment_s`
are merged into their longer neighbour until none is left (or one run remains).
"""
from __future__ import annotations

import numpy as np

from serving.windows import NO_SPEECH, owned_spans


def segments(starts, ends, probabilities, speech, languages, duration_s: float, *, smoothing: int,
             min_segment_s: float) -> list[dict]:
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    probabilities, speech = np.asarray(probabilities, float), np.asarray(speech, bool)
    if len(starts) == 0:
        return []
    smoothed = probabilities.copy()
    voiced = np.flatnonzero(speech)
    half = smoothing // 2
    for rank, i in enumerate(voiced):
        neighbours = voiced[max(0, rank - half): rank + half + 1]
        smoothed[i] = np.median(probabilities[neighbours], axis=0)
    labels = [languages[int(np.argmax(p))] if v else NO_SPEECH for p, v in zip(smoothed, speech)]
    cuts = owned_spans(starts, ends, duration_s)
    runs = []  # [label, first window, last window]
    for i, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1][2] = i
        else:
            runs.append([label, i, i])

    def length(run):
        return cuts[run[2] + 1] - cuts[run[1]]

    while len(runs) > 1:
        shortest = min(range(len(runs)), key=lambda k: length(runs[k]))
        if length(runs[shortest]) >= min_segment_s:
            break
        neighbours = [k for k in (shortest - 1, shortest + 1) if 0 <= k < len(runs)]
        into = max(neighbours, key=lambda k: length(runs[k]))
        first, last = min(runs[shortest][1], runs[into][1]), max(runs[shortest][2], runs[into][2])
        runs[min(shortest, into)] = [runs[into][0], first, last]
        del runs[max(shortest, into)]
        merged = []
        for run in runs:  # the neighbours on both sides may now carry the same label
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        runs = merged

    out = []
    for label, first, last in runs:
        confidence = None
        if label != NO_SPEECH:
            inside = [i for i in range(first, last + 1) if speech[i]]
            column = languages.index(label)
            confidence = round(float(np.mean(smoothed[inside, column])), 6) if inside else None
        out.append({"start_s": round(float(cuts[first]), 3), "end_s": round(float(cuts[last + 1]), 3),
                    "language": label, "confidence": confidence})
    return out
