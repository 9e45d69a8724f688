"""Warm start in the pipeline: which resolver feeds the Trainer's base_model, and which model it picks."""
from __future__ import annotations

import argparse
import json

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types

from config import DataConfig, FeatureConfig, TrainingConfig, trainer_custom_config, trainer_settings
from models.keras_model.base_model_resolver import LatestBlessedModelOfOtherData, LatestBlessedModelOfSameLanguages
from pipeline.flags import add_pipeline_flags, config_from_flags
from pipeline.pipeline import create_pipeline


def _trainer_base(tmp_path, argv=(), **overrides):
    parser = argparse.ArgumentParser()
    add_pipeline_flags(parser)
    config = config_from_flags(parser.parse_args(list(argv)), {}).override(
        data={"bucket": "b", "corpus_fingerprint": "listing-1"},
        push={"serving_model_dir": str(tmp_path / "serving")},
        runtime={"pipeline_root": str(tmp_path / "root"), **overrides.pop("runtime", {})}, **overrides)
    components = {c.id: c for c in create_pipeline(config).components}
    base = components["Trainer"].inputs.get("base_model")
    return (base.producer_component_id if base is not None else None), components


def test_the_trainer_warm_starts_from_the_resolver_of_another_listing(tmp_path):
    producer, components = _trainer_base(tmp_path)
    assert producer == "warm_start_model_resolver"
    resolver = components["warm_start_model_resolver"]
    assert resolver.exec_properties["resolver_class"] is LatestBlessedModelOfOtherData
    assert resolver.exec_properties["source_uri"] == {"corpus_fingerprint": "listing-1"}
    assert trainer_settings(components["Trainer"].exec_properties["custom_config"]).data.corpus_fingerprint \
        == "listing-1"


def test_no_warm_start_flag_leaves_the_trainer_without_a_base_model(tmp_path):
    producer, components = _trainer_base(tmp_path, ["--no-warm-start"])
    assert producer is None and "warm_start_model_resolver" not in components
    assert "latest_blessed_model_resolver" in components   # the Evaluator's baseline stays


def test_without_custom_resolvers_the_baseline_resolver_feeds_it_and_without_any_nothing_does(tmp_path):
    assert _trainer_base(tmp_path, runtime={"custom_resolvers": False})[0] == "latest_blessed_model_resolver"
    assert _trainer_base(tmp_path, evaluation={"baseline_resolver": False})[0] is None


@pytest.fixture()
def store():
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    return metadata_store.MetadataStore(config)


def _put(store, type_name, properties, is_execution=False):
    if is_execution:
        type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name=type_name))
        node = metadata_store_pb2.Execution(type_id=type_id)
    else:
        type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name=type_name))
        node = metadata_store_pb2.Artifact(type_id=type_id, uri=f"/{type_name}/{len(properties)}")
    for key, value in properties.items():
        field = "int_value" if isinstance(value, int) else "string_value"
        setattr(node.custom_properties[key], field, value)
    return node


def _trained_model(store, fingerprint, blessed, languages=("English", "French")):
    """A Model made by a Trainer run on `fingerprint` and `languages`, and the Evaluator's blessing of it."""
    data = DataConfig(corpus_fingerprint=fingerprint, languages=languages)
    training = TrainingConfig()
    execution = _put(store, "Trainer", {"custom_config": json.dumps(
        trainer_custom_config(training, FeatureConfig(), data, code_version="c"))}, True)
    [execution_id] = store.put_executions([execution])
    [model_id] = store.put_artifacts([_put(store, "Model", {})])
    store.put_events([metadata_store_pb2.Event(artifact_id=model_id, execution_id=execution_id,
                                               type=metadata_store_pb2.Event.OUTPUT)])
    [blessing_id] = store.put_artifacts([_put(store, "ModelBlessing",
                                              {"current_model_id": model_id, "blessed": int(blessed)})])
    model, blessing = types.standard_artifacts.Model(), types.standard_artifacts.ModelBlessing()
    model.id, blessing.id = model_id, blessing_id
    blessing.set_int_custom_property("current_model_id", model_id)
    blessing.set_int_custom_property("blessed", int(blessed))
    return model, blessing


def test_the_strategy_skips_unblessed_models_and_models_of_this_listing(store):
    made = [_trained_model(store, "A", True), _trained_model(store, "B", True), _trained_model(store, "C", False)]
    inputs = {"model": [m for m, _ in made], "model_blessing": [b for _, b in made]}
    pick = {fingerprint: [m.id for m in LatestBlessedModelOfOtherData(fingerprint).resolve_artifacts(
        store, inputs)["model"]] for fingerprint in ("A", "B", "D")}
    # Newest blessed model of another listing; C's model was never blessed.
    assert pick == {"A": [made[1][0].id], "B": [made[0][0].id], "D": [made[1][0].id]}
    only_a = {"model": [made[0][0]], "model_blessing": [made[0][1]]}
    assert LatestBlessedModelOfOtherData("A").resolve_artifacts(store, only_a) == {"model": [], "model_blessing": []}


def test_the_baseline_is_the_newest_blessed_model_of_the_same_languages(store):
    two, three = ("English", "French"), ("English", "French", "German")
    made = [_trained_model(store, "A", True, two), _trained_model(store, "B", True, three),
            _trained_model(store, "C", False, two)]
    inputs = {"model": [m for m, _ in made], "model_blessing": [b for _, b in made]}

    def pick(languages):
        return [m.id for m in LatestBlessedModelOfSameLanguages(json.dumps(list(languages))).resolve_artifacts(
            store, inputs)["model"]]

    # C is newer but unblessed; B is newest blessed but answers for another language list.
    assert pick(two) == [made[0][0].id]
    assert pick(three) == [made[1][0].id]
    assert pick(("English", "German")) == []


def test_the_evaluator_baseline_follows_the_language_list_where_custom_resolvers_run(tmp_path):
    _, components = _trainer_base(tmp_path, ["--languages", "English,German"])
    resolver = components["latest_blessed_model_resolver"]
    assert resolver.exec_properties["resolver_class"] is LatestBlessedModelOfSameLanguages
    assert json.loads(resolver.exec_properties["source_uri"]["languages"]) == ["English", "German"]
    assert components["Evaluator"].inputs["baseline_model"].producer_component_id == "latest_blessed_model_resolver"
    _, kubeflow = _trainer_base(tmp_path, runtime={"custom_resolvers": False})
    assert kubeflow["latest_blessed_model_resolver"].exec_properties["resolver_class"].__name__ \
        == "LatestBlessedModelStrategy"
