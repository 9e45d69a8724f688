"""create_pipeline without running it: code versions in the cache keys, policy errors up front."""
from __future__ import annotations

import os
import shutil

import pytest

from pipeline import pipeline as pipeline_module
from pipeline.pipeline import STEP_SOURCES, code_version, create_pipeline

LANGUAGES = ["English", "French", "German"]


def _build(tmp_path, **kwargs):
    return create_pipeline("p", str(tmp_path / "root"), bucket="b", serving_model_dir=str(tmp_path / "serving"),
                           languages=LANGUAGES, **kwargs)


def test_every_step_source_exists_and_is_digested():
    """A moved file (a module turned package, a rename) must not drop silently out of the digest."""
    root = pipeline_module.ROOT
    for step, paths in STEP_SOURCES.items():
        for relative in paths:
            path = os.path.join(root, relative)
            assert os.path.isfile(path) or (os.path.isdir(path) and any(
                name.endswith(".py") for name in os.listdir(path))), f"{step}: {relative} is gone"


@pytest.fixture()
def source_copy(tmp_path, monkeypatch):
    """The step sources copied under a temporary ROOT, so a test can edit them."""
    root = tmp_path / "src"
    for relative in {p for paths in STEP_SOURCES.values() for p in paths}:
        source = os.path.join(pipeline_module.ROOT, relative)
        if os.path.isdir(source):
            shutil.copytree(source, root / relative, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / relative)
    monkeypatch.setattr(pipeline_module, "ROOT", str(root))
    return root


def _versions():
    return {step: code_version(step) for step in STEP_SOURCES}


def test_editing_a_steps_code_changes_its_version_and_only_the_steps_that_use_it(source_copy):
    before = _versions()
    assert before == _versions()                                  # stable
    assert len(set(before.values())) == len(before)               # one per step
    for relative, changed in (("models/preprocessing.py", {"transform", "trainer"}),
                              ("components/speaker_split.py", {"ingestion"}),
                              ("models/keras_model/trainer.py", {"trainer"})):
        with open(source_copy / relative, "a") as f:
            f.write("\n# an edit\n")
        after = _versions()
        assert {step for step in before if after[step] != before[step]} == changed, relative
        before = after


def test_code_versions_reach_the_components_cache_keys(tmp_path):
    """TFX's cache key covers execution properties and custom_config: the versions must be there."""
    versions = _versions()
    components = {c.id: c for c in _build(tmp_path).components}
    assert components["S3AudioExampleGen"].exec_properties["code_version"] == versions["ingestion"]
    assert components["AudioAugmenter"].exec_properties["code_version"].startswith(versions["augmentation"] + "-")
    assert versions["transform"] in str(components["Transform"].exec_properties["custom_config"])
    assert versions["trainer"] in str(components["Trainer"].exec_properties["custom_config"])


def test_per_language_policy_for_a_language_not_in_the_list_is_refused(tmp_path):
    policy = {"per_language": {"Klingon": {"pitch_scale": {"p": 1.0}}}}
    with pytest.raises(ValueError, match=r"Klingon.*not in \['English', 'French', 'German'\]"):
        _build(tmp_path, augmentation=policy)
    ok = {"per_language": {"French": {"pitch_scale": {"p": 1.0}}}}
    assert _build(tmp_path, augmentation=ok).components                  # a listed language is fine
