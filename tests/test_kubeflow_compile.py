"""kubeflow_runner compiles the same create_pipeline into a KFP v2 package, checked as data."""
from __future__ import annotations

import importlib
import json
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import config
import kubeflow_runner
from pipeline.pipeline import CRC_BEAM_PLUGIN, S3_BEAM_PLUGIN

IMAGE = "registry.example/langid-tfx:1.0"
ROOT = "s3://team-bucket/tfx"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXECUTORS = {
    "S3AudioExampleGen": "components.s3_audio_example_gen.executor.Executor",
    "AudioAugmenter": "components.audio_augmenter.executor.Executor",
    "ImportSchemaGen": "tfx.components.schema_gen.import_schema_gen.executor.Executor",
    "Transform": "components.transform_executor.Executor",  # TFX's, with transformed_examples' compression set
    "Trainer": "tfx.components.trainer.executor.GenericExecutor",
    "Evaluator": "tfx.components.evaluator.executor.Executor",
    "Pusher": "tfx.components.pusher.executor.Executor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "ValidationSchemaGen": "tfx.components.schema_gen.import_schema_gen.executor.Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "DataValidator": "components.data_validator.executor.Executor",
}
BEAM_POWERED = ("S3AudioExampleGen", "AudioAugmenter", "Transform", "Evaluator", "StatisticsGen")


def compile_package(tmp_path, *extra, name="langid_pipeline.yaml"):
    output = tmp_path / name
    kubeflow_runner.main(["--image", IMAGE, "--pipeline-root", ROOT, "--output", str(output), *extra])
    text = output.read_text()
    docs = list(yaml.safe_load_all(text)) if name.endswith(".yaml") else [json.loads(text)]
    # Parsing back into kfp-pipeline-spec's protos fails on any field the schema does not know.
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    platform = json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec()) if len(docs) > 1 else None
    return text, docs, spec, platform


def parameter(task: dict, name: str):
    value = task["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    return next(iter(value.values()))


@pytest.fixture(scope="module")
def flink_package(tmp_path_factory):
    return compile_package(
        tmp_path_factory.mktemp("kfp"), "--beam-runner", "FlinkRunner", "--beam-arg=--flink_master=flink:8081",
        "--beam-arg=--environment_type=EXTERNAL", "--bucket", "team-clips", "--prefix", "clips/",
        "--languages", "English,French", "--train-steps", "321", "--s3-endpoint", "http://minio.data:9000",
        "--aws-secret", "langid-s3")


def test_every_component_runs_its_executor_in_the_image_through_the_s3_entrypoint(flink_package):
    _, docs, spec, _ = flink_package
    tasks = docs[0]["root"]["dag"]["tasks"]
    assert set(tasks) == set(EXECUTORS)  # no resolver: open-source KFP rejects resolver executors
    executors = docs[0]["deploymentSpec"]["executors"]
    for name, class_path in EXECUTORS.items():
        label = docs[0]["components"][tasks[name]["componentRef"]["name"]]["executorLabel"]
        container = executors[label]["container"]
        assert container["image"] == IMAGE
        assert container["command"] == kubeflow_runner.KUBEFLOW_CONTAINER_COMMAND
        assert container["args"][:4] == ["--executor_class_path", class_path,
                                          "--json_serialized_invocation_args", "{{$}}"]
        module, cls = class_path.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), cls)
        assert container["env"] == [{"name": "AWS_ENDPOINT_URL", "value": "http://minio.data:9000"}]
    assert spec.default_pipeline_root == ROOT
    assert spec.pipeline_info.name == config.RuntimeConfig().pipeline_name


def test_beam_arguments_reach_every_beam_powered_component(flink_package):
    _, docs, _, _ = flink_package
    executors = docs[0]["deploymentSpec"]["executors"]
    for name in BEAM_POWERED:
        args = executors[f"{name}_executor"]["container"]["args"]
        beam = args[4:]
        assert beam[0] == "--runner=FlinkRunner"
        assert "--flink_master=flink:8081" in beam and "--environment_type=EXTERNAL" in beam
        assert f"--beam_plugin={S3_BEAM_PLUGIN}" in beam  # s3:// for tf.io.gfile in workers
        assert f"--beam_plugin={CRC_BEAM_PLUGIN}" in beam  # hardware CRC32C for TFRecords in workers
        assert not any(a.startswith("--direct_") for a in beam)  # DirectRunner defaults only for it


def test_component_arguments_are_the_ones_given(flink_package):
    _, docs, _, _ = flink_package
    tasks = docs[0]["root"]["dag"]["tasks"]
    ingestion = tasks["S3AudioExampleGen"]
    data = config.data_from_property(parameter(ingestion, config.DATA_PROPERTY))
    assert (data.bucket, data.prefix, data.languages) == ("team-clips", "clips/", ("English", "French"))
    assert json.loads(parameter(tasks["Trainer"], "train_args")) == {"num_steps": 321}
    push = json.loads(parameter(tasks["Pusher"], "push_destination"))
    assert push == {"filesystem": {"base_directory": f"{ROOT}/serving_model/{config.PushConfig().model_name}"}}
    schema = parameter(tasks["ImportSchemaGen"], "schema_file")
    assert schema.startswith(kubeflow_runner.IMAGE_PROJECT_DIR + "/")  # where the Dockerfile puts the project
    assert os.path.exists(os.path.join(REPO, os.path.relpath(schema, kubeflow_runner.IMAGE_PROJECT_DIR)))


def test_credentials_come_from_a_kubernetes_secret_reference_only(flink_package):
    text, docs, _, platform = flink_package
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    assert set(executors) == {f"{name}_executor" for name in EXECUTORS}
    for executor in executors.values():
        (secret,) = json_format.MessageToDict(executor)["secretAsEnv"]
        assert secret["secretName"] == "langid-s3"
        assert {(m["secretKey"], m["envVar"]) for m in secret["keyToEnv"]} == {
            ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")}


def test_credentials_in_the_environment_never_reach_the_package(tmp_path, monkeypatch):
    sentinels = {key: f"SENTINEL{key}" for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    for key, value in sentinels.items():
        monkeypatch.setenv(key, value)
    text, _, _, _ = compile_package(tmp_path, "--s3-endpoint", "http://minio.data:9000", "--aws-secret", "langid-s3")
    assert not [value for value in sentinels.values() if value in text]


@pytest.mark.parametrize("option", ["--s3_access_key_id=AKIA", "--s3_secret_access_key=x", "--s3_session_token=t"])
def test_beam_credential_options_are_refused(option, capsys):
    with pytest.raises(SystemExit):
        kubeflow_runner.parse_args(["--image", IMAGE, "--pipeline-root", ROOT, f"--beam-arg={option}"])
    assert "--aws-secret" in capsys.readouterr().err


def test_direct_runner_defaults_and_json_output(tmp_path):
    _, docs, spec, platform = compile_package(tmp_path, "--beam-arg=--direct_num_workers=3", name="p.json")
    assert platform is None and len(docs) == 1
    args = docs[0]["deploymentSpec"]["executors"]["Transform_executor"]["container"]["args"][4:]
    assert args[:3] == ["--runner=DirectRunner", *config.KUBEFLOW_DIRECT_ARGS[:2]]
    assert args[-1] == "--direct_num_workers=3"  # the user's value comes last, so it wins
    assert "env" not in docs[0]["deploymentSpec"]["executors"]["Transform_executor"]["container"]
    assert spec.default_pipeline_root == ROOT


def test_baseline_resolver_only_on_request_and_secret_needs_yaml(tmp_path):
    _, docs, _, _ = compile_package(tmp_path, "--with-baseline-resolver")
    executors = docs[0]["deploymentSpec"]["executors"]
    assert any(label.startswith("latest_blessed_model_resolver") and "resolver" in executor
               for label, executor in executors.items())
    with pytest.raises(SystemExit):
        kubeflow_runner.parse_args(["--image", IMAGE, "--pipeline-root", ROOT, "--output", "p.json",
                                    "--aws-secret", "s"])


def test_kfp_client_reads_the_package_as_it_does_before_submitting(tmp_path, flink_package):
    from kfp.client import client as kfp_client  # what create_run_from_pipeline_package calls

    text, _, spec, platform = flink_package
    path = tmp_path / "langid_pipeline.yaml"
    path.write_text(text)
    doc = kfp_client._extract_pipeline_yaml(str(path))
    assert doc.pipeline_spec == spec and doc.platform_spec == platform


def test_augmentation_and_feature_options_reach_the_compiled_steps(tmp_path):
    """The same --augmentation/--representations/--spec-augment spelling as local_runner."""
    _, docs, _, _ = compile_package(
        tmp_path, "--augmentation", "all", "--spec-augment", "on",
        "--representations", "log_mel,power_spectrogram", "--num-mel-bins", "128", name="p.json")
    tasks = docs[0]["root"]["dag"]["tasks"]
    policy = config.augmenter_from_property(parameter(tasks["AudioAugmenter"], config.AUGMENTER_PROPERTY)).policy
    assert policy["room_reverb"]["p"] == config.AUGMENTATION_ALL["room_reverb"]["p"] > 0
    transform = config.transform_settings(parameter(tasks["Transform"], "custom_config"))
    assert transform.features.representations == ("log_mel", "power_spectrogram")
    assert transform.features.num_mel_bins == 128
    trainer = config.trainer_settings(parameter(tasks["Trainer"], "custom_config"))
    assert trainer.training.spec_augment == config.SpecAugmentConfig()
