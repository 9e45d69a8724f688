"""A model card for a pushed model, from ML Metadata, the run's artifacts and its run summary.

Written as reports/model_card.md and .html, and beside the SavedModel in the pushed
version's assets.extra/ (TF Serving reads only the warm-up file there, so loading is
unaffected). It says what the model was trained and evaluated on, how well it did, which
gate let it through, what it is for and not for, and where it came from, with the run's
pictures of the model: inline in the HTML (data: URIs, so the one file shows them wherever it
is opened or copied), linked by name from the Markdown and copied beside both copies.
"""
from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import subprocess

import tensorflow as tf

from config import DATA_PROPERTY, ConfigError, code_version_of, data_from_property, transform_settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARD_NAME = "model_card"

INTENDED_USE = (
    "Spoken-language identification of short clips (a few seconds of one speaker) among the "
    "languages listed below; the serving signatures pool 3 s windows over longer recordings.")
LIMITATIONS = [
    "Only the languages listed can be predicted: any other language is mapped to the closest one.",
    "Accuracy is measured on held-out speakers of the same corpus; recordings from other sources "
    "(microphones, rooms, noise, accents, ages) can score much lower.",
    "Not for decisions about people (nationality, origin, eligibility): language is not identity.",
]
SYNTHETIC_WARNING = (
    "**Trained on synthetic speech.** Part or all of the data is espeak-ng speech synthesis "
    "(the demo corpus, data/demo/README.md): a model trained on it says nothing about real speakers "
    "and is for demonstration only.")
# The run's pictures of the model the card shows (file names in reports/, from reports/run_report.py),
# by section. Not augmentations.png: about 0.7 MB of one clip's augmentations, twice in the pushed model.
PICTURES = {
    "confusion_matrix.png": ("evaluation", "Confusion matrix on the held-out speakers (segments)."),
    "reliability_diagram.png": ("evaluation", "Reliability diagram: accuracy against confidence, "
                                              "before and after calibration."),
    "training_curves.png": ("training", "Training curves: loss and accuracy per epoch, train and validation."),
}


# Stated on every card of a model on the `whisper` representation (docs/whisper.md).
PRETRAINED_WHISPER = (
    "Part of this model is OpenAI's Whisper-base (multilingual, 74M parameters; its encoder and "
    "language-token head run in the serving graph), released under the MIT licence. Whisper was "
    "pretrained on 680,000 hours of weakly supervised multilingual audio collected from the web "
    "(Radford et al., 2022, \"Robust Speech Recognition via Large-Scale Weak Supervision\"); "
    "its biases across languages, accents and recording conditions carry into this model.")


def git_version() -> str:
    """`git describe`-like code version, '+dirty' when the work tree has changes; 'unknown' outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _property(execution, name: str):
    for props in (execution.custom_properties, execution.properties):
        if name in props:
            value = props[name]
            kind = value.WhichOneof("value")
            return getattr(value, kind) if kind else None
    return None


def lineage_from_metadata(pipeline) -> dict:
    """Run id, data fingerprint, ingestion source and step code digests, from ML Metadata."""
    from ml_metadata.metadata_store import metadata_store

    from reports.runs import latest_run

    store = metadata_store.MetadataStore(pipeline.metadata_connection_config)
    runs = store.get_contexts_by_type("pipeline_run")
    run = latest_run(store, pipeline.pipeline_info.pipeline_name)
    out = {"pipeline": pipeline.pipeline_info.pipeline_name,
           "run_id": max(runs, key=lambda c: c.create_time_since_epoch).name if runs else None,
           "code_version": git_version(), "step_code": {}}
    for component, (execution, _) in sorted(run.items()):
        digest = _property(execution, "code_version")
        if not digest:   # Transform and Trainer carry it in their custom_config
            digest = code_version_of(_property(execution, "custom_config"))
        if digest:
            out["step_code"][component] = digest
    if "S3AudioExampleGen" in run:
        data = data_from_property(_property(run["S3AudioExampleGen"][0], DATA_PROPERTY))
        out["data_fingerprint"] = data.corpus_fingerprint
        out["source"] = f"s3://{data.bucket}/{data.prefix}"
        out["bucket"], out["prefix"] = data.bucket, data.prefix
    if "Transform" in run:
        try:
            settings = transform_settings(_property(run["Transform"][0], "custom_config"))
            out["representations"] = list(settings.features.representations)
        except ConfigError:   # another wire version: the card leaves the section out
            pass
    if "Evaluator" in run:
        config = _property(run["Evaluator"][0], "eval_config")
        out["gate"] = gate_from_eval_config(json.loads(config)) if config else {}
    return out


def gate_from_eval_config(config: dict) -> dict:
    """The thresholds of the TFMA EvalConfig as plain numbers (absolute bound, allowed regression)."""
    gate = {}
    for spec in config.get("metrics_specs", config.get("metricsSpecs", [])):
        for metric in spec.get("metrics", []):
            for per_slice in metric.get("per_slice_thresholds", metric.get("perSliceThresholds", [])):
                threshold = per_slice.get("threshold", {})
                value = threshold.get("value_threshold", threshold.get("valueThreshold", {}))
                change = threshold.get("change_threshold", threshold.get("changeThreshold", {}))
                name = metric.get("class_name", metric.get("className"))
                bound = _number(value.get("lower_bound", value.get("lowerBound")))
                regression = _number(change.get("absolute"))
                gate[name] = {"lower_bound": bound, "max_regression": None if regression is None else -regression}
    return gate


def _number(value):
    """A DoubleValue as JSON: a bare number, or {"value": number} in older writers."""
    return value.get("value") if isinstance(value, dict) else value


def synthetic_by_language(manifest_rows: list[dict], languages: list[str]) -> dict:
    """language -> "yes", "no", "partly" or "unknown", from the manifest's `synthetic` field."""
    out = {}
    for language in languages:
        flags = [row.get("synthetic") for row in manifest_rows if row.get("language") == language]
        known = [bool(flag) for flag in flags if flag is not None]
        if not known:
            out[language] = "unknown"
        else:
            out[language] = "yes" if all(known) and len(known) == len(flags) else ("no" if not any(known) else "partly")
    return out


def _fmt(value, pattern="{:.3f}"):
    return "-" if value is None else pattern.format(value)


def _escape(text: str) -> str:
    """Data-derived text (anomaly messages) as literal Markdown: no stray emphasis, links or HTML."""
    return re.sub(r"([\\`*_\[\]])", r"\\\1", html.escape(str(text), quote=False))


def _figures(pictures, section: str) -> list[str]:
    """Markdown image lines for `section`'s pictures (relative names: they sit beside the card)."""
    out = []
    for name in pictures:
        where, caption = PICTURES[name]
        if where == section:
            out += ["", f"![{caption}]({name})", "", f"*{caption}*"]
    return out


def render_markdown(summary: dict, lineage: dict, languages: list[str], synthetic: dict, created: str,
                    pictures=()) -> str:
    """The card as Markdown; every number comes from `summary` or `lineage`. `pictures`: names
    from PICTURES present beside the card, each shown in its section."""
    version = os.path.basename(str(summary.get("pushed_to") or "").rstrip("/")) or "-"
    lines = [f"# Model card: langid ({version})", "",
             f"Spoken-language identification, {len(languages)} languages: {', '.join(languages)}. "
             f"Created {created}.", ""]
    if any(flag in ("yes", "partly") for flag in synthetic.values()):
        lines += [SYNTHETIC_WARNING, ""]
    if "whisper" in (lineage.get("representations") or ()):
        lines += ["## Pretrained component", "", PRETRAINED_WHISPER, ""]
    lines += ["## Intended use", "", INTENDED_USE, "", "## Limitations", ""]
    lines += [f"- {item}" for item in LIMITATIONS] + [""]

    lines += ["## Data", "", "Speaker-disjoint split: no eval speaker is heard in training.", "",
              "| language | split | clips | speakers | hours | synthetic |", "| --- | --- | ---: | ---: | ---: | --- |"]
    per_split = (summary.get("ingestion") or {}).get("per_split", {})
    for language in languages:
        for split in ("train", "eval"):
            e = per_split.get(split, {}).get(language)
            if e:
                lines.append(f"| {language} | {split} | {e['clips']} | {e['speakers']} | "
                             f"{e['seconds'] / 3600:.3f} | {synthetic.get(language, 'unknown')} |")
    validation = summary.get("data_validation")
    if validation:
        lines += ["", f"Data validation: {validation['clips_checked']} clips, {validation['errors']} error(s), "
                  f"{validation['warnings']} warning(s).", ""]   # a list needs a blank line above it
        lines += [f"- {a['severity']}: `{a['check']}`: {_escape(a['message'])}" for a in validation["anomalies"][:20]]
        if len(validation["anomalies"]) > 20:
            lines.append(f"- ... {len(validation['anomalies']) - 20} more in run_summary.json")

    evaluation = summary.get("evaluation") or {}
    lines += ["", "## Evaluation (held-out speakers, per segment)", "",
              f"Overall accuracy **{_fmt(evaluation.get('accuracy'))}** over "
              f"{_fmt(evaluation.get('examples'), '{:.0f}')} segments.", "",
              "| language | accuracy | precision | recall | segments |", "| --- | ---: | ---: | ---: | ---: |"]
    for language in languages:
        e = evaluation.get("per_language", {}).get(language, {})
        c = evaluation.get("per_class", {}).get(language, {})
        lines.append(f"| {language} | {_fmt(e.get('accuracy'))} | {_fmt(c.get('precision'))} | "
                     f"{_fmt(c.get('recall'))} | {_fmt(e.get('examples'), '{:.0f}')} |")
    durations = evaluation.get("per_duration")
    if durations:
        lines += ["", "| clip duration | accuracy | segments |", "| --- | ---: | ---: |"]
        lines += [f"| {name} | {_fmt(e.get('accuracy'))} | {_fmt(e.get('examples'), '{:.0f}')} |"
                  for name, e in durations.items()]
    else:
        lines += ["", "Per-duration slices: not computed in this run."]
    lines += _figures(pictures, "evaluation")
    training = _figures(pictures, "training")
    if training:
        lines += ["", "## Training"] + training

    lines += ["", "## Gate", ""]
    for metric, threshold in (lineage.get("gate") or {}).items():
        lines.append(f"- {metric} on the overall slice > {threshold['lower_bound']}"
                     + (f", and no more than {threshold['max_regression']} below the last blessed model"
                        if threshold.get("max_regression") is not None else ""))
    lines.append(f"- blessed: {'yes' if summary.get('blessed') else 'no'}; pushed to `{summary.get('pushed_to')}`")

    trainer = summary.get("trainer") or {}
    lines += ["", "## Lineage", "",
              f"- pipeline run: `{lineage.get('run_id')}` ({lineage.get('pipeline')})",
              f"- code version: `{lineage.get('code_version')}`",
              f"- data: `{lineage.get('source')}`, fingerprint `{lineage.get('data_fingerprint')}`",
              f"- trained model: `{summary.get('trained_model_uri')}`",
              "- warm started from: " + (f"`{trainer['warm_started_from']}`" if trainer.get("warm_started_from")
                                         else "nothing (trained from scratch)")
              + f" ({trainer.get('warm_start_reason', 'not recorded')})"]
    lines += [f"- {step} code digest: `{digest}`" for step, digest in sorted((lineage.get("step_code") or {}).items())]
    return "\n".join(lines) + "\n"


def render_html(markdown_text: str, title: str, image_dir: str | None = None) -> str:
    """The card as one self-contained HTML page: each picture found in `image_dir` is inlined as a
    data: URI, so the page shows them wherever it is opened or copied (assets.extra/, a download)."""
    import markdown  # Markdown, pinned in requirements/constraints.txt (tensorboard's dependency)

    body = markdown.markdown(markdown_text, extensions=["tables"])
    if image_dir:
        body = re.sub(r'src="([^"/:]+\.png)"', lambda m: f'src="{_data_uri(image_dir, m.group(1))}"', body)
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .6em}img{max-width:100%}")
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body>\n{body}\n</body></html>\n")


def _data_uri(image_dir: str, name: str) -> str:
    path = os.path.join(image_dir, name)
    if not tf.io.gfile.exists(path):
        return name
    with tf.io.gfile.GFile(path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")


def _write(path: str, text: str) -> None:
    """Whole or not at all: a temp name, then a rename (a copy on S3)."""
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        f.write(text)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def read_manifest_rows(lineage: dict) -> list[dict]:
    """The bucket's manifest rows (for the synthetic flag); [] when it cannot be read."""
    if not lineage.get("bucket"):
        return []
    try:
        from storage import s3
        return list(s3.read_manifest(s3.make_client(), lineage["bucket"], lineage.get("prefix", "")))
    except Exception:  # noqa: BLE001 - the card says "unknown" rather than failing the run
        return []


def write_model_card(pipeline, summary: dict, output_dir: str, languages: list[str]) -> dict:
    """Write the card to reports/ and beside the pushed model; return the paths."""
    lineage = lineage_from_metadata(pipeline)
    synthetic = synthetic_by_language(read_manifest_rows(lineage), languages)
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    reports = os.path.join(output_dir, "reports")
    made = {os.path.basename(path) for path in summary.get("pngs", [])}
    pictures = [name for name in PICTURES if name in made and tf.io.gfile.exists(os.path.join(reports, name))]
    text = render_markdown(summary, lineage, languages, synthetic, created, pictures)
    page = render_html(text, "langid model card", image_dir=reports)
    paths = {"md": os.path.join(reports, f"{CARD_NAME}.md"), "html": os.path.join(reports, f"{CARD_NAME}.html")}
    if summary.get("pushed_to"):
        extra = os.path.join(summary["pushed_to"], "assets.extra")
        paths.update(pushed_md=os.path.join(extra, f"{CARD_NAME}.md"),
                     pushed_html=os.path.join(extra, f"{CARD_NAME}.html"))
        tf.io.gfile.makedirs(extra)
        for name in pictures:   # the Markdown copy's relative links resolve there too
            tf.io.gfile.copy(os.path.join(reports, name), os.path.join(extra, name), overwrite=True)
    for key, path in paths.items():
        _write(path, page if key.endswith("html") else text)
    return paths
