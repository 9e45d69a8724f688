"""create_pipeline without running it: code versions in the cache keys, policy errors up front."""
from __future__ import annotations

import shutil

import pytest

from config import ConfigError, PipelineConfig
from pipeline.code_version import ROOT, STEP_ENTRY_MODULES, code_version
from pipeline.pipeline import create_pipeline

LANGUAGES = ("English", "French", "German")
SOURCE_PACKAGES = ("audio", "components", "contract", "models", "pipeline", "storage")


def _build(tmp_path, **augmenter):
    config = PipelineConfig().override(
        data={"bucket": "b", "languages": LANGUAGES}, augmenter=augmenter,
        push={"serving_model_dir": str(tmp_path / "serving")}, runtime={"pipeline_root": str(tmp_path / "root")})
    return create_pipeline(config)


@pytest.fixture()
def source_copy(tmp_path):
    """The project's packages copied under a temporary root, so a test can edit them."""
    root = tmp_path / "src"
    for package in SOURCE_PACKAGES:
        shutil.copytree(f"{ROOT}/{package}", root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _versions(root=ROOT):
    return {step: code_version(step, str(root)) for step in STEP_ENTRY_MODULES}


def test_editing_a_steps_code_changes_its_version_and_only_the_steps_that_use_it(source_copy):
    before = _versions(source_copy)
    assert before == _versions(source_copy)                       # stable
    assert len(set(before.values())) == len(before)               # one per step
    for relative, changed in (("models/preprocessing.py", {"transform", "trainer"}),
                              ("components/speaker_split.py", {"ingestion"}),
                              ("models/keras_model/trainer.py", {"trainer"})):
        with open(source_copy / relative, "a") as f:
            f.write("\n# an edit\n")
        after = _versions(source_copy)
        assert {step for step in before if after[step] != before[step]} == changed, relative
        before = after


def test_code_versions_reach_the_components_cache_keys(tmp_path):
    """TFX's cache key covers execution properties and custom_config: the versions must be there."""
    versions = _versions()
    components = {c.id: c for c in _build(tmp_path).components}
    assert components["S3AudioExampleGen"].exec_properties["code_version"] == versions["ingestion"]
    assert components["AudioAugmenter"].exec_properties["code_version"] == versions["augmentation"]
    assert versions["transform"] in str(components["Transform"].exec_properties["custom_config"])
    assert versions["trainer"] in str(components["Trainer"].exec_properties["custom_config"])


def test_per_language_policy_for_a_language_not_in_the_list_is_refused(tmp_path):
    policy = {"per_language": {"Klingon": {"pitch_scale": {"p": 1.0}}}}
    refused = r"--augmentation: .*Klingon.*not in --languages \['English', 'French', 'German'\]"
    with pytest.raises(ConfigError, match=refused):
        _build(tmp_path, policy=policy)
    ok = {"per_language": {"French": {"pitch_scale": {"p": 1.0}}}}
    assert _build(tmp_path, policy=ok).components                        # a listed language is fine
