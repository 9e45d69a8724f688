"""Transform's executor: transformed_examples follow --intermediate-compression, with TFX's own values."""
from __future__ import annotations

import inspect
import json
import os

import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.transform import executor as tfx_transform
from tfx.types import artifact_utils, standard_artifacts

from components.transform_executor import (
    _TFT_MAKE_GRAPH_STATE,
    _TFX_PROCESSOR,
    Executor,
    _Processor,
    batch_size_of,
    compression_of,
)
from config import (
    BATCH_SIZE_KEY,
    CNN_REPRESENTATIONS,
    COMPRESSION_KEY,
    EXECUTOR_KEY,
    DataConfig,
    FeatureConfig,
    transform_custom_config,
)
from contract.codec import compression_type, split_files

SCHEMA = """
feature { name: "id" type: INT presence { min_fraction: 1 } shape { dim { size: 1 } } }
feature { name: "x" type: FLOAT presence { min_fraction: 1 } shape { dim { size: 1 } } }
"""
RAW = {"train": [(0, 1.0), (1, 2.0), (2, 3.0), (3, 6.0)], "eval": [(10, 10.0), (11, 0.0)]}
TRAIN_MEAN = 3.0  # of the train split's x, the only analyzed split


def preprocessing_fn(inputs, custom_config):
    """x less its mean over the analyzed (train) split: an analyzer, so a real Beam analysis runs."""
    del custom_config  # bound by TFX; carries the executor's settings too, which preprocessing does not use
    return {"id": inputs["id"], "x_centered": inputs["x"] - tft.mean(inputs["x"])}


def _example(ident: int, x: float) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[ident])),
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("transform_inputs")
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = artifact_utils.encode_split_names(list(RAW))
    for split, rows in RAW.items():
        path = os.path.join(artifact_utils.get_split_uri([examples], split), "data_tfrecord-00000-of-00001.gz")
        os.makedirs(os.path.dirname(path))
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for ident, x in rows:
                writer.write(_example(ident, x))
    schema = standard_artifacts.Schema()
    schema.uri = str(root / "schema")
    os.makedirs(schema.uri)
    (root / "schema" / "schema.pbtxt").write_text(SCHEMA)
    return {"examples": [examples], "schema": [schema]}


def _transform(inputs, out, compression: str | None, batch_size: int = 2) -> standard_artifacts.Examples:
    graph, transformed = standard_artifacts.TransformGraph(), standard_artifacts.Examples()
    graph.uri, transformed.uri = str(out / "transform_graph"), str(out / "transformed_examples")
    custom_config = transform_custom_config(FeatureConfig(representations=CNN_REPRESENTATIONS), DataConfig(),
                                            code_version="", compression=compression,
                                            batch_size=batch_size)
    if compression is None:
        del custom_config[EXECUTOR_KEY][COMPRESSION_KEY]
    context = Executor.Context(tmp_dir=str(out / "tmp"), unique_id="1",
                               beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    properties = {"preprocessing_fn": f"{__name__}.preprocessing_fn", "custom_config": json.dumps(custom_config),
                  "disable_statistics": 1, "force_tf_compat_v1": 0}
    Executor(context).Do(inputs, {"transform_graph": [graph], "transformed_examples": [transformed]}, properties)
    return transformed


def _rows(files: list[str]) -> dict[int, float]:
    rows = {}
    for record in tf.data.TFRecordDataset(files, compression_type=compression_type(files)):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows[feature["id"].int64_list.value[0]] = feature["x_centered"].float_list.value[0]
    return rows


@pytest.fixture(scope="module")
def outputs(inputs, tmp_path_factory):
    return {c: _transform(inputs, tmp_path_factory.mktemp(c), c) for c in ("none", "gzip")}


@pytest.mark.parametrize("compression, gzipped", [("none", False), ("gzip", True)])
def test_transformed_examples_follow_the_setting(outputs, compression, gzipped):
    """Named and compressed as the setting says; values are the known answer (x - mean of train x)."""
    for split, rows in RAW.items():
        files = split_files(outputs[compression].uri, split)
        assert files and all(f.endswith(".gz") == gzipped for f in files), files
        if not gzipped:  # really plain: readable with no decompression at all
            assert len(list(tf.data.TFRecordDataset(files))) == len(rows)
        assert _rows(files) == pytest.approx({ident: x - TRAIN_MEAN for ident, x in rows})


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_the_trainers_reader_reads_either_output(outputs, compression):
    """The dataset factory TFX hands run_fn (fn_args.data_accessor.tf_dataset_factory) follows the suffix."""
    from tfx.components.util import tfxio_utils
    from tfx_bsl.tfxio import dataset_options

    transformed = outputs[compression]
    schema = tft.TFTransformOutput(os.path.join(os.path.dirname(transformed.uri), "transform_graph"))
    factory = tfxio_utils.get_tf_dataset_factory_from_artifact([transformed], [])
    pattern = os.path.join(transformed.uri, "Split-eval", "*")
    batch = next(iter(factory([pattern], dataset_options.TensorFlowDatasetOptions(batch_size=8, num_epochs=1),
                              schema.transformed_metadata.schema)))
    got = dict(zip(batch["id"].numpy().ravel().tolist(), batch["x_centered"].numpy().ravel().tolist()))
    assert got == pytest.approx({ident: x - TRAIN_MEAN for ident, x in RAW["eval"]})


def test_tfx_keeps_its_own_processor_after_a_run(outputs):
    assert outputs and tfx_transform.TransformProcessor.__module__ == tfx_transform.__name__


def test_a_missing_or_unknown_setting_is_an_error_naming_it(inputs, tmp_path):
    with pytest.raises(ValueError, match=COMPRESSION_KEY):
        _transform(inputs, tmp_path, None)
    with pytest.raises(ValueError, match="unknown TFRecord compression"):
        compression_of({"custom_config": json.dumps({EXECUTOR_KEY: {COMPRESSION_KEY: "zstd", BATCH_SIZE_KEY: 1}})})
    assert tfx_transform.TransformProcessor.__module__ == tfx_transform.__name__


def test_the_batch_size_reaches_tf_transform(inputs, tmp_path, monkeypatch):
    """TFT gets the configured batch size instead of TFX's None (adaptive batches of up to 1,000)."""
    import tensorflow_transform.beam as tft_beam

    seen, original = [], tft_beam.Context.__init__

    def recording(self, *args, **kwargs):
        seen.append(kwargs.get("desired_batch_size"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(tft_beam.Context, "__init__", recording)
    _transform(inputs, tmp_path, "none", batch_size=3)
    assert seen == [3]
    for bad in ({}, {BATCH_SIZE_KEY: 0}, {BATCH_SIZE_KEY: "64"}):
        with pytest.raises(ValueError, match=BATCH_SIZE_KEY):
            batch_size_of({"custom_config": json.dumps({EXECUTOR_KEY: {COMPRESSION_KEY: "none", **bad}})})


def test_the_splits_share_one_loaded_transform_graph(inputs, tmp_path, monkeypatch):
    """TFX transforms train and eval with a DoFn each; no graph is loaded twice (TFT alone loads the
    transform graph once a split), both splits get the right values, and TFT's loader is back after."""
    from tensorflow_transform.beam import impl as tft_beam_impl
    from tensorflow_transform.saved import saved_transform_io_v2

    loaded, loader_init = [], saved_transform_io_v2.SavedModelLoader.__init__

    def counting(self, saved_model_dir, *args, **kwargs):
        loaded.append(saved_model_dir)
        loader_init(self, saved_model_dir, *args, **kwargs)

    monkeypatch.setattr(saved_transform_io_v2.SavedModelLoader, "__init__", counting)
    transformed = _transform(inputs, tmp_path, "none")
    for split, rows in RAW.items():   # both splits transformed, right values
        assert _rows(split_files(transformed.uri, split)) == pytest.approx(
            {ident: x - TRAIN_MEAN for ident, x in rows})
    assert loaded and len(loaded) == len(set(loaded)), loaded
    assert tft_beam_impl._RunMetaGraphDoFn._make_graph_state is _TFT_MAKE_GRAPH_STATE


def test_tfx_still_has_what_the_override_replaces():
    """Fails on a TFX upgrade that changes them: re-check components/transform_executor.py then (written for 1.16)."""
    parent = _TFX_PROCESSOR._EncodeAndWrite  # TFX's, as imported
    assert list(inspect.signature(inspect.unwrap(parent)).parameters) == [
        "pcoll", "schema", "file_format", "output_path"]
    # ... and the override is called with the same arguments as the ptransform it replaces.
    assert list(inspect.signature(parent).parameters) == list(
        inspect.signature(_Processor._EncodeAndWrite).parameters)[1:]
    run = inspect.getsource(_TFX_PROCESSOR._RunBeamImpl)
    assert "self._EncodeAndWrite(" in run and "file_format=materialization_format" in run
    assert list(inspect.signature(_TFX_PROCESSOR._GetDesiredBatchSize).parameters) == ["self", "data_format", "schema"]
    assert "self._GetDesiredBatchSize(" in run and "desired_batch_size=desired_batch_size" in run
    assert "TransformProcessor().Transform(" in inspect.getsource(tfx_transform.Executor.Do)
    # tf.Transform: each DoFn loads its graph through _make_graph_state(saved_model_dir), read by _GraphStates
    from tensorflow_transform.beam import impl as tft_beam_impl

    dofn = tft_beam_impl._RunMetaGraphDoFn
    assert list(inspect.signature(_TFT_MAKE_GRAPH_STATE).parameters) == ["self", "saved_model_dir"]
    assert "self._make_graph_state(saved_model_dir)" in inspect.getsource(dofn.process)
    init = inspect.getsource(dofn.__init__)
    assert "self._exclude_outputs" in init and "self._use_tf_compat_v1" in init
    assert callable(dofn._get_input_tensor_names)


def test_the_batch_size_flows_from_the_flag_to_transform():
    import argparse

    from config import ConfigError, PipelineConfig
    from pipeline.flags import add_pipeline_flags, config_from_flags
    from pipeline.pipeline import create_pipeline

    with pytest.raises(ConfigError, match="--transform-batch-size"):
        PipelineConfig().override(runtime={"transform_batch_size": 0})
    parser = argparse.ArgumentParser()
    add_pipeline_flags(parser)
    config = config_from_flags(parser.parse_args(["--transform-batch-size", "16"]), {})
    transform = {c.id: c for c in create_pipeline(config).components}["Transform"]
    assert batch_size_of(transform.exec_properties) == 16
    default = {c.id: c for c in create_pipeline(PipelineConfig()).components}["Transform"]
    assert batch_size_of(default.exec_properties) == PipelineConfig().runtime.transform_batch_size == 64
