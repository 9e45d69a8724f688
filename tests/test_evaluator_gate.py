"""The Evaluator's gate as TFMA applies it: the pipeline's EvalConfig through TFMA's own validator.

The whole-pipeline tests only see a model that passes; here the same EvalConfig is given
metric values on both sides of the bound (and of the regression tolerance), and TFMA's
metrics_validator, the code the Evaluator runs to decide the blessing, must say no below them.
"""
from __future__ import annotations

import pytest
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_specs

from pipeline.pipeline import eval_config

LANGUAGES = ["English", "French", "German"]
BOUND, TOLERANCE = 0.8, 0.01


def _blessed(accuracy: float, change: float = 0.0, slice_key=()) -> bool:
    config = eval_config(LANGUAGES, BOUND, TOLERANCE)
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, eval_config=config)
    metrics = {key: (change if key.is_diff else accuracy) for key in thresholds}
    assert {key.name for key in metrics} == {"sparse_categorical_accuracy"}     # only accuracy is gated
    return metrics_validator.validate_metrics((slice_key, metrics), config).validation_ok


@pytest.mark.parametrize("accuracy, change, blessed", [
    (0.85, 0.0, True),
    (0.79, 0.0, False),           # below the absolute bound
    (0.85, -0.005, True),         # a regression within the tolerance
    (0.85, -0.05, False),         # worse than the blessed baseline by more than the tolerance
])
def test_accuracy_bound_and_regression_tolerance(accuracy, change, blessed):
    assert _blessed(accuracy, change) is blessed


def test_per_language_slices_are_reported_not_gated():
    assert _blessed(0.1, -0.5, slice_key=(("language", "English"),)) is True


def test_per_class_precision_and_recall_are_computed_for_every_language():
    config = eval_config(LANGUAGES, BOUND, TOLERANCE)
    binarized = [spec for spec in config.metrics_specs if spec.binarize.class_ids.values]
    assert [list(spec.binarize.class_ids.values) for spec in binarized] == [[0, 1, 2]]
    assert {m.class_name for m in binarized[0].metrics} == {"Precision", "Recall"}
