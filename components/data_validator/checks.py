"""Data validation of an ingested corpus: schema domains clip by clip, and the corpus checks a
schema cannot express (duplicate audio, a speaker under several languages, too few speakers
for the speaker-disjoint split, strong imbalance).

ExampleValidator (TFDV) says *that* a feature leaves its domain; this module says *which
clips* do, from the per-clip statistics each example carries (audio/stats.py). Every anomaly
is a dict: check, severity ("error" or "warning"), message, keys (the clips involved, at most
MAX_KEYS of them) and keys_total. `--halt-on-anomalies` stops the pipeline on errors only.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict

import numpy as np

from contract import codec, features

MAX_KEYS = 50
SPEAKERS_NAMED = 3   # in the one-line message; the report lists them all
ERROR, WARNING = "error", "warning"

_PER_CLIP = (features.SOURCE_KEY, features.LANGUAGE, features.LABEL, features.SPEAKER_ID) + features.CLIP_STATS


def anomaly(check: str, severity: str, message: str, keys=(), **extra) -> dict:
    keys = sorted(set(keys))
    return {"check": check, "severity": severity, "message": message, "keys": keys[:MAX_KEYS],
            "keys_total": len(keys), **extra}


def read_clip_records(examples_uri: str, splits=("train", "eval")) -> list[dict]:
    """One record per clip (the first of its segments read: ingestion may have dropped window 0 as
    no-speech, and every segment carries the same per-clip features), reading only the small features."""
    import tensorflow as tf

    spec = {}
    for name in _PER_CLIP + (features.SEGMENT_INDEX,):
        kind = {features.LABEL: tf.int64, features.SEGMENT_INDEX: tf.int64,
                features.CLIP_SOURCE_SAMPLE_RATE: tf.int64, features.CLIP_SOURCE_CHANNELS: tf.int64}.get(name)
        if kind is None:
            kind = tf.string if name in (features.SOURCE_KEY, features.LANGUAGE, features.SPEAKER_ID,
                                         features.CLIP_FINGERPRINT) else tf.float32
        spec[name] = tf.io.FixedLenFeature([], kind)
    records, seen = [], set()
    for split in splits:
        files = codec.split_files(examples_uri, split)
        if not files:
            continue
        dataset = codec.records_of(files).batch(256).map(
            lambda batch: tf.io.parse_example(batch, spec))
        for batch in dataset.as_numpy_iterator():
            for i in range(len(batch[features.SOURCE_KEY])):
                if batch[features.SOURCE_KEY][i] in seen:
                    continue
                seen.add(batch[features.SOURCE_KEY][i])
                row = {"split": split}
                for name in _PER_CLIP:
                    value = batch[name][i]
                    row[name] = value.decode() if isinstance(value, bytes) else value.item()
                records.append(row)
    return records


def load_schema(path: str):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with open(path) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def domain_violations(records: list[dict], schema, tfdv_descriptions: dict | None = None) -> list[dict]:
    """One error per schema feature whose float/int domain some clips leave, naming them."""
    out = []
    for feature in schema.feature:
        domain = feature.float_domain if feature.HasField("float_domain") else (
            feature.int_domain if feature.HasField("int_domain") else None)
        if domain is None:
            continue
        low = float(f"{domain.min:.6g}") if domain.HasField("min") else None   # 0.01, not 0.0099999998
        high = float(f"{domain.max:.6g}") if domain.HasField("max") else None
        # In float32, as the examples store the values and the schema its bounds.
        bad = [r for r in records if feature.name in r and (
            (low is not None and np.float32(r[feature.name]) < np.float32(low))
            or (high is not None and np.float32(r[feature.name]) > np.float32(high)))]
        if not bad:
            continue
        values = sorted(r[feature.name] for r in bad)
        message = (f"{len(bad)} clip(s) with {feature.name} outside [{low}, {high}] "
                   f"(from {values[0]:.4g} to {values[-1]:.4g})")
        tfdv = (tfdv_descriptions or {}).get(feature.name)
        out.append(anomaly(f"schema:{feature.name}", ERROR, message, [r[features.SOURCE_KEY] for r in bad],
                           feature=feature.name, bounds=[low, high], example_validator=tfdv))
    return out


def duplicate_audio(records: list[dict]) -> list[dict]:
    """Clips whose decoded audio is identical; an error when their languages differ."""
    by_print = defaultdict(list)
    for r in records:
        by_print[r[features.CLIP_FINGERPRINT]].append(r)
    out = []
    for digest, group in sorted(by_print.items()):
        if len(group) < 2:
            continue
        languages = sorted({r[features.LANGUAGE] for r in group})
        keys = [r[features.SOURCE_KEY] for r in group]
        if len(languages) > 1:
            out.append(anomaly("duplicate_audio_conflicting_labels", ERROR,
                               f"the same audio under {len(group)} keys labelled {', '.join(languages)}",
                               keys, fingerprint=digest, languages=languages))
        else:
            out.append(anomaly("duplicate_audio", WARNING, f"the same audio under {len(group)} keys "
                               f"({languages[0]}): counted several times in training", keys, fingerprint=digest))
    return out


def speakers_in_several_languages(records: list[dict]) -> list[dict]:
    """Speaker ids heard in several languages (a bilingual voice, or a mislabelled clip), as one
    warning however many voices: a corpus of multilingual voices (the demo's speak every language)
    would otherwise open the run with one near-identical line per voice. `speakers` holds every
    such voice with its clips per language."""
    by_speaker = defaultdict(list)
    for r in records:
        by_speaker[r[features.SPEAKER_ID]].append(r)
    several = {}
    for speaker, group in sorted(by_speaker.items()):
        counts = Counter(r[features.LANGUAGE] for r in group)
        if len(counts) > 1:
            several[speaker] = dict(sorted(counts.items()))
    if not several:
        return []
    if len(several) == 1:
        ((speaker, counts),) = several.items()
        detail = ", ".join(f"{language} {n}" for language, n in counts.items())
        message = f"speaker {speaker!r} has clips in {len(counts)} languages ({detail})"
    else:
        named = ", ".join(f"{speaker!r} ({len(counts)} languages)"
                          for speaker, counts in list(several.items())[:SPEAKERS_NAMED])
        more = len(several) - SPEAKERS_NAMED
        message = (f"{len(several)} speakers have clips in several languages: {named}"
                   + (f" and {more} more" if more > 0 else "") + " (each with its clips per language in the report)")
    keys = [r[features.SOURCE_KEY] for speaker in several for r in by_speaker[speaker]]
    return [anomaly("speaker_in_several_languages", WARNING, message, keys, speakers=several)]


def too_few_speakers(records: list[dict], min_speakers: int) -> list[dict]:
    """Languages with fewer speakers than the speaker-disjoint split needs (error below two)."""
    by_language = defaultdict(list)
    for r in records:
        by_language[r[features.LANGUAGE]].append(r)
    out = []
    for language, group in sorted(by_language.items()):
        speakers = {r[features.SPEAKER_ID] for r in group}
        if len(speakers) < min_speakers:
            severity = ERROR if len(speakers) < 2 else WARNING
            out.append(anomaly("too_few_speakers", severity,
                               f"{language} has {len(speakers)} speaker(s), fewer than {min_speakers}: "
                               + ("no voice left to evaluate it on" if severity == ERROR
                                  else "its evaluation rests on one or two voices"),
                               [r[features.SOURCE_KEY] for r in group], language=language,
                               speakers=sorted(speakers)))
    return out


def imbalance(records: list[dict], max_ratio: float) -> list[dict]:
    """A language with more than max_ratio times fewer clips than the largest one."""
    counts = Counter(r[features.LANGUAGE] for r in records)
    if len(counts) < 2:
        return []
    largest = max(counts.values())
    out = []
    for language, n in sorted(counts.items()):
        if largest / n > max_ratio:
            keys = [r[features.SOURCE_KEY] for r in records if r[features.LANGUAGE] == language]
            out.append(anomaly("imbalance", WARNING,
                               f"{language} has {n} clips, {largest / n:.1f}x fewer than the largest "
                               f"language ({largest}); limit {max_ratio}x", keys, language=language,
                               clips=dict(sorted(counts.items()))))
    return out


def tfdv_anomalies(anomalies_uri: str) -> dict:
    """feature name -> ExampleValidator's description, over every split's SchemaDiff.pb."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    out = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(anomalies_uri, "Split-*", "SchemaDiff.pb"))):
        result = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as f:
            result.ParseFromString(f.read())
        split = os.path.basename(os.path.dirname(path)).replace("Split-", "")
        for name, info in result.anomaly_info.items():
            text = f"{split}: {info.short_description}: {info.description}"
            out[name] = f"{out[name]}; {text}" if name in out else text
    return out


def validate(records: list[dict], schema, tfdv_descriptions: dict | None = None, *,
             min_speakers: int, max_imbalance: float) -> dict:
    """Every check over the clips; the JSON that run_summary.json shows under data_validation."""
    found = domain_violations(records, schema, tfdv_descriptions)
    named = {a["feature"] for a in found}
    for name, description in sorted((tfdv_descriptions or {}).items()):
        if name not in named:   # e.g. a missing feature: no clip to name
            found.append(anomaly(f"schema:{name}", ERROR, description, feature=name, example_validator=description))
    found += duplicate_audio(records) + speakers_in_several_languages(records)
    found += too_few_speakers(records, min_speakers) + imbalance(records, max_imbalance)
    return {
        "clips_checked": len(records),
        "errors": sum(a["severity"] == ERROR for a in found),
        "warnings": sum(a["severity"] == WARNING for a in found),
        "anomalies": found,
    }


def format_report(report: dict, max_lines: int = 20) -> list[str]:
    """Console lines: one per anomaly, with up to three of its clip keys."""
    lines = [f"data validation: {report['clips_checked']} clips, {report['errors']} error(s), "
             f"{report['warnings']} warning(s)"]
    for entry in report["anomalies"][:max_lines]:
        keys = ", ".join(entry["keys"][:3]) + (f" (+{entry['keys_total'] - 3} more)" if entry["keys_total"] > 3 else "")
        lines.append(f"  {entry['severity'].upper():7s} {entry['check']}: {entry['message']}"
                     + (f" [{keys}]" if keys else ""))
    if len(report["anomalies"]) > max_lines:
        lines.append(f"  ... {len(report['anomalies']) - max_lines} more in run_summary.json")
    return lines
