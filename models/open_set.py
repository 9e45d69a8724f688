"""Open set: answer "unknown" for a clip whose language is none of the model's.

The decision uses two things the model knows: its calibrated top probability, and the
cosine distance of the clip's `embed` vector to the centroid of the predicted language
(centroids of the training embeddings, saved with the model). A clip is unknown when its
top probability is below `min_probability` or its distance is above `max_distance`.

Both thresholds are chosen inside the pipeline (`choose_thresholds`): the pair that rejects
the most out-of-set clips of the *threshold* languages while at least `min_kept_correct`
of the in-set held-out segments stay correct and accepted. The result is stored in the
SavedModel's `assets.extra/open_set.json` (TF Serving ignores that folder; the CLI reads it).

A model with Whisper (its outputs hold `whisper_language_probabilities`, Whisper's [99]
distribution in models/whisper/languages.CODES order) gets a stronger rule on top
(`"whisper"` in open_set.json, version 2): a tiny logistic score over five signals,

  log(1 - calibrated top probability), centroid distance, Mahalanobis distance of `embed` to
  the predicted language (shared covariance in a PCA subspace), log of Whisper's probability
  mass outside the model's languages, log of Whisper's top language outside them,

fitted on the in-set held-out fold vs the `threshold` languages, with the threshold on that
score at the lowest value that keeps `min_kept_correct` of the correct in-set answers.
The espeak-ng voices fool Whisper alone (an in-set clip often gets most of its mass on 'ja'
or 'la'), so no signal decides alone. An unknown answer also names Whisper's most likely
language outside the model's (`unknown_guess`, English name, with its Whisper probability):
what a closed-set model cannot say. Models without Whisper keep the two-threshold rule.
"""
from __future__ import annotations

import json
import os

import numpy as np

UNKNOWN = "unknown"
PARAMS_FILE = os.path.join("assets.extra", "open_set.json")
DEFAULT_MIN_KEPT_CORRECT = 0.95   # a margin over the 0.90 target: it is measured on other speakers
PARAMS_VERSION = 2                # 2: optional "whisper" rule; 1 (no "version"): thresholds only
WHISPER_FEATURES = ("log_one_minus_top", "centroid_distance", "mahalanobis", "log_whisper_out_mass",
                    "log_whisper_top_out")
MAHALANOBIS_DIMS = 32
_LOG_FLOOR = 1e-6


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


# --- Whisper rule (models whose outputs hold Whisper's 99-language distribution) ------------

def whisper_out_of_set(whisper_probabilities, in_set_indices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mass outside the model's languages, index of the top language outside them, its probability)
    for Whisper distributions [N, 99] (or one [99])."""
    w = np.atleast_2d(np.asarray(whisper_probabilities, np.float64))
    outside = np.ones(w.shape[1], bool)
    outside[np.asarray(in_set_indices, np.int64)] = False
    out = np.where(outside, w, -1.0)
    top = out.argmax(axis=1)
    return np.clip(1.0 - w[:, ~outside].sum(axis=1), 0.0, 1.0), top, w[np.arange(len(w)), top]


def unknown_guess(whisper_probabilities, in_set_indices) -> dict:
    """What an unknown clip most likely is: Whisper's top language outside the model's, by its
    English name, with Whisper's probability for it (over all 99)."""
    from models.whisper import languages as whisper_languages

    _, top, p = whisper_out_of_set(whisper_probabilities, in_set_indices)
    return {"unknown_guess": whisper_languages.name_of(whisper_languages.CODES[int(top[0])]),
            "unknown_guess_probability": round(float(p[0]), 6)}


def fit_mahalanobis(embeddings: np.ndarray, labels: np.ndarray, num_classes: int,
                    dims: int = MAHALANOBIS_DIMS) -> dict:
    """Class means and one shared precision matrix of the training embeddings in their first
    `dims` principal directions (few voices: a full covariance of `embed` would be singular)."""
    x = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    components = vt[:max(1, min(dims, vt.shape[0] - 1))]
    z = (x - mean) @ components.T
    class_means = np.zeros((num_classes, len(components)))
    residual = []
    for c in range(num_classes):
        members = z[labels == c]
        if len(members):
            class_means[c] = members.mean(axis=0)
            residual.append(members - class_means[c])
    cov = np.atleast_2d(np.cov(np.concatenate(residual).T))
    cov += 1e-3 * max(float(np.trace(cov)) / len(cov), 1e-12) * np.eye(len(cov))
    return {"mean": mean.tolist(), "components": components.tolist(), "class_means": class_means.tolist(),
            "precision": np.linalg.inv(cov).tolist()}


def mahalanobis_distance(embeddings, predicted, fit: dict) -> np.ndarray:
    """Squared Mahalanobis distance of each embedding to its predicted class's mean."""
    z = (np.atleast_2d(np.asarray(embeddings, np.float64)) - np.asarray(fit["mean"])) @ np.asarray(fit["components"]).T
    diff = z - np.asarray(fit["class_means"])[np.asarray(predicted).reshape(-1)]
    return np.einsum("ij,jk,ik->i", diff, np.asarray(fit["precision"]), diff)


def rule_features(top_probability, distance, mahalanobis, whisper_probabilities, in_set_indices) -> np.ndarray:
    """[N, 5] inputs of the Whisper rule, in WHISPER_FEATURES order (larger: more unknown)."""
    out_mass, _, top_out = whisper_out_of_set(whisper_probabilities, in_set_indices)
    one_minus_top = 1.0 - np.asarray(top_probability, np.float64).reshape(-1)
    return np.stack([np.log(np.maximum(one_minus_top, _LOG_FLOOR)), np.asarray(distance, np.float64).reshape(-1),
                     np.asarray(mahalanobis, np.float64).reshape(-1), np.log(np.maximum(out_mass, _LOG_FLOOR)),
                     np.log(np.maximum(top_out, _LOG_FLOOR))], axis=1)


def fit_logistic(in_features: np.ndarray, out_features: np.ndarray, l2: float = 1.0, steps: int = 50) -> dict:
    """Standardised L2 logistic regression, in-set = 0, out-of-set = 1, each side weighted to half
    the loss (Newton's method: five features, no solver needed)."""
    x = np.concatenate([in_features, out_features]).astype(np.float64)
    y = np.r_[np.zeros(len(in_features)), np.ones(len(out_features))]
    sample_weight = np.where(y == 1, 0.5 / len(out_features), 0.5 / len(in_features))
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    xs = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(xs.shape[1])
    penalty = np.r_[np.full(xs.shape[1] - 1, l2 / len(x)), 0.0]   # the bias is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xs @ beta, -30, 30)))
        gradient = xs.T @ (sample_weight * (p - y)) + penalty * beta
        hessian = (xs * (sample_weight * p * (1 - p))[:, None]).T @ xs + np.diag(penalty + 1e-12)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": beta[:-1].tolist(), "bias": float(beta[-1])}


def logistic_score(features: np.ndarray, logistic: dict) -> np.ndarray:
    """The rule's score (log-odds of out-of-set) for [N, 5] features."""
    xs = (np.atleast_2d(features) - np.asarray(logistic["mean"])) / np.asarray(logistic["scale"])
    return xs @ np.asarray(logistic["weights"]) + float(logistic["bias"])


def choose_whisper_rule(in_features: np.ndarray, in_correct: np.ndarray, out_features: np.ndarray,
                        min_kept_correct: float = DEFAULT_MIN_KEPT_CORRECT) -> dict:
    """Fit the score on in-set vs out-of-set (`threshold` languages only) and choose its threshold:
    the lowest score threshold at which at least `min_kept_correct` of the correct in-set
    answers stay answered (so the floor holds for a model less accurate than the target too)."""
    in_features, out_features = np.asarray(in_features, np.float64), np.asarray(out_features, np.float64)
    in_correct = np.asarray(in_correct, bool)
    if len(in_features) == 0 or len(out_features) == 0 or not in_correct.any():
        raise OpenSetError("choosing the Whisper open-set rule needs in-set (some correct) and out-of-set examples")
    logistic = fit_logistic(in_features, out_features)
    in_score, out_score = logistic_score(in_features, logistic), logistic_score(out_features, logistic)
    correct_scores = np.sort(in_score[in_correct])
    keep = int(np.ceil(float(min_kept_correct) * len(correct_scores) - 1e-9))
    threshold = float(correct_scores[max(keep, 1) - 1])      # keeps `keep` correct answers (score <= threshold)
    return {"logistic": logistic, "threshold": threshold,
            "chosen_rejected": float(np.mean(out_score > threshold)),
            "chosen_kept_correct": float(np.mean((in_score <= threshold) & in_correct)),
            "min_kept_correct": float(min_kept_correct)}


def whisper_is_unknown(features: np.ndarray, rule: dict) -> np.ndarray:
    return logistic_score(features, rule["logistic"]) > float(rule["threshold"])


def whisper_rule_params(chosen: dict, mahalanobis: dict, model_languages) -> dict:
    """The `"whisper"` entry of open_set.json from choose_whisper_rule and fit_mahalanobis."""
    from models.whisper import languages as whisper_languages

    return {"features": list(WHISPER_FEATURES), "codes": list(whisper_languages.codes_for(model_languages)),
            "logistic": chosen["logistic"], "threshold": chosen["threshold"], "mahalanobis": mahalanobis}


def choose_whisper_open_set(languages, train_embedding, train_label, centres: np.ndarray, in_set: dict,
                            out_of_set: dict, min_kept_correct: float = DEFAULT_MIN_KEPT_CORRECT) -> tuple[dict, dict]:
    """(the `"whisper"` entry of open_set.json, report) for the Trainer.

    `in_set`: held-out segments, arrays `top` (calibrated), `embedding`, `predicted`, `correct`,
    `whisper` [N, 99] and `choose` (True: the fold that chooses; False: the fold that measures).
    `out_of_set`: the data/open_set clips, `top`, `embedding`, `predicted`, `whisper`, `role`
    and `language`. Only `role == "threshold"` clips choose; `measure` clips are only measured.
    """
    from models.whisper import languages as whisper_languages

    mahalanobis = fit_mahalanobis(train_embedding, train_label, len(languages))
    indices = whisper_languages.indices_for(languages)

    def features(part: dict) -> np.ndarray:
        return rule_features(part["top"], centroid_distance(part["embedding"], part["predicted"], centres),
                             mahalanobis_distance(part["embedding"], part["predicted"], mahalanobis),
                             part["whisper"], indices)

    in_features, out_features = features(in_set), features(out_of_set)
    choose, correct = np.asarray(in_set["choose"], bool), np.asarray(in_set["correct"], bool)
    role, language = np.asarray(out_of_set["role"]), np.asarray(out_of_set["language"])
    chosen = choose_whisper_rule(in_features[choose], correct[choose], out_features[role == "threshold"],
                                 min_kept_correct)
    in_reject, out_reject = whisper_is_unknown(in_features, chosen), whisper_is_unknown(out_features, chosen)
    measure_in, measure_out = ~choose, role == "measure"
    report = {
        "threshold": chosen["threshold"],
        "chosen_on": {"in_set_segments": int(choose.sum()), "out_of_set_clips": int((role == "threshold").sum()),
                      "rejected": chosen["chosen_rejected"], "kept_correct": chosen["chosen_kept_correct"],
                      "min_kept_correct": chosen["min_kept_correct"]},
        "measured": {"in_set_kept_correct": float(np.mean(~in_reject[measure_in] & correct[measure_in]))
                     if measure_in.any() else None,
                     "in_set_accuracy": float(correct[measure_in].mean()) if measure_in.any() else None,
                     "in_set_examples": int(measure_in.sum()),
                     "out_of_set_rejected": float(out_reject[measure_out].mean()) if measure_out.any() else None,
                     "out_of_set_examples": int(measure_out.sum())},
        "per_language": {str(lang): {"role": str(role[language == lang][0]),
                                     "rejected": float(out_reject[language == lang].mean()),
                                     "clips": int((language == lang).sum())} for lang in sorted(set(language))},
    }
    return whisper_rule_params(chosen, mahalanobis, languages), report


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
        from models.whisper import languages as whisper_languages

        if tuple(rule.get("features", ())) != WHISPER_FEATURES:
            raise OpenSetError(f"stored Whisper rule features {rule.get('features')}, this code computes "
                               f"{list(WHISPER_FEATURES)}")
        if list(rule["codes"]) != list(whisper_languages.codes_for(params["languages"])):
            raise OpenSetError(f"stored Whisper codes {rule['codes']} do not match languages {params['languages']}")
    return params


def validate_threshold(value: float, what: str = "threshold") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise OpenSetError(f"{what} must be in [0, 1], got {value}")
    return value


def decide(probabilities: dict, embedding: np.ndarray, params: dict, min_probability: float | None = None,
           whisper_probabilities=None) -> dict:
    """{"language": name or "unknown", "unknown_reason"?, "centroid_distance", "unknown_guess"?,
    "unknown_guess_probability"?} for one clip.

    `probabilities` maps language -> calibrated probability (the pooled answer);
    `min_probability` overrides the stored probability threshold; `whisper_probabilities` is the
    clip's pooled Whisper distribution [99] when the model has one: with it, a stored Whisper
    rule decides, and an unknown answer names Whisper's guess.
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
    if rule is not None and whisper_probabilities is not None:
        from models.whisper import languages as whisper_languages

        in_set = whisper_languages.indices_for(params["languages"])
        features = rule_features([top], [distance], mahalanobis_distance(embedding, predicted, rule["mahalanobis"]),
                                 whisper_probabilities, in_set)
        score = float(logistic_score(features, rule["logistic"])[0])
        if p_min is not None and top < p_min:
            out.update(language=UNKNOWN, unknown_reason=f"top probability {top:.3f} < {p_min:.3f} ({top_language})")
        elif score > rule["threshold"]:
            out.update(language=UNKNOWN, unknown_reason=f"open-set score {score:.3f} > {rule['threshold']:.3f} "
                                                        f"(nearest known: {top_language})")
    else:
        p_min = params["min_probability"] if p_min is None else p_min
        if top < p_min:
            out.update(language=UNKNOWN, unknown_reason=f"top probability {top:.3f} < {p_min:.3f} ({top_language})")
        elif distance > params["max_distance"]:
            out.update(language=UNKNOWN, unknown_reason=f"embedding distance {distance:.3f} > "
                                                        f"{params['max_distance']:.3f} from {top_language}")
    if out["language"] == UNKNOWN and whisper_probabilities is not None:
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
                    whisper_probabilities=None) -> dict:
    """The CLI's JSON record with `language` replaced by "unknown" when rejected (reason added,
    and Whisper's guess when the model gives Whisper's distribution)."""
    decision = decide(record["probabilities"], embedding, params, min_probability, whisper_probabilities)
    record = {**record, "language": decision["language"], "centroid_distance": decision["centroid_distance"]}
    for key in ("unknown_reason", "unknown_guess", "unknown_guess_probability"):
        if key in decision:
            record[key] = decision[key]
    return record
