"""Open set with Whisper's 99 languages, offline: how many out-of-set clips the rule rejects.

Features: every serving window of 3 s (hop 1.5 s, contract/geometry.py) of each clip of the
demo corpus (six in-set languages) and of data/open_set/ (espeak-ng clips of languages the
model does not know), through models/whisper once: pooled encoder features (mean+std) and
Whisper's distribution over its 99 languages, each pooled over the clip's windows weighted by
real audio, as serving pools them (`--first-window`: the clip's first window only). Cached in
an .npz (`--features`, a new path for each choice), so the measurement reruns in seconds.

The closed-set model is a probe of the pipeline's Whisper model: a logistic-regression head
on the pooled features of the training voices, its log-probabilities added to Whisper's
zero-shot log-probabilities restricted to the six languages (the model's "sum of
log-probabilities"). For each seed, the 16 voices are split at random into 12 training and
4 held-out voices (held out in all six languages at once), the held-out voices into two
halves: the choosing voices and the `threshold`-role languages choose the rule
(models/open_set_whisper.choose_rule, the training voices cross-fitted voice by voice, as the
Trainer does with its training speakers), the measuring voices and the `measure`-role languages
measure it. Printed per seed: out-of-set rejected share on the measure languages (and per
language), in-set kept-correct on the measuring voices, and the spread over seeds; the same for
Whisper's out-of-set mass alone and the closed-set rule (calibrated top probability + centroid
distance) for comparison.

    python -m bench.open_set_whisper [--seeds 0 1 2] [--held-out-voices 4] [--first-window]
                                     [--features /tmp/open_set_whisper.npz]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "data", "demo")
OPEN_SET = os.path.join(REPO, "data", "open_set")
IN_SET = ("English", "French", "Spanish", "German", "Russian", "Chinese")


def _rows(folder: str) -> list[dict]:
    with open(os.path.join(folder, "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _windows(folder: str, key: str, n: int, whole: bool) -> tuple[np.ndarray, np.ndarray]:
    """(windows [w, n], weights [w]): the clip's serving windows (contract/geometry.py: hop n/2,
    weighted by real audio) with `whole`, else its first window only."""
    from audio.decode import decode_audio
    from contract import geometry

    with open(os.path.join(folder, key), "rb") as f:
        wav = decode_audio(f.read(), 16_000)
    starts = geometry.serving_starts(len(wav), n, n // 2) if whole else np.zeros(1, np.int64)
    windows = np.stack([np.pad(wav[s:s + n], (0, n - len(wav[s:s + n]))) for s in starts]).astype(np.float32)
    return windows, geometry.window_weight(geometry.real_samples(len(wav), starts, n), n)


def extract(path: str, seconds: float, batch: int, whole: bool) -> None:
    """Pooled features and 99-language log-probabilities of every demo and open-set clip -> .npz
    (pooled over the clip's windows as serving pools them: features and probabilities)."""
    import tensorflow as tf

    from contract import geometry
    from models.whisper import embedding, encoder, frontend, language, weights

    n = int(seconds * 16_000)
    demo, extra = _rows(DEMO), _rows(OPEN_SET)
    clips = [_windows(DEMO, r["key"], n, whole) for r in demo] + [_windows(OPEN_SET, r["key"], n, whole) for r in extra]
    wavs = np.concatenate([w for w, _ in clips])
    w = weights.load()
    enc, head = encoder.Encoder(w), language.LanguageHead(w)

    @tf.function(input_signature=[tf.TensorSpec([None, n], tf.float32)])
    def features(x):
        states = enc(frontend.log_mel(x))
        return embedding.pool(states, "mean_std"), tf.nn.softmax(head(states), axis=-1)

    pooled, probabilities = [], []
    for i in range(0, len(wavs), batch):
        f, p = features(wavs[i:i + batch])
        pooled.append(f.numpy())
        probabilities.append(p.numpy())
    pooled, probabilities = np.concatenate(pooled), np.concatenate(probabilities)
    bounds = np.cumsum([0] + [len(wt) for _, wt in clips])
    spans = [(a, b, wt) for a, b, (_, wt) in zip(bounds, bounds[1:], clips)]
    pooled = np.stack([geometry.weighted_pool(pooled[a:b], wt) for a, b, wt in spans])
    probabilities = np.stack([geometry.weighted_pool(probabilities[a:b], wt) for a, b, wt in spans])
    np.savez_compressed(
        path, pooled=pooled, logprobs=np.log(np.maximum(probabilities, 1e-30)),
        whisper_codes=np.array(w.languages),
        language=np.array([r["language"] for r in demo + extra]),
        speaker=np.array([r["speaker_id"] for r in demo] + [r["voice"] for r in extra]),
        role=np.array(["in_set"] * len(demo) + [r["role"] for r in extra]),
        seconds=np.array(seconds), whole=np.array(whole), windows=np.array(len(wavs)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", default=os.path.join("/tmp", "open_set_whisper.npz"))
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--held-out-voices", type=int, default=4,
                   help="voices kept out of the probe's training: half choose the rule, half measure it")
    p.add_argument("--first-window", action="store_true",
                   help="only each clip's first window (default: all its serving windows, pooled)")
    p.add_argument("--extract-only", action="store_true")
    p.add_argument("--leave-one-out", action="store_true",
                   help="instead: each threshold language measured by a rule chosen without it (the measure "
                        "languages unread)")
    args = p.parse_args(argv)
    if not os.path.exists(args.features):
        t0 = time.perf_counter()
        extract(args.features, args.seconds, args.batch, whole=not args.first_window)
        print(f"features of {len(_rows(DEMO)) + len(_rows(OPEN_SET))} clips in {time.perf_counter() - t0:.0f} s "
              f"-> {args.features}")
    if args.extract_only:
        return 0
    d = np.load(args.features)
    roles, langs = d["role"], d["language"]
    cut = (f"all {int(d['windows'])} serving windows of {float(d['seconds']):g} s, pooled a clip"
           if bool(d.get("whole", False)) else f"first {float(d['seconds']):g} s of each")
    print(f"features: {args.features} ({len(langs)} clips, {cut}); "
          f"threshold languages: {', '.join(sorted(set(langs[roles == 'threshold'])))}; "
          f"measure languages: {', '.join(sorted(set(langs[roles == 'measure'])))}")
    if args.leave_one_out:
        return _print_leave_one_out(d, args.seeds, args.held_out_voices)
    results = {name: [] for name in RULES}
    for seed in args.seeds:
        split = one_seed(d, seed, args.held_out_voices)
        for name, rule in RULES.items():
            r = rule(split)
            results[name].append(r)
            print(f"  seed {seed} {name:22s} measure-languages rejected {r['rejected']:.3f} | in-set kept correct "
                  f"{r['kept_correct']:.2f} of accuracy {r['accuracy']:.2f} ({r['kept_of_correct']:.2f} of correct "
                  f"answers) | threshold-languages rejected {r['chosen_rejected']:.2f}")
        print("    per measure language (whisper rule): " + ", ".join(
            f"{k} {v:.2f}" for k, v in results["whisper_rule"][-1]["per_language"].items()))
    print("summary over seeds " + " ".join(map(str, args.seeds)) + ":")
    for name, rs in results.items():
        rej = np.array([r["rejected"] for r in rs])
        kept = np.array([r["kept_correct"] for r in rs])
        kept_of = np.array([r["kept_of_correct"] for r in rs])
        print(f"  {name:22s} rejected mean {rej.mean():.3f} (min {rej.min():.3f}, spread {100 * np.ptp(rej):.1f} "
              f"points) | kept correct mean {kept.mean():.3f} (min {kept.min():.3f}); of correct answers "
              f"{kept_of.mean():.3f} | in-set espeak clips rejected {np.mean([r['in_rejected'] for r in rs]):.3f}")
    return 0


def leave_one_out(split: dict) -> dict:
    """{threshold language: summary} with each threshold language measured by the rule chosen on
    the other threshold languages: a check of the rule's design that never reads the measure
    languages."""
    out = {}
    for language in sorted(set(split["language"][split["threshold"]])):
        held = split["language"] == language
        out[language] = whisper_rule({**split, "threshold": split["threshold"] & ~held, "measure": held})
    return out


def _print_leave_one_out(d, seeds, held_out: int) -> int:
    means = []
    for seed in seeds:
        results = leave_one_out(one_seed(d, seed, held_out))
        means.append(np.mean([r["rejected"] for r in results.values()]))
        print(f"  seed {seed} held-out threshold language rejected: mean {means[-1]:.3f} | " + ", ".join(
            f"{lang} {r['rejected']:.2f} (kept {r['kept_of_correct']:.2f} of correct)" for lang, r in results.items()))
    print(f"summary over seeds {' '.join(map(str, seeds))}: mean {np.mean(means):.3f}, "
          f"spread {100 * np.ptp(means):.1f} points")
    return 0


def one_seed(d, seed: int, held_out: int = 4) -> dict:
    """Probe and scores for one seed: `held_out` voices out of training, half of them to choose,
    half to measure (16 voices: 12 training, 2 + 2 by default)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from models import open_set, open_set_whisper
    from models.whisper import languages as whisper_languages

    roles, langs, speakers = d["role"], d["language"], d["speaker"]
    in_set = roles == "in_set"
    y = np.array([IN_SET.index(lang) if lang in IN_SET else -1 for lang in langs])
    voices = list(np.random.default_rng(seed).permutation(sorted(set(speakers[in_set]))))
    half = held_out // 2
    train = in_set & ~np.isin(speakers, voices[:2 * half])
    choose_in, measure_in = in_set & np.isin(speakers, voices[:half]), in_set & np.isin(speakers, voices[half:2 * half])
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000, random_state=seed))
    probe.fit(d["pooled"][train], y[train])
    indices = whisper_languages.indices_for(IN_SET)
    whisper = np.exp(d["logprobs"].astype(np.float64))
    # the model's answer: head log-probabilities + Whisper's zero-shot log-probabilities over the six
    combined = probe.predict_log_proba(d["pooled"]) + d["logprobs"][:, indices]
    combined = np.exp(combined - combined.max(axis=1, keepdims=True))
    probabilities = combined / combined.sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    embed = probe[0].transform(d["pooled"])      # the probe's `embed`: standardised pooled features
    centres = open_set.centroids(embed[train], y[train], len(IN_SET))
    return {"x": open_set_whisper.rule_inputs(d["pooled"], whisper), "whisper": whisper, "in_set_indices": indices,
            "codes": whisper_languages.codes_for(IN_SET),
            "top": probabilities.max(axis=1), "distance": open_set.centroid_distance(embed, predicted, centres),
            "predicted": predicted, "label": y, "speaker": speakers, "correct": predicted == y, "train": train,
            "choose_in": choose_in, "measure_in": measure_in, "threshold": roles == "threshold",
            "measure": roles == "measure", "language": langs}


def _summary(split: dict, rejected: np.ndarray, chosen_rejected: float) -> dict:
    mi, correct = split["measure_in"], split["correct"]
    kept = float(np.mean(~rejected[mi] & correct[mi]))
    measure = split["measure"]
    return {"rejected": float(rejected[measure].mean()), "kept_correct": kept, "accuracy": float(correct[mi].mean()),
            "kept_of_correct": kept / max(float(correct[mi].mean()), 1e-12), "chosen_rejected": chosen_rejected,
            "in_rejected": float(rejected[mi].mean()),
            "per_language": {lang: float(rejected[split["language"] == lang].mean())
                             for lang in sorted(set(split["language"][measure]))}}


def whisper_rule(split: dict, folds: int = 12) -> dict:
    """The rule the Trainer stores (models/open_set_whisper.choose_rule): training voices as
    the training rows (cross-fitted by voice), the choosing voices, the threshold languages."""
    from models import open_set_whisper

    tr, ci, thr = split["train"], split["choose_in"], split["threshold"]
    x, predicted = split["x"], split["predicted"]
    rule = open_set_whisper.choose_rule(
        {"x": x[tr], "label": split["label"][tr], "predicted": predicted[tr], "correct": split["correct"][tr],
         "group": split["speaker"][tr]},
        x[thr], {"x": x[ci], "predicted": predicted[ci], "correct": split["correct"][ci]},
        split["codes"], folds=folds)
    rejected = open_set_whisper.whisper_is_unknown(x, predicted, rule)
    return _summary(split, rejected, float(rejected[thr].mean()))


def whisper_mass_rule(split: dict) -> dict:
    """Whisper's probability mass outside the model's languages alone, threshold on the choosing voices."""
    from models import open_set_whisper

    mass, _, _ = open_set_whisper.whisper_out_of_set(split["whisper"], split["in_set_indices"])
    ci = split["choose_in"]
    cs = np.sort(mass[ci & split["correct"]])
    threshold = cs[int(np.ceil(0.95 * len(cs) - 1e-9)) - 1]
    rejected = mass > threshold
    return _summary(split, rejected, float(rejected[split["threshold"]].mean()))


def closed_set_rule(split: dict) -> dict:
    from models import open_set

    ci, thr = split["choose_in"], split["threshold"]
    chosen = open_set.choose_thresholds(split["top"][ci], split["distance"][ci], split["correct"][ci],
                                        split["top"][thr], split["distance"][thr])
    rejected = open_set.is_unknown(split["top"], split["distance"], chosen["min_probability"], chosen["max_distance"])
    return _summary(split, rejected, chosen["chosen_rejected"])


RULES = {
    "whisper_rule": whisper_rule,                                  # background class + LDA distance, cross-fitted
    "whisper_rule_4_folds": lambda split: whisper_rule(split, 4),  # fewer refits: 3 voices a group
    "whisper_mass_only": whisper_mass_rule,                        # Whisper's out-of-set mass alone
    "two_thresholds": closed_set_rule,                             # the rule of CNN-only models
}


if __name__ == "__main__":
    raise SystemExit(main())
