"""The open-set rule for models with Whisper: a background class, a discriminant distance on
Whisper's own representation and Whisper's surprise at the model's answer, with a threshold
cross-fitted over training speakers, plus Whisper's sureness of a language outside the model's.

Inputs of one clip: Whisper's pooled encoder features (`whisper_xf`, [1024] or [512], pooled over
the clip's windows as serving pools them) and Whisper's distribution over its 99 languages. Three
scores, all larger for "unknown":

- background: a multinomial logistic regression over the model's languages plus one "other"
  class (the out-of-set `threshold` languages), on [encoder features, log Whisper
  distribution] standardised; the score is log P(other) - log max P(known language);
- discriminant distance: squared distance, in the shrinkage-LDA space of the model's
  languages (fitted on the encoder features of the training speakers), to the predicted
  language's mean; its log;
- Whisper's surprise: -log of Whisper's probability for the language the model answered.

The rule's score is the sum of the three, each standardised over in-set reference clips (equal
weights: nothing is tuned on speech outside the training data); a clip is unknown above the
threshold, or when Whisper gives a language outside the model's more probability than it gave
one on any correct reference answer (`whisper_sure_outside`, about 0.97: Whisper is sure of
human speech, so this is what rejects most human voices in other languages).

The reference clips are ones the scorers never saw: the held-out choosing fold, and every
training clip scored by scorers refitted without its speaker group (`folds` groups of
speakers). The threshold is the lowest score that keeps `min_kept_correct` of the correct
reference answers; so many reference clips (all speakers) make it stable from one training run
to the next. Only `threshold`-role out-of-set clips are ever read to fit anything.

Why three: the first two are fitted on the training synthesizer's voices, so a human voice of a
known language looks like a stranger to them (with only those two, about a tenth of correct
human answers were rejected; docs/benchmarks.md). Whisper was pretrained on human speech and
hears the language of a human voice (it names the model's answer for about 0.92 of human
in-set clips, for under 0.11 of out-of-set ones), while it often mishears espeak-ng voices
(in-set French as 'la' or 'ja', unseen Arabic as 'en'), so its surprise alone rejects too little
there. Its own module because it is the one part of the open set that needs Whisper's outputs;
models/open_set.py keeps the two-threshold rule, the parameters file and the decision, and
calls into this module when the file has a rule.
"""
from __future__ import annotations

import numpy as np

from models.open_set import DEFAULT_MIN_KEPT_CORRECT, OpenSetError

RULE_KIND = "background_lda"
DEFAULT_FOLDS = 12      # speaker groups the training clips are cross-fitted over
BACKGROUND_C = 0.1      # inverse L2 strength of the background regression (standardised inputs)
_LOG_FLOOR = 1e-8
MAX_Z = 8.0             # standardised inputs are clipped: a column almost constant in training can't dominate
TERMS = ("background", "distance", "whisper_surprise")
TWO_TERMS = TERMS[:2]  # rules stored without "terms" (before Whisper's surprise) still apply as stored
SURE_FLOOR = 0.5        # Whisper's sureness clause needs at least a majority for the language outside


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


def rule_inputs(whisper_embedding, whisper_probabilities) -> np.ndarray:
    """[N, D + 99]: pooled encoder features, then the log of Whisper's distribution."""
    f = np.atleast_2d(np.asarray(whisper_embedding, np.float64))
    w = np.atleast_2d(np.asarray(whisper_probabilities, np.float64))
    if len(f) != len(w):
        raise OpenSetError(f"{len(f)} encoder feature rows but {len(w)} Whisper distributions")
    return np.hstack([f, np.log(np.maximum(w, _LOG_FLOOR))])


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip((x - mean) / scale, -MAX_Z, MAX_Z)


def fit_scorers(x: np.ndarray, labels: np.ndarray, other: np.ndarray, num_classes: int,
                c: float = BACKGROUND_C) -> dict:
    """The two scorers from in-set rows `x` [N, D + 99] with `labels`, and out-of-set rows `other`."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression

    x, other, labels = np.asarray(x, np.float64), np.asarray(other, np.float64), np.asarray(labels, np.int64)
    if len(other) == 0 or len(set(labels.tolist())) < 2:
        raise OpenSetError("the Whisper open-set rule needs two in-set languages and out-of-set clips")
    dims = x.shape[1] - 99
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
    both = _standardise(np.concatenate([x, other]), mean, scale)
    classes = np.r_[labels, np.full(len(other), num_classes)]
    background = LogisticRegression(C=c, max_iter=3000).fit(both, classes)
    coef = np.zeros((num_classes + 1, x.shape[1]))
    intercept = np.full(num_classes + 1, -1e9)     # a language without training rows: never the answer
    coef[background.classes_], intercept[background.classes_] = background.coef_, background.intercept_
    z = _standardise(x, mean, scale)[:, :dims]
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(z, labels)
    keep = len(lda.classes_) - 1
    projected = z @ lda.scalings_[:, :keep]
    class_means = np.zeros((num_classes, keep))
    for k in lda.classes_:
        class_means[k] = projected[labels == k].mean(axis=0)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": coef.tolist(), "intercept": intercept.tolist(),
            "lda_scalings": lda.scalings_[:, :keep].tolist(),
            "lda_class_means": class_means.tolist()}


def raw_scores(x, predicted, scorers: dict) -> tuple[np.ndarray, np.ndarray]:
    """(background log-odds, log discriminant distance to the predicted language) per row."""
    z = _standardise(np.atleast_2d(np.asarray(x, np.float64)), np.asarray(scorers["mean"]),
                     np.asarray(scorers["scale"]))
    logits = z @ np.asarray(scorers["coef"]).T + np.asarray(scorers["intercept"])
    background = logits[:, -1] - logits[:, :-1].max(axis=1)    # log P(other) - log max P(known)
    scalings = np.asarray(scorers["lda_scalings"])
    projected = z[:, :len(scalings)] @ scalings
    diff = projected - np.asarray(scorers["lda_class_means"])[np.asarray(predicted, np.int64).reshape(-1)]
    return background, np.log(np.maximum(np.sum(diff * diff, axis=1), 1e-12))


def whisper_surprise(x, predicted, codes) -> np.ndarray:
    """-log of Whisper's probability for the model's answer, per row of rule_inputs `x`; `codes`:
    the Whisper codes of the model's languages, in its order."""
    from models.whisper import languages as whisper_languages

    x = np.atleast_2d(np.asarray(x, np.float64))
    columns = whisper_languages.indices_for(codes)
    picked = x.shape[1] - 99 + columns[np.asarray(predicted, np.int64).reshape(-1)]
    return -x[np.arange(len(x)), picked]


def _standardised_sum(terms, standardise) -> np.ndarray:
    return sum((t - m) / s for t, (m, s) in zip(terms, standardise))


def rule_score(x, predicted, rule: dict) -> np.ndarray:
    """The rule's score: its raw scores, each standardised over the reference clips, summed."""
    terms = list(raw_scores(x, predicted, rule["scorers"]))
    if tuple(rule.get("terms", TWO_TERMS)) == TERMS:
        terms.append(whisper_surprise(x, predicted, rule["codes"]))
    return _standardised_sum(terms, rule["standardise"])


def whisper_outside_top(x, codes) -> np.ndarray:
    """Whisper's probability for its top language outside the model's, per row of rule_inputs `x`."""
    from models.whisper import languages as whisper_languages

    x = np.atleast_2d(np.asarray(x, np.float64))
    _, _, p = whisper_out_of_set(np.exp(x[:, -99:]), whisper_languages.indices_for(codes))
    return p


def whisper_sure_outside(x, rule: dict) -> np.ndarray:
    """True where Whisper is surer of a language outside the model's than it was on any correct
    reference answer (the rule's `whisper_sure_outside`); always False for rules stored without it."""
    sure = rule.get("whisper_sure_outside")
    if sure is None:
        return np.zeros(len(np.atleast_2d(x)), bool)
    return whisper_outside_top(x, rule["codes"]) > float(sure)


def whisper_is_unknown(x, predicted, rule: dict) -> np.ndarray:
    return (rule_score(x, predicted, rule) > float(rule["threshold"])) | whisper_sure_outside(x, rule)


def _kept_threshold(scores: np.ndarray, correct: np.ndarray, min_kept_correct: float) -> float:
    """The lowest threshold at which `min_kept_correct` of the correct answers stay (score <= it)."""
    correct_scores = np.sort(scores[correct])
    keep = int(np.ceil(float(min_kept_correct) * len(correct_scores) - 1e-9))
    return float(correct_scores[max(keep, 1) - 1])


def cross_fitted_scores(x, labels, predicted, groups, other_x, num_classes: int,
                        folds: int = DEFAULT_FOLDS) -> tuple[np.ndarray, np.ndarray]:
    """raw_scores of each training row by scorers fitted without its speaker group: the sorted
    groups go round-robin into `folds` folds (each its own fold when there are no more)."""
    x, labels, predicted, groups = (np.asarray(v) for v in (x, labels, predicted, groups))
    background, distance = np.empty(len(x)), np.empty(len(x))
    distinct = np.unique(groups)
    for k in range(min(folds, len(distinct))):
        held = np.isin(groups, distinct[k::folds])
        if held.all() or len(set(labels[~held].tolist())) < 2:
            raise OpenSetError("cross-fitting the Whisper open-set rule needs two or more training speakers")
        part = fit_scorers(x[~held], labels[~held], other_x, num_classes)
        background[held], distance[held] = raw_scores(x[held], predicted[held], part)
    return background, distance


def choose_rule(train: dict, other_x: np.ndarray, choose: dict, codes,
                min_kept_correct: float = DEFAULT_MIN_KEPT_CORRECT, folds: int = DEFAULT_FOLDS) -> dict:
    """Fit the scorers and choose the threshold.

    `train`: rows the scorers learn from: `x` (rule_inputs), `label`, `predicted` and `correct`
    (the model's answer), `group` (speaker). `other_x`: the `threshold`-role out-of-set clips.
    `choose`: the held-out choosing fold, `x`, `predicted`, `correct`. `codes`: the Whisper
    codes of the model's languages, in its order. Each training row is scored by scorers fitted
    without its group (`folds` groups of speakers), so every reference score is one of a clip the
    scorers never saw. `whisper_sure_outside` is the highest probability Whisper gave a language
    outside the model's on a correct reference answer (at least SURE_FLOOR): the clause above it
    rejects no correct reference answer, so the threshold's `min_kept_correct` still holds.
    """
    codes, num_classes = list(codes), len(codes)
    train_x, labels = np.asarray(train["x"], np.float64), np.asarray(train["label"], np.int64)
    choose_x = np.asarray(choose["x"], np.float64)
    if len(train_x) == 0 or len(other_x) == 0:
        raise OpenSetError("choosing the Whisper open-set rule needs training and out-of-set clips")
    scorers = fit_scorers(train_x, labels, other_x, num_classes)
    background, distance = cross_fitted_scores(train_x, labels, train["predicted"], train["group"], other_x,
                                               num_classes, folds)
    choose_background, choose_distance = raw_scores(choose_x, choose["predicted"], scorers)
    reference_x = np.concatenate([train_x, choose_x])
    surprise = whisper_surprise(reference_x, np.r_[np.asarray(train["predicted"]), np.asarray(choose["predicted"])],
                                codes)
    terms = (np.r_[background, choose_background], np.r_[distance, choose_distance], surprise)
    correct = np.r_[np.asarray(train["correct"], bool), np.asarray(choose["correct"], bool)]
    if not correct.any():
        raise OpenSetError("choosing the Whisper open-set rule needs some correct in-set answers")
    standardise = [[float(v.mean()), float(max(v.std(), 1e-9))] for v in terms]
    scores = _standardised_sum(terms, standardise)
    threshold = _kept_threshold(scores, correct, min_kept_correct)
    kept = float(np.mean((scores <= threshold)[correct]))
    outside = whisper_outside_top(reference_x, codes)
    sure = max(float(outside[correct].max()), SURE_FLOOR)
    return {"kind": RULE_KIND, "terms": list(TERMS), "codes": codes, "scorers": scorers, "standardise": standardise,
            "threshold": threshold, "whisper_sure_outside": sure, "reference_clips": int(len(scores)),
            "reference_kept_correct": kept, "min_kept_correct": float(min_kept_correct)}


def choose_whisper_open_set(languages, train: dict, in_set: dict, out_of_set: dict,
                            min_kept_correct: float = DEFAULT_MIN_KEPT_CORRECT,
                            folds: int = DEFAULT_FOLDS) -> tuple[dict, dict]:
    """(the `"whisper"` entry of open_set.json, report) for the Trainer.

    `train`: training rows, arrays `whisper_embedding`, `whisper`, `label`, `predicted`,
    `correct`, `group`. `in_set`: held-out segments, `whisper_embedding`, `whisper` [N, 99],
    `predicted`, `correct` and `choose` (True: the fold that chooses; False: the fold that
    measures). `out_of_set`: the data/open_set clips, `whisper_embedding`, `whisper`,
    `predicted`, `role` and `language`. Only `role == "threshold"` clips choose; `measure`
    clips are only measured.
    """
    from models.whisper import languages as whisper_languages

    def x(part: dict) -> np.ndarray:
        return rule_inputs(part["whisper_embedding"], part["whisper"])

    choose, correct = np.asarray(in_set["choose"], bool), np.asarray(in_set["correct"], bool)
    role, language = np.asarray(out_of_set["role"]), np.asarray(out_of_set["language"])
    in_x, out_x = x(in_set), x(out_of_set)
    in_predicted = np.asarray(in_set["predicted"])
    rule = choose_rule({"x": x(train), "label": train["label"], "predicted": train["predicted"],
                        "correct": train["correct"], "group": train["group"]},
                       out_x[role == "threshold"],
                       {"x": in_x[choose], "predicted": in_predicted[choose], "correct": correct[choose]},
                       whisper_languages.codes_for(languages), min_kept_correct, folds)
    in_reject = whisper_is_unknown(in_x, in_predicted, rule)
    out_reject = whisper_is_unknown(out_x, out_of_set["predicted"], rule)
    measure_in, measure_out = ~choose, role == "measure"
    report = {
        "threshold": rule["threshold"],
        "chosen_on": {"in_set_segments": int(choose.sum()), "reference_clips": rule["reference_clips"],
                      "out_of_set_clips": int((role == "threshold").sum()),
                      "kept_correct": rule["reference_kept_correct"], "min_kept_correct": rule["min_kept_correct"],
                      "whisper_sure_outside": rule["whisper_sure_outside"]},
        "measured": {"in_set_kept_correct": float(np.mean(~in_reject[measure_in] & correct[measure_in]))
                     if measure_in.any() else None,
                     "in_set_accuracy": float(correct[measure_in].mean()) if measure_in.any() else None,
                     "in_set_examples": int(measure_in.sum()),
                     "out_of_set_rejected": float(out_reject[measure_out].mean()) if measure_out.any() else None,
                     "out_of_set_rejected_whisper_sure": float(whisper_sure_outside(out_x, rule)[measure_out].mean())
                     if measure_out.any() else None,
                     "out_of_set_examples": int(measure_out.sum())},
        "per_language": {str(lang): {"role": str(role[language == lang][0]),
                                     "rejected": float(out_reject[language == lang].mean()),
                                     "clips": int((language == lang).sum())} for lang in sorted(set(language))},
    }
    return rule, report
