"""reports/model_card.py renders what the run summary and ML Metadata say, and nothing else."""
from __future__ import annotations

import json
import os

import pytest
from google.protobuf import json_format

from pipeline.pipeline import eval_config
from reports import model_card

LANGUAGES = ["English", "French"]
SUMMARY = {
    "ingestion": {"per_split": {
        "train": {"English": {"clips": 30, "speakers": 6, "segments": 90, "seconds": 1800.0},
                  "French": {"clips": 20, "speakers": 5, "segments": 60, "seconds": 720.0}},
        "eval": {"English": {"clips": 10, "speakers": 2, "segments": 30, "seconds": 360.0},
                 "French": {"clips": 5, "speakers": 1, "segments": 15, "seconds": 180.0}}}},
    "evaluation": {"accuracy": 0.9125, "examples": 45.0,
                   "per_language": {"English": {"accuracy": 0.9, "examples": 30.0},
                                    "French": {"accuracy": 0.9375, "examples": 15.0}},
                   "per_class": {"English": {"precision": 0.95, "recall": 0.9},
                                 "French": {"precision": 0.8, "recall": 0.9375}}},
    "blessed": True, "pushed_to": "/srv/models/langid/1700000000",
    "trained_model_uri": "/root/Trainer/model/7",
    "data_validation": {"clips_checked": 65, "errors": 1, "warnings": 0, "anomalies": [
        {"check": "schema:clip_clipped_fraction", "severity": "error", "message": "1 clip(s) clipped",
         "keys": ["English/a.mp3"], "keys_total": 1}]},
}


def test_gate_is_read_back_from_the_pipelines_eval_config():
    config = json.loads(json_format.MessageToJson(eval_config(LANGUAGES, 0.83, 0.02),
                                                  preserving_proto_field_name=True))
    gate = model_card.gate_from_eval_config(config)
    assert gate == {"SparseCategoricalAccuracy": {"lower_bound": pytest.approx(0.83),
                                                  "max_regression": pytest.approx(0.02)}}


def test_synthetic_flag_per_language():
    rows = [{"language": "English", "synthetic": True}, {"language": "English", "synthetic": True},
            {"language": "French", "synthetic": True}, {"language": "French", "synthetic": False},
            {"language": "German"}]
    assert model_card.synthetic_by_language(rows, ["English", "French", "German", "Spanish"]) == {
        "English": "yes", "French": "partly", "German": "unknown", "Spanish": "unknown"}


def render(synthetic):
    lineage = {"run_id": "run-42", "pipeline": "langid", "code_version": "abc123def456", "source": "s3://b/p/",
               "data_fingerprint": "f00d", "gate": {"SparseCategoricalAccuracy": {"lower_bound": 0.8,
                                                                                   "max_regression": 0.01}},
               "step_code": {"Trainer": "9999"}}
    return model_card.render_markdown(SUMMARY, lineage, LANGUAGES, synthetic, "2026-11-21 12:00 UTC")


def test_card_carries_data_metrics_gate_and_lineage():
    text = render({"English": "yes", "French": "yes"})
    assert "# Model card: langid (1700000000)" in text
    assert "| English | train | 30 | 6 | 0.500 | yes |" in text          # 1800 s = 0.5 h
    assert "| French | eval | 5 | 1 | 0.050 | yes |" in text
    assert "Overall accuracy **0.912** over 45 segments" in text          # 0.9125 to 3 places
    assert "| French | 0.938 | 0.800 | 0.938 | 15 |" in text
    assert "SparseCategoricalAccuracy on the overall slice > 0.8" in text and "0.01 below" in text
    assert "`run-42`" in text and "`abc123def456`" in text and "fingerprint `f00d`" in text
    assert "Trained on synthetic speech" in text and "schema:clip_clipped_fraction" in text
    assert "Per-duration slices: not computed" in text


def test_no_synthetic_warning_for_real_data_and_html_has_the_tables():
    text = render({"English": "no", "French": "no"})
    assert "synthetic speech" not in text
    assert "Trained on synthetic speech" in render({"English": "no", "French": "partly"})
    html = model_card.render_html(text, "card")
    assert html.count("<table>") == 2 and ">0.938</td>" in html and "<th>language</th>" in html


def test_lineage_names_the_warm_start_base_or_says_from_scratch():
    lineage = {"run_id": "r", "pipeline": "langid"}
    warm = {**SUMMARY, "trainer": {"warm_started_from": "/root/Trainer/model/3",
                                   "warm_start_reason": "languages added: transfer"}}
    text = model_card.render_markdown(warm, lineage, LANGUAGES, {}, "now")
    assert "- warm started from: `/root/Trainer/model/3` (languages added: transfer)" in text
    scratch = {**SUMMARY, "trainer": {"warm_started_from": None, "warm_start_reason": "feature shapes differ"}}
    assert "- warm started from: nothing (trained from scratch) (feature shapes differ)" in \
        model_card.render_markdown(scratch, lineage, LANGUAGES, {}, "now")


def test_validation_findings_are_a_markdown_list_with_their_text_taken_literally():
    summary = {**SUMMARY, "data_validation": {"clips_checked": 3, "errors": 0, "warnings": 1, "anomalies": [
        {"check": "speaker_language_conflict", "severity": "warning", "keys": [], "keys_total": 0,
         "message": "speaker '**x_1**' <b>has</b> clips in [2] languages"}]}}
    text = model_card.render_markdown(summary, {}, LANGUAGES, {}, "now")
    assert "warning(s).\n\n- warning: `speaker_language_conflict`: " in text     # a list needs the blank line
    html = model_card.render_html(text, "card")
    assert "<li>warning: <code>speaker_language_conflict</code>: speaker '**x_1**' &lt;b&gt;has&lt;/b&gt; " \
           "clips in [2] languages</li>" in html


def test_pictures_sit_in_their_sections_and_the_html_carries_them_inline(tmp_path):
    (tmp_path / "confusion_matrix.png").write_bytes(b"\x89PNG\r\n\x1a\nconfusion")
    text = model_card.render_markdown(SUMMARY, {}, LANGUAGES, {}, "now",
                                      pictures=["confusion_matrix.png", "training_curves.png"])
    evaluation, training = text.index("## Evaluation"), text.index("## Training")
    assert evaluation < text.index("![Confusion matrix") < training < text.index("(training_curves.png)")
    assert "reliability_diagram.png" not in text
    html = model_card.render_html(text, "card", image_dir=str(tmp_path))
    assert 'src="data:image/png;base64,iVBORw0KGgpjb25mdXNpb24="' in html     # the bytes above
    assert 'src="training_curves.png"' in html                                 # not on disk: left as a link
    assert "## Training" not in model_card.render_markdown(SUMMARY, {}, LANGUAGES, {}, "now")


def test_the_card_written_beside_the_pushed_model_takes_its_pictures_along(tmp_path, monkeypatch):
    reports, pushed = tmp_path / "reports", tmp_path / "serving" / "7"
    reports.mkdir()
    pushed.mkdir(parents=True)
    (reports / "reliability_diagram.png").write_bytes(b"\x89PNG\r\n\x1a\nreliability")
    (reports / "confusion_matrix.png").write_bytes(b"\x89PNG\r\n\x1a\nconfusion")   # not in summary["pngs"]
    (reports / "augmentations.png").write_bytes(b"\x89PNG\r\n\x1a\naugmentations")
    monkeypatch.setattr(model_card, "lineage_from_metadata", lambda pipeline: {})
    monkeypatch.setattr(model_card, "read_manifest_rows", lambda lineage: [])
    summary = {**SUMMARY, "pushed_to": str(pushed), "pngs": [str(reports / "reliability_diagram.png"),
                                                             str(reports / "training_curves.png"),
                                                             str(reports / "augmentations.png")]}
    paths = model_card.write_model_card(None, summary, str(tmp_path), LANGUAGES)
    card = open(paths["md"]).read()
    assert card == open(paths["pushed_md"]).read() and "(reliability_diagram.png)" in card
    assert "training_curves.png" not in card and "confusion_matrix.png" not in card     # absent; not listed
    assert "augmentations.png" not in card                                             # not a card picture
    assert sorted(os.listdir(pushed / "assets.extra")) == ["model_card.html", "model_card.md",
                                                           "reliability_diagram.png"]
    page = open(paths["html"]).read()
    assert page == open(paths["pushed_html"]).read() and page.count('src="data:image/png;base64,') == 1
    assert "data:image" not in card


def test_a_whisper_model_states_its_licence_and_pretraining_data():
    lineage = {"run_id": "r", "representations": ["whisper"]}
    text = model_card.render_markdown(SUMMARY, lineage, LANGUAGES, {}, "now")
    assert "MIT licence" in text and "680,000 hours" in text
    cnn = model_card.render_markdown(SUMMARY, {**lineage, "representations": ["log_mel", "mfcc"]}, LANGUAGES, {}, "now")
    assert "Whisper" not in cnn
