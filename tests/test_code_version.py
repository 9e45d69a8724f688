"""Cache-key code versions follow what each step really imports."""
from __future__ import annotations

import os
import textwrap

from pipeline import code_version as cv


def _write(root, relative: str, text: str) -> None:
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))


def _project(root):
    _write(root, "steps/__init__.py", "")
    _write(root, "steps/entry.py", """
        import numpy as np
        from steps import helper
        from . import sibling

        def run():
            from lib.lazy import thing   # an import inside a function counts too
            return thing
        """)
    _write(root, "steps/helper.py", "from lib import codec\nVALUE = 1\n")
    _write(root, "steps/sibling.py", "X = 1\n")
    _write(root, "steps/unused.py", "Y = 1\n")
    _write(root, "lib/__init__.py", "")
    _write(root, "lib/codec.py", "def encode(): pass\n")
    _write(root, "lib/lazy.py", "thing = 3\n")
    _write(root, "other/__init__.py", "")
    _write(root, "other/mod.py", "Z = 1\n")


def test_reachable_files_follow_imports_and_nothing_else(tmp_path):
    root = str(tmp_path)
    _project(root)
    assert cv.reachable_files(["steps.entry"], root) == [
        "lib/__init__.py", "lib/codec.py", "lib/lazy.py", "steps/__init__.py", "steps/entry.py", "steps/helper.py",
        "steps/sibling.py"]


def test_editing_an_imported_module_changes_the_version_and_an_unrelated_one_does_not(tmp_path, monkeypatch):
    root = str(tmp_path)
    _project(root)
    monkeypatch.setattr(cv, "STEP_ENTRY_MODULES", {"step": ("steps.entry",)})
    monkeypatch.setattr(cv, "STEP_DATA_DIGESTS", {})
    before = cv.code_version("step", root)
    _write(root, "other/mod.py", "Z = 2\n")
    _write(root, "steps/unused.py", "Y = 2\n")
    assert cv.code_version("step", root) == before
    _write(root, "lib/codec.py", "def encode(): return 1\n")   # imported two levels down
    after = cv.code_version("step", root)
    assert after != before
    _write(root, "lib/lazy.py", "thing = 4\n")                 # imported inside a function
    assert cv.code_version("step", root) != after


def test_the_real_steps_cover_the_contract_they_import_and_not_each_other():
    ingestion = cv.reachable_files(cv.STEP_ENTRY_MODULES["ingestion"])
    augmentation = cv.reachable_files(cv.STEP_ENTRY_MODULES["augmentation"])
    trainer = cv.reachable_files(cv.STEP_ENTRY_MODULES["trainer"])
    # The feature names both import (what the hand-written lists used to miss).
    assert "contract/features.py" in ingestion and "contract/features.py" in augmentation
    assert "audio/decode.py" in ingestion and "audio/decode.py" not in augmentation
    assert "models/keras_model/model.py" in trainer and "models/keras_model/model.py" not in ingestion
    assert not [path for path in ingestion + augmentation if path.startswith(("models/", "pipeline/"))]
    # The augmenter's version also carries the noise bank's digest.
    from audio.noise import bank_digest

    assert cv.code_version("augmentation").endswith("-" + bank_digest())
