"""Calibrated confidence: temperature scaling fitted on held-out data, and its measure (ECE).

Temperature scaling divides the logits by one scalar T before the softmax: it never changes
the arg-max (accuracy is untouched) and, with one parameter, cannot overfit a few hundred
held-out segments. The model ends in a softmax, so its log-probabilities stand in for the
logits (softmax is shift-invariant: softmax(log p / T) == softmax(z / T)).

Fitting and measuring on the same segments would flatter the result, so `cross_fit` splits
the held-out segments into two folds (by held-out speaker when the fold ids say so), fits T
on one fold and measures ECE on the other, both ways, and reports the pooled out-of-fold
ECE. The temperature baked into the model is then fitted on all held-out segments.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

DEFAULT_BINS = 15
# A held-out set the model gets entirely right pushes T towards 0 (sharpening without end);
# below 0.25 the calibrated answer saturates to exact 0/1 in float32, which leaves nothing for
# allow-list renormalisation or the "unknown" threshold to work with. The demo fits 0.36.
_LOG_T_BOUNDS = (np.log(0.25), np.log(20.0))


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """log p with a floor, as logits for temperature scaling."""
    return np.log(np.clip(np.asarray(probabilities, np.float64), 1e-12, None))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(np.asarray(logits, np.float64) / float(temperature))


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = np.asarray(logits, np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=-1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean negative log-likelihood (a 1-D convex problem in 1/T)."""
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        raise ValueError("cannot fit a temperature on no examples")
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, np.exp(log_t)),
                             bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-5})
    return float(np.exp(result.x))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """Top-label confidence vs accuracy in `bins` equal-width bins over [0, 1]."""
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels, np.int64)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    # Bin i holds (i/bins, (i+1)/bins]; confidence 0 (impossible for a softmax) joins bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        accuracy = np.bincount(index, weights=correct, minlength=bins) / count
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
    return {"edges": np.linspace(0.0, 1.0, bins + 1), "count": count,
            "accuracy": accuracy, "confidence": mean_confidence}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE = sum over bins of (bin size / n) * |accuracy - mean confidence| of the top label."""
    table = reliability(probabilities, labels, bins)
    n = table["count"].sum()
    if n == 0:
        raise ValueError("ECE of no examples")
    filled = table["count"] > 0
    gaps = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float(np.sum(table["count"][filled] / n * gaps))


def two_folds(groups: np.ndarray) -> tuple[np.ndarray, str]:
    """Folds 0/1 from group ids (speaker hash buckets): the sorted distinct groups alternate, so
    two folds exist whenever two groups do. One group only: even/odd examples ("segment")."""
    groups = np.asarray(groups)
    distinct = np.unique(groups)
    if len(distinct) < 2:
        return np.arange(len(groups)) % 2, "segment"
    return np.searchsorted(distinct, groups) % 2, "speaker"


def cross_fit(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """Fit on one fold, measure on the other (both ways); then the temperature on everything.

    Returns the temperature to bake in, out-of-fold ECE after calibration (`ece`), ECE of
    the raw model on the same segments (`ece_uncalibrated`), and the out-of-fold calibrated
    probabilities (for the reliability diagram). With a single fold present (too few
    held-out speakers), the two folds are the even and odd segments instead, and
    `fold_by` says so.
    """
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    folds, fold_by = two_folds(groups)
    calibrated = np.empty_like(logits)
    fold_temperatures = []
    for held in (0, 1):
        fit, test = folds != held, folds == held
        if not test.any() or not fit.any():
            continue
        t = fit_temperature(logits[fit], labels[fit])
        fold_temperatures.append(t)
        calibrated[test] = apply_temperature(logits[test], t)
    raw = softmax(logits)
    return {"temperature": fit_temperature(logits, labels), "fold_temperatures": fold_temperatures,
            "ece": expected_calibration_error(calibrated, labels, bins),
            "ece_uncalibrated": expected_calibration_error(raw, labels, bins),
            "examples": int(len(labels)), "bins": bins, "fold_by": fold_by,
            "calibrated_probabilities": calibrated, "raw_probabilities": raw}


def plot_reliability(raw: np.ndarray, calibrated: np.ndarray, labels: np.ndarray, path: str,
                     bins: int = DEFAULT_BINS) -> str:
    """Reliability diagram (accuracy vs confidence per bin) before and after, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tensorflow as tf

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    for probs, name, style in ((raw, "uncalibrated", "o--"), (calibrated, "calibrated (out of fold)", "s-")):
        table = reliability(probs, labels, bins)
        filled = table["count"] > 0
        ece = expected_calibration_error(probs, labels, bins)
        ax.plot(table["confidence"][filled], table["accuracy"][filled], style, label=f"{name}: ECE {ece:.3f}")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("reliability, held-out speakers (segments)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path
