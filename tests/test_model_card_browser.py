"""The model card as a reader sees it: rendered by headless Chromium, not read as source.

The card comes from write_model_card (ML Metadata's lineage and the bucket's manifest stubbed)
over a run's reports/ folder with the pictures the run makes; the checks are on what Chromium
renders: the list items, the pictures decoded, and no Markdown left as text. It skips only
where Chromium is missing and cannot be installed (scripts/install.sh --test installs it as
root on Debian; CI runs it).
"""
from __future__ import annotations

import os

import pytest

from reports import model_card
from tests.helpers import browser

LANGUAGES = ["English", "French"]
WARNINGS = [
    {"check": "speaker_language_conflict", "severity": "warning", "keys": ["French/x.mp3"], "keys_total": 1,
     "message": "speaker 'spk_7' has clips in 2 languages (English 3, French 1)"},
    {"check": "class_imbalance", "severity": "warning", "keys": [], "keys_total": 0,
     "message": "French has 5 clips, 6.0x fewer than the largest language (30); limit 5.0x"},
]
ERROR = {"check": "schema:clip_rms", "severity": "error", "keys": ["English/a.mp3"], "keys_total": 1,
         "message": "1 clip(s) with clip_rms outside [0.001, 0.5] (from 0.0001 to 0.0001)"}


def _need_chromium():
    if browser.chromium():
        return
    reason = browser.why_not_installable()
    if reason:
        pytest.skip(f"Debian's chromium is not installed and cannot be here: {reason}")
    pytest.fail("chromium is missing but installable here: run scripts/install.sh --test "
                "(or apt-get install chromium)")


def _png(path, width_in, height_in, dpi=60):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, height_in))
    ax.plot([0, 1, 2], [0, 1, 0.5])
    ax.set_title(os.path.basename(path))
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    with open(path, "rb") as f:
        head = f.read(24)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """write_model_card over a reports/ folder holding the run's pictures; returns its paths and
    the pixel size of each picture."""
    out = tmp_path_factory.mktemp("run")
    reports = out / "reports"
    reports.mkdir()
    sizes = {name: _png(str(reports / name), 4 + i, 3) for i, name in enumerate(model_card.PICTURES)}
    pushed = out / "serving" / "1700000000"
    pushed.mkdir(parents=True)
    summary = {
        "ingestion": {"per_split": {"train": {"English": {"clips": 30, "speakers": 6, "seconds": 1800.0},
                                              "French": {"clips": 5, "speakers": 2, "seconds": 300.0}}}},
        "evaluation": {"accuracy": 0.9125, "examples": 45.0},
        "data_validation": {"clips_checked": 35, "errors": 1, "warnings": 2, "anomalies": [ERROR, *WARNINGS]},
        "blessed": True, "pushed_to": str(pushed), "pngs": [str(reports / name) for name in sizes],
    }
    lineage = {"run_id": "run-42", "pipeline": "langid", "code_version": "abc", "source": "s3://b/p/",
               "gate": {"SparseCategoricalAccuracy": {"lower_bound": 0.8, "max_regression": 0.01}}}
    patch = pytest.MonkeyPatch()
    patch.setattr(model_card, "lineage_from_metadata", lambda pipeline: lineage)
    patch.setattr(model_card, "read_manifest_rows", lambda lineage: [])
    try:
        paths = model_card.write_model_card(None, summary, str(out), LANGUAGES)
    finally:
        patch.undo()
    return paths, sizes


@pytest.mark.parametrize("copy", ["html", "pushed_html"])
def test_a_reader_sees_the_warnings_as_a_list_and_every_picture(card, copy):
    _need_chromium()
    paths, sizes = card
    seen = browser.read_page(paths[copy])
    for anomaly in [ERROR, *WARNINGS]:
        assert f"{anomaly['severity']}: {anomaly['check']}: {anomaly['message']}" in seen["items"]
    assert len(seen["images"]) == len(model_card.PICTURES)
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0, image      # decoded, not a broken-image icon
    assert sorted((i["width"], i["height"]) for i in seen["images"]) == sorted(sizes.values())
    for caption in (caption for _, caption in model_card.PICTURES.values()):
        assert caption in seen["text"]
    for raw in ("- warning:", "- error:", "**", "![", "| ---", "`"):
        assert raw not in seen["text"], raw
    assert "Overall accuracy 0.912" in seen["text"]


def test_the_probe_sees_a_broken_picture_and_a_run_together_list(tmp_path):
    """The checks above can fail: a picture that does not load and a list Markdown ran into
    its paragraph are visible to the probe."""
    _need_chromium()
    page = tmp_path / "broken.html"
    page.write_text(model_card.render_html("Data validation: 2 warnings.\n- warning: a\n- warning: b\n\n"
                                           "![missing](nowhere.png)\n", "broken", image_dir=str(tmp_path)))
    seen = browser.read_page(str(page))
    assert seen["items"] == [] and "- warning: a" in seen["text"]
    assert [(i["complete"], i["width"]) for i in seen["images"]] in ([(True, 0)], [(False, 0)])


def test_screenshot_of_the_card(card, tmp_path):
    _need_chromium()
    paths, _ = card
    png = browser.screenshot(paths["html"], str(tmp_path / "card.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("LANGID_CARD_SCREENSHOT"):       # keep it to look at
        import shutil
        shutil.copy(png, os.environ["LANGID_CARD_SCREENSHOT"])
