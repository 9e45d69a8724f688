"""Open set: answer "unknown" for a clip whose language is none of the model's.

The decision uses two things the model knows: its calibrated top probability, and the
cosine distance of the clip's `embed` vector to the centroid of the predicted language
(centroids of the training embeddings, saved with the model). A clip is unknown when its
top probability is below `min_probability` or its distance is above `max_distance`.

Both thresholds are chosen inside the pipeline (`choose_thresholds`): the pair that rejects
the most out-of-set clips of the *threshold* languages while at least `min_kept_correct`
of the in-set held-out segments stay correct and accepted. The result is stored in the
SavedModel's `assets.extra/open_set.json` (TF Serving ignores that folder; the CLI reads it).

A model with Whisper (its `embed` outputs hold `whisper_language_probabilities`, Whisper's [99]
distribution in models/whisper/languages.CODES order, and `whisper_embedding`, its pooled
encoder features) gets a stronger rule (`"whisper"` in open_set.json, version 3; fitted in
models/open_set_whisper.py): a background "other" class, a discriminant distance on
Whisper's own representation and Whisper's surprise at the model's answer, with a threshold
cross-fitted over the training speakers, and a clause for when Whisper is surer of a language
outside the model's than it ever was on a correct training answer. With
Whisper's outputs at hand it decides instead of the two thresholds (which stay stored for
callers without them). An unknown answer also names Whisper's most likely language outside the
model's (`unknown_guess`, English name, with its Whisper probability): what a closed-set model
cannot say. Models without Whisper keep the two-threshold rule.
"""
from __future__ import annotations

import json
import os

import numpy as np

UNKNOWN = "unknown"
WHISPER_SURE_REASON = "Whisper gives"   # how an unknown_reason from Whisper's sureness clause starts
PARAMS_FILE = os.path.join("assets.extra", "open_set.json")
DEFAULT_MIN_KEPT_CORRECT = 0.95   # a margin over the 0.90 target: it is measured on other speakers
PARAMS_VERSION = 3                # 3: optional "whisper" rule (background_lda); 1 (no "version"): thresholds only


class OpenSetError(ValueError):
    """Open-set parameters missing or invalid."""


def centroids(embeddings: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[num_classes, dim] unit-length mean embedding per class (zeros for an absent class)."""
    embeddings = _unit(np.asarray(embeddings, np.float64))
    out = np.zeros((num_classes, embeddings.shape[1]))
    for c in range(num_classes):
        members = embeddings[np.asarray(labels) == c]
        if len(members):
            out[c] = members.mean(axis=0)
    return _unit(out)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def centroid_distance(embeddings: np.ndarray, predicted: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Cosine distance (0 same direction .. 2 opposite) of each embedding to its predicted class's centroid."""
    unit = _unit(np.atleast_2d(np.asarray(embeddings, np.float64)))
    return 1.0 - np.sum(unit * centres[np.asarray(predicted).reshape(-1)], axis=1)


def is_unknown(top_probability, distance, min_probability: float, max_distance: float) -> np.ndarray:
    return (np.asarray(top_probability) < min_probability) | (np.asarray(distance) > max_distance)


def choose_thresholds(in_top: np.ndarray, in_distance: np.ndarray, in_correct: np.ndarray,
                      out_top: np.ndarray, out_distance: np.ndarray,
                      min_kept_correct: float = DEFAULT_MIN_KEPT_CORRECT, grid: int = 41) -> dict:
    """Grid search over (min_probability, max_distance) candidates taken from the in-set scores.

    Maximises the rejected share of out-of-set clips subject to kept-correct (correct and not
    rejected) >= min(min_kept_correct, in-set accuracy): when the model is less accurate than
    the target, no correct in-set answer may be lost. Ties go to the larger kept-correct.
    """
    in_top, in_distance = np.asarray(in_top, np.float64), np.asarray(in_distance, np.float64)
    in_correct = np.asarray(in_correct, bool)
    out_top, out_distance = np.asarray(out_top, np.float64), np.asarray(out_distance, np.float64)
    if len(in_top) == 0 or len(out_top) == 0:
        raise OpenSetError("choosing open-set thresholds needs in-set and out-of-set examples")
    quantiles = np.linspace(0.0, 1.0, grid)
    p_candidates = np.unique(np.concatenate([[0.0], np.quantile(in_top, quantiles)]))
    d_candidates = np.unique(np.concatenate([[2.0], np.quantile(in_distance, quantiles)]))
    floor = min(float(min_kept_correct), float(in_correct.mean()))
    best = None
    for p in p_candidates:
        in_keep_p = in_top >= p
        out_keep_p = out_top >= p
        for d in d_candidates:
            kept_correct = float(np.mean(in_keep_p & (in_distance <= d) & in_correct))
            if kept_correct + 1e-12 < floor:
                continue
            rejected = float(np.mean(~(out_keep_p & (out_distance <= d))))
            key = (rejected, kept_correct)
            if best is None or key > best[0]:
                best = (key, float(p), float(d))
    (rejected, kept_correct), p, d = best
    return {"min_probability": p, "max_distance": d, "chosen_rejected": rejected,
            "chosen_kept_correct": kept_correct, "min_kept_correct": floor}


def rates(in_top, in_distance, in_correct, out_top, out_distance, min_probability: float, max_distance: float) -> dict:
    """What a threshold pair does: in-set kept-correct and rejected shares, out-of-set rejected share."""
    in_reject = is_unknown(in_top, in_distance, min_probability, max_distance)
    out_reject = is_unknown(out_top, out_distance, min_probability, max_distance)
    return {"in_set_kept_correct": float(np.mean(~in_reject & np.asarray(in_correct, bool))),
            "in_set_accuracy": float(np.mean(np.asarray(in_correct, bool))),
            "in_set_rejected": float(np.mean(in_reject)), "in_set_examples": int(len(in_reject)),
            "out_of_set_rejected": float(np.mean(out_reject)) if len(out_reject) else None,
            "out_of_set_examples": int(len(out_reject))}


def save_params(model_dir: str, params: dict) -> str:
    """Write open_set.json into a SavedModel folder (temp name, then rename)."""
    import tensorflow as tf

    path = os.path.join(model_dir, PARAMS_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump({"version": PARAMS_VERSION, **params}, f)
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return path


def load_params(model_dir: str) -> dict:
    """The open-set parameters stored with a SavedModel, validated; OpenSetError if absent."""
    path = os.path.join(model_dir, PARAMS_FILE)
    if not os.path.exists(path):
        raise OpenSetError(f"the model at {model_dir} has no open-set threshold ({PARAMS_FILE}); "
                           "it was exported before open-set support: re-run the pipeline")
    with open(path, encoding="utf-8") as f:
        params = json.load(f)
    if int(params.get("version", 1)) > PARAMS_VERSION:
        raise OpenSetError(f"{PARAMS_FILE} is version {params['version']}; this code reads up to {PARAMS_VERSION}")
    validate_threshold(params["min_probability"], "stored min_probability")
    params["centroids"] = np.asarray(params["centroids"], np.float64)
    rule = params.get("whisper")
    if rule is not None:
        from models.open_set_whisper import RULE_KIND, SURE_FLOOR, TERMS, TWO_TERMS
        from models.whisper import languages as whisper_languages

        if rule.get("kind") != RULE_KIND:
            raise OpenSetError(f"stored Whisper rule is {rule.get('kind')!r}; this code applies {RULE_KIND!r}: "
                               "re-run the pipeline")
        terms = tuple(rule.get("terms", TWO_TERMS))
        if terms not in (TERMS, TWO_TERMS) or len(rule["standardise"]) != len(terms):
            raise OpenSetError(f"stored Whisper rule has terms {list(terms)} and {len(rule['standardise'])} "
                               f"standardisations; this code applies {list(TERMS)} or {list(TWO_TERMS)}")
        if list(rule["codes"]) != list(whisper_languages.codes_for(params["languages"])):
            raise OpenSetError(f"stored Whisper codes {rule['codes']} do not match languages {params['languages']}")
        sure = rule.get("whisper_sure_outside")
        if sure is not None and not SURE_FLOOR <= float(sure) <= 1.0:
            raise OpenSetError(f"stored whisper_sure_outside {sure} is outside [{SURE_FLOOR}, 1]")
    return params


def validate_threshold(value: float, what: str = "threshold") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise OpenSetError(f"{what} must be in [0, 1], got {value}")
    return value


def decide(probabilities: dict, embedding: np.ndarray, params: dict, min_probability: float | None = None,
           whisper_probabilities=None, whisper_embedding=None) -> dict:
    """{"language": name or "unknown", "unknown_reason"?, "centroid_distance", "unknown_guess"?,
    "unknown_guess_probability"?} for one clip.

    `probabilities` maps language -> calibrated probability (the pooled answer);
    `min_probability` overrides the stored probability threshold; `whisper_probabilities` [99]
    and `whisper_embedding` are the clip's pooled Whisper distribution and encoder features
    when the model gives them: with both, a stored Whisper rule decides; with the distribution,
    an unknown answer names Whisper's guess.
    """
    languages = list(params["languages"])
    if sorted(probabilities) != sorted(languages):
        raise OpenSetError(f"open-set parameters are for {languages}, the model answered {sorted(probabilities)}")
    p_min = None if min_probability is None else validate_threshold(min_probability)
    top_language = max(probabilities, key=probabilities.get)
    predicted = np.array([languages.index(top_language)])
    top = float(probabilities[top_language])
    distance = float(centroid_distance(embedding, predicted, params["centroids"])[0])
    out = {"language": top_language, "centroid_distance": round(distance, 6)}
    rule = params.get("whisper")
    if rule is not None and whisper_probabilities is not None and whisper_embedding is not None:
        from models.open_set_whisper import rule_inputs, rule_score, whisper_outside_top, whisper_sure_outside

        x = rule_inputs(whisper_embedding, whisper_probabilities)
        score = float(rule_score(x, predicted, rule)[0])
        if p_min is not None and top < p_min:
            out.update(language=UNKNOWN, unknown_reason=f"top probability {top:.3f} < {p_min:.3f} ({top_language})")
        elif score > rule["threshold"]:
            out.update(language=UNKNOWN, unknown_reason=f"open-set score {score:.3f} > {rule['threshold']:.3f} "
                                                        f"(nearest known: {top_language})")
        elif whisper_sure_outside(x, rule)[0]:
            sure = float(whisper_outside_top(x, rule["codes"])[0])
            out.update(language=UNKNOWN, unknown_reason=f"{WHISPER_SURE_REASON} {sure:.3f} to a language outside "
                                                        f"the model's (> {float(rule['whisper_sure_outside']):.3f})")
    else:
        p_min = params["min_probability"] if p_min is None else p_min
        if top < p_min:
            out.update(language=UNKNOWN, unknown_reason=f"top probability {top:.3f} < {p_min:.3f} ({top_language})")
        elif distance > params["max_distance"]:
            out.update(language=UNKNOWN, unknown_reason=f"embedding distance {distance:.3f} > "
                                                        f"{params['max_distance']:.3f} from {top_language}")
    if out["language"] == UNKNOWN and whisper_probabilities is not None:
        from models.open_set_whisper import unknown_guess
        from models.whisper import languages as whisper_languages

        try:
            in_set = whisper_languages.indices_for(languages)
        except whisper_languages.UnknownLanguageName:
            in_set = np.zeros(0, np.int64)     # a language Whisper does not know: guess over all 99
        out.update(unknown_guess(whisper_probabilities, in_set))
    return out


# --- command line (`python -m serving predict --reject-unknown`) ---------------------------

def _unit_interval(text: str) -> float:
    import argparse

    try:
        return validate_threshold(float(text))
    except (ValueError, OpenSetError) as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_cli_flags(parser) -> None:
    parser.add_argument("--reject-unknown", action="store_true",
                        help="answer \"unknown\" for a language the model does not know (threshold and "
                             "centroids stored with the model by the pipeline)")
    parser.add_argument("--unknown-threshold", type=_unit_interval, default=None, metavar="P",
                        help="with --reject-unknown: the lowest top probability still answered, in [0, 1]; "
                             "%(default)s: the threshold stored with the model (a model with Whisper: its "
                             "stored rule alone)")


def cli_params(args, model_path: str) -> dict | None:
    """The stored parameters when --reject-unknown is on (OpenSetError if absent), else None."""
    if getattr(args, "unknown_threshold", None) is not None and not args.reject_unknown:
        raise OpenSetError("--unknown-threshold needs --reject-unknown")
    return load_params(model_path) if getattr(args, "reject_unknown", False) else None


def apply_to_record(record: dict, embedding, params: dict, min_probability: float | None,
                    whisper_probabilities=None, whisper_embedding=None) -> dict:
    """The CLI's JSON record with `language` replaced by "unknown" when rejected (reason added,
    and Whisper's guess when the model gives Whisper's distribution)."""
    decision = decide(record["probabilities"], embedding, params, min_probability, whisper_probabilities,
                      whisper_embedding)
    record = {**record, "language": decision["language"], "centroid_distance": decision["centroid_distance"]}
    for key in ("unknown_reason", "unknown_guess", "unknown_guess_probability"):
        if key in decision:
            record[key] = decision[key]
    return record
