"""After a local run: read ML Metadata and the artifacts, print a summary, save PNGs.

The summary answers what a person asks after a run: how much data went where, how long
each step took (or that it was reused from cache), how good the model is overall and per
language, whether it was blessed, and where it was pushed. It is also written as
reports/run_summary.json, with the PNGs beside it.
"""
from __future__ import annotations

import json
import math
import os
import re

import tensorflow as tf
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.pipeline import ACCURACY_METRIC
from reports.runs import latest_run

_STATES = {metadata_store_pb2.Execution.COMPLETE: "ran", metadata_store_pb2.Execution.CACHED: "cached",
           metadata_store_pb2.Execution.FAILED: "failed"}


def _value(metric: dict):
    value = metric.get("doubleValue")
    return None if value is None or value == "NaN" or (isinstance(value, float) and math.isnan(value)) else float(value)


def _evaluation(uri: str, languages: list[str]) -> dict:
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(uri)
    out = {"per_language": {}}
    for slice_key, metrics in result.slicing_metrics:
        overall = metrics[""][""]
        entry = {"accuracy": _value(overall[ACCURACY_METRIC]), "examples": _value(overall["example_count"])}
        if not slice_key:
            out.update(entry)
            out["per_class"] = {
                # "precision@1" / "recall@1" with top_k=1: stored as plain precision / recall.
                languages[int(match.group(1))]: {m.split("@")[0]: _value(v) for m, v in vals.items()}
                for k, vals in metrics[""].items() if (match := re.match(r"classId:(\d+)", k))}
        elif "language" in dict(slice_key):
            out["per_language"][dict(slice_key)["language"]] = entry
        elif "duration_bucket" in dict(slice_key):   # seconds of real audio in the segment, rounded up
            out.setdefault("per_duration", {})[dict(slice_key)["duration_bucket"]] = entry
    for slice_key, plots in result.plots or []:
        if not slice_key:
            matrices = plots[""][""]["multiClassConfusionMatrixAtThresholds"]["matrices"][0]["entries"]
            size = len(languages)
            confusion = [[0.0] * size for _ in range(size)]
            for cell in matrices:
                actual, predicted = cell.get("actualClassId", 0), cell.get("predictedClassId", 0)
                confusion[actual][predicted] += cell.get("numWeightedExamples", 0.0)
            out["confusion"] = confusion
    return out


def plot_confusion(confusion: list[list[float]], languages: list[str], path: str, title: str) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.asarray(confusion)
    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(languages) + 2, 1.0 * len(languages) + 1.5))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(languages)), languages, rotation=45, ha="right")
    ax.set_yticks(range(len(languages)), languages)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    for i in range(len(languages)):
        for j in range(len(languages)):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center",
                    color="white" if rows[i, j] > 0.5 else "black", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _first_waveform(examples_uri: str):
    from contract import features
    from contract.codec import read_floats, read_split

    for example in read_split(examples_uri, "train"):
        return read_floats(example.features.feature[features.WAVEFORM])
    return None


def _held_out_reports(model_run: str, reports: str, pngs: list) -> dict:
    """The Trainer's calibration and open-set measurements (models/keras_model/held_out.py)."""
    out = {}
    for name in ("calibration", "open_set"):
        path = os.path.join(model_run, f"{name}.json")
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                out[name] = json.load(f)
    diagram = os.path.join(model_run, "reliability_diagram.png")
    if tf.io.gfile.exists(diagram):
        tf.io.gfile.copy(diagram, os.path.join(reports, "reliability_diagram.png"), overwrite=True)
        pngs.append(os.path.join(reports, "reliability_diagram.png"))
    return out


def _warm_start_record(model_run: str) -> dict:
    """{"warm_started_from": base Model URI or None, "warm_start_reason"} (models/keras_model/warm_start.py);
    a model_run without the record is from before warm start existed."""
    path = os.path.join(model_run, "warm_start.json")
    if not tf.io.gfile.exists(path):
        return {"warm_started_from": None, "warm_start_reason": "not recorded (older trainer)"}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def summarise_run(pipeline, output_dir: str, wall_seconds: float, languages: list[str],
                  sample_rate: int, augment_config: dict | None = None, run_name: str | None = None) -> dict:
    """Summarise the run `run_name` (the one this process ran; default: the newest in ML Metadata)."""
    store = metadata_store.MetadataStore(pipeline.metadata_connection_config)
    run = latest_run(store, pipeline.pipeline_info.pipeline_name, run_name)
    reports = os.path.join(output_dir, "reports")
    os.makedirs(reports, exist_ok=True)

    summary: dict = {"wall_seconds": round(wall_seconds, 1), "components": {}, "pngs": [], "run_id": run_name}
    for component, (execution, _) in run.items():
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        summary["components"][component] = {"state": _STATES.get(execution.last_known_state, "unknown"),
                                            "seconds": round(seconds, 1)}

    if "S3AudioExampleGen" in run:
        examples = run["S3AudioExampleGen"][1]["examples"][0]
        with tf.io.gfile.GFile(os.path.join(examples.uri, "ingestion_report.json")) as f:  # local or s3://
            summary["ingestion"] = json.load(f)
        summary["examples_uri"] = examples.uri
        report = summary["ingestion"]
        summary["ignored_at_listing"] = {
            reason: {"count": count, "keys": report.get("ignored_keys", {}).get(reason, [])}
            for reason, count in report.get("ignored_objects", {}).items()}
        waveform = _first_waveform(examples.uri)
        if waveform is not None and augment_config is not None:
            from audio.augment import AugmentationPolicy
            from audio.plots import plot_augmentations
            path = os.path.join(reports, "augmentations.png")
            plot_augmentations(waveform, sample_rate, path, seed=0,
                               config=AugmentationPolicy.from_dict(augment_config).default)
            summary["pngs"].append(path)
    data_validation = data_validation_summary(run)
    if data_validation is not None:
        summary["data_validation"] = data_validation
    if "Trainer" in run:
        model_run = run["Trainer"][1]["model_run"][0].uri
        summary["trained_model_uri"] = run["Trainer"][1]["model"][0].uri
        curves = os.path.join(model_run, "training_curves.png")
        if tf.io.gfile.exists(curves):
            tf.io.gfile.copy(curves, os.path.join(reports, "training_curves.png"), overwrite=True)
            summary["pngs"].append(os.path.join(reports, "training_curves.png"))
        summary.update(_held_out_reports(model_run, reports, summary["pngs"]))
        summary["trainer"] = _warm_start_record(model_run)
    if "Evaluator" in run:
        outputs = run["Evaluator"][1]
        summary["evaluation"] = _evaluation(outputs["evaluation"][0].uri, languages)
        blessing = outputs["blessing"][0]
        summary["blessed"] = bool(blessing.custom_properties["blessed"].int_value)
        if "confusion" in summary["evaluation"]:
            path = plot_confusion(summary["evaluation"]["confusion"], languages,
                                  os.path.join(reports, "confusion_matrix.png"),
                                  "eval confusion (held-out speakers, segments)")
            summary["pngs"].append(path)
    if "Pusher" in run:
        pushed = run["Pusher"][1]["pushed_model"][0]
        is_pushed = bool(pushed.custom_properties["pushed"].int_value)
        summary["pushed_to"] = pushed.custom_properties["pushed_destination"].string_value if is_pushed else None

    with open(os.path.join(reports, "run_summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    print(format_summary(summary, languages))
    return summary


def add_to_summary_file(output_dir: str, **fields) -> None:
    """Add fields known only after summarise_run (the halt message, the model card) to run_summary.json."""
    path = os.path.join(output_dir, "reports", "run_summary.json")
    with open(path) as f:
        summary = json.load(f)
    summary.update(fields)
    with open(path + ".tmp", "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def data_validation_summary(run: dict) -> dict | None:
    """DataValidator's report (every anomaly with its clip keys), or None when it did not run."""
    if "DataValidator" not in run or not run["DataValidator"][1].get("report"):
        return None
    from components.data_validator.executor import read_report

    return read_report(run["DataValidator"][1]["report"][0].uri)


def format_data_validation(report: dict) -> list[str]:
    from components.data_validator.checks import format_report

    return [""] + format_report(report)


_SHOWN = 20  # skipped clips printed in the summary; the report lists up to 1000


def _fmt(value, pattern="{:.3f}"):
    return "-" if value is None else pattern.format(value)


def format_summary(summary: dict, languages: list[str]) -> str:
    lines = ["", "=" * 72, "langid-tfx run summary", "=" * 72]
    ingestion = summary.get("ingestion")
    if ingestion:
        skipped_count = ingestion.get("skipped_count", len(ingestion["skipped"]))
        lines.append(f"clips listed: {ingestion['clips_listed']}, skipped: {skipped_count}")
        if "clips_ingested" in ingestion:
            lines.append(f"clips ingested this run: {ingestion['clips_ingested']} (span {ingestion['span']}), "
                         f"carried over: {ingestion['clips_carried_over']}, total: {ingestion['clips_total']}")
        for skipped in ingestion["skipped"][:_SHOWN]:
            lines.append(f"  skipped {skipped['key']}: {skipped['reason']}")
        if skipped_count > _SHOWN:
            lines.append(f"  ... {skipped_count - _SHOWN} more in the ingestion report")
        for reason, keys in ingestion.get("ignored_keys", {}).items():
            count = ingestion["ignored_objects"].get(reason, len(keys))
            if count:
                shown = ", ".join(keys[:3]) + (f" and {count - 3} more" if count > 3 else "")
                lines.append(f"ignored at listing ({reason.replace('_', ' ')}): {count}: {shown}")
        problems = ingestion.get("manifest", {}).get("problem_count", 0)
        if problems:
            lines.append(f"manifest rows with problems: {problems} (see the ingestion report)")
        lines.append(f"{'split':6s} {'language':10s} {'speakers':>8s} {'clips':>6s} {'segments':>8s} {'audio s':>8s}")
        for split in ("train", "eval"):
            for language in languages:
                e = ingestion["per_split"].get(split, {}).get(language)
                if e:
                    lines.append(f"{split:6s} {language:10s} {e['speakers']:8d} {e['clips']:6d} "
                                 f"{e['segments']:8d} {e['seconds']:8.1f}")
    if summary.get("data_validation"):
        lines.extend(format_data_validation(summary["data_validation"]))
    lines.append("")
    lines.append(f"{'component':32s} {'state':7s} {'seconds':>8s}")
    for component, info in summary["components"].items():
        lines.append(f"{component:32s} {info['state']:7s} {info['seconds']:8.1f}")
    lines.append(f"{'whole run (wall clock)':32s} {'':7s} {summary['wall_seconds']:8.1f}")
    evaluation = summary.get("evaluation")
    if evaluation:
        lines.append("")
        lines.append(f"eval accuracy (held-out speakers): {_fmt(evaluation.get('accuracy'))} "
                     f"over {_fmt(evaluation.get('examples'), '{:.0f}')} segments")
        lines.append(f"{'language':10s} {'accuracy':>8s} {'precision':>9s} {'recall':>7s} {'segments':>8s}")
        for language in languages:
            e = evaluation["per_language"].get(language, {})
            c = evaluation.get("per_class", {}).get(language, {})
            lines.append(f"{language:10s} {_fmt(e.get('accuracy')):>8s} {_fmt(c.get('precision')):>9s} "
                         f"{_fmt(c.get('recall')):>7s} {_fmt(e.get('examples'), '{:.0f}'):>8s}")
    trainer = summary.get("trainer")
    if trainer:
        lines.append(f"warm start: {trainer.get('warm_started_from') or 'none, trained from scratch'} "
                     f"({trainer.get('warm_start_reason')})")
    calibration = summary.get("calibration")
    if calibration:
        lines.append(f"calibration: T={calibration['temperature']:.3f}, ECE {calibration['ece_uncalibrated']:.3f} -> "
                     f"{calibration['ece']:.3f} (held-out speakers, cross-fitted by {calibration['fold_by']})")
    open_set = summary.get("open_set")
    if open_set:
        # The rule serving applies: a Whisper model's own rule when the Trainer stored one.
        rule, m = (("Whisper rule", open_set["whisper"]["measured"]) if "whisper" in open_set
                   else ("two thresholds", open_set["measured"]))
        lines.append(f"open set ({rule}): {_fmt(m['out_of_set_rejected'])} of unseen-language clips rejected, "
                     f"{_fmt(m['in_set_kept_correct'])} of held-out segments kept and correct "
                     f"(accuracy {_fmt(m['in_set_accuracy'])})")
    if "blessed" in summary:
        lines.append("")
        lines.append(f"blessed: {'yes' if summary['blessed'] else 'no'}")
        lines.append(f"pushed to: {summary.get('pushed_to') or 'not pushed'}")
    for png in summary["pngs"]:
        lines.append(f"picture: {png}")
    lines.append("=" * 72)
    return "\n".join(lines)
