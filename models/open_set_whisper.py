"""The open-set rule for models with Whisper: a tiny logistic score over five signals.

  log(1 - calibrated top probability), centroid distance, Mahalanobis distance of `embed` to
  the predicted language (shared covariance in a PCA subspace), log of Whisper's probability
  mass outside the model's languages, log of Whisper's top language outside them.

Fitted on the in-set held-out fold against the `threshold` languages only; the threshold is
the lowest score that keeps `min_kept_correct` of the correct in-set answers. Its own module
because it is the one part of the open set that needs Whisper's [99] distribution
(models/whisper/languages.CODES order); models/open_set.py keeps the two-threshold rule, the
parameters file and the decision, and calls into this module when the file has a rule.
"""
from __future__ import annotations

import numpy as np

from models.open_set import DEFAULT_MIN_KEPT_CORRECT, OpenSetError, centroid_distance

WHISPER_FEATURES = ("log_one_minus_top", "centroid_distance", "mahalanobis", "log_whisper_out_mass",
                    "log_whisper_top_out")
MAHALANOBIS_DIMS = 32
_LOG_FLOOR = 1e-6


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
