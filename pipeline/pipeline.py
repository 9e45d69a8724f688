"""create_pipeline: S3 ingestion -> augmentation -> Transform -> Trainer -> Evaluator -> Pusher."""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components import transform_executor
from components.audio_augmenter import AudioAugmenter
from components.data_validator.stage import data_validation_components
from components.s3_audio_example_gen import S3AudioExampleGen
from components.s3_audio_example_gen.previous_ingestion import LatestIngestionOfAnotherListing
from config import PipelineConfig, RuntimeConfig, trainer_custom_config, transform_custom_config
from contract import features
from models.keras_model.base_model_resolver import LatestBlessedModelOfOtherData, LatestBlessedModelOfSameLanguages
from pipeline.code_version import code_version

# Imported by Beam in each SDK worker process, so tf.io.gfile there reads s3:// too.
S3_BEAM_PLUGIN = "storage.tf_s3_plugin"
# ... and this one makes Beam's TFRecord checksums use the CPU's CRC32C instruction.
CRC_BEAM_PLUGIN = "storage.tfrecord_crc"


def beam_pipeline_args(runtime: RuntimeConfig) -> list[str]:
    """--runner, the DirectRunner defaults (only for it), the worker plugins, then the user's args."""
    args = [f"--runner={runtime.beam_runner}"]
    if runtime.beam_runner == "DirectRunner":
        args += list(runtime.direct_args)
    args.append(f"--beam_plugin={CRC_BEAM_PLUGIN}")
    if str(runtime.pipeline_root).startswith("s3://"):
        args.append(f"--beam_plugin={S3_BEAM_PLUGIN}")
    return args + list(runtime.beam_args)


ACCURACY_METRIC = "sparse_categorical_accuracy"
INGESTION_ID = S3AudioExampleGen.__name__  # the component's default id


def eval_config(languages: Sequence[str], accuracy_lower_bound: float, regression_tolerance: float) -> tfma.EvalConfig:
    """Accuracy gate (absolute bound and no regression), per-class precision/recall, slices."""
    class_ids = list(range(len(languages)))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=features.LABEL,
                                    prediction_key="probabilities", preprocessing_function_names=[])],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LANGUAGE]),
                       tfma.SlicingSpec(feature_keys=[features.DURATION_BUCKET])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[
                tfma.MetricConfig(class_name="ExampleCount"),
                tfma.MetricConfig(class_name="SparseCategoricalCrossentropy"),
                tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                # The gate is on the overall slice; per-language accuracy is reported, not gated.
                tfma.MetricConfig(
                    class_name="SparseCategoricalAccuracy",
                    per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                        slicing_specs=[tfma.SlicingSpec()],
                        threshold=tfma.MetricThreshold(
                            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_lower_bound}),
                            change_threshold=tfma.GenericChangeThreshold(
                                direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                absolute={"value": -regression_tolerance})))]),
            ]),
            # Per-class precision and recall of the arg-max decision (top_k=1), as serving makes it.
            tfma.MetricsSpec(
                metrics=[tfma.MetricConfig(class_name="Precision", config='"top_k": 1'),
                         tfma.MetricConfig(class_name="Recall", config='"top_k": 1')],
                binarize=tfma.BinarizationOptions(class_ids={"values": class_ids})),
        ])


def create_pipeline(config: PipelineConfig, *, metadata_connection_config=None) -> tfx.dsl.Pipeline:
    """The one pipeline both runners build, entirely from `config` (config/groups.py).

    Windows overlap by half, and the feature settings take the same segment length, so the
    ingested segments and the transform graph cannot disagree. Without
    `evaluation.baseline_resolver` the latest-blessed-model resolver is left out (the
    Evaluator then gates on the absolute bound only): open-source Kubeflow Pipelines rejects
    resolver steps. `data.incremental` (the resolver of the previous ingestion) needs
    `runtime.custom_resolvers`: its strategy is the project's own, which the KFP v2 compiler
    refuses. `runtime.schema_path` is where the steps find contract/schema.pbtxt (inside the
    image, for Kubeflow).
    """
    data, augmenter, training, evaluation, runtime = (config.data, config.augmenter, config.training,
                                                      config.evaluation, config.runtime)
    components = []

    previous_examples = None
    if data.incremental and runtime.custom_resolvers:
        # The latest earlier ingestion of this pipeline (only S3AudioExampleGen's own output, never
        # the augmenter's): ingestion then fetches only what it does not hold.
        previous = tfx.dsl.Resolver(
            strategy_class=LatestIngestionOfAnotherListing,
            config={"corpus_fingerprint": data.corpus_fingerprint},
            examples=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples,
                                     producer_component_id=INGESTION_ID, output_key="examples"),
        ).with_id("previous_ingestion_resolver")
        components.append(previous)
        previous_examples = previous.outputs["examples"]
    example_gen = S3AudioExampleGen(data=data, compression=runtime.intermediate_compression,
                                    code_version=code_version("ingestion"), previous_examples=previous_examples)
    components.append(example_gen)
    examples = example_gen.outputs["examples"]
    validation, gate = data_validation_components(
        examples, runtime.schema_path, data.halt_on_anomalies, code_version=code_version("validation"),
        min_speakers=data.min_speakers_per_language, max_imbalance=data.max_language_imbalance)
    components += validation

    if augmenter.copies > 0:
        augment = AudioAugmenter(examples=examples, augmenter=augmenter, sample_rate=data.sample_rate,
                                 code_version=code_version("augmentation"),
                                 compression=runtime.intermediate_compression)
        components.append(augment)
        examples = augment.outputs["augmented_examples"]

    schema_gen = tfx.components.ImportSchemaGen(schema_file=runtime.schema_path)
    components.append(schema_gen)

    transform = tfx.components.Transform(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="models.preprocessing.preprocessing_fn",
        # The feature and data groups for preprocessing_fn, the code digest, and the executor's
        # own settings (components/transform_executor.py), each under its own key (config/wire.py).
        custom_config=transform_custom_config(config.features, data, code_version=code_version("transform"),
                                              compression=runtime.intermediate_compression,
                                              batch_size=runtime.transform_batch_size),
        # TFDV statistics of 48,000-sample waveforms cost a third of Transform's time and feed
        # nothing downstream; StatisticsGen can be added for data validation instead.
        disable_statistics=True,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]))
    # TFX's own executor always gzips transformed_examples and lets batches grow to 1,000
    # segments; this one follows the two settings above.
    # Set before tfx.dsl.Pipeline, which adds the pipeline's beam_pipeline_args to this spec.
    transform.executor_spec = executor_spec.BeamExecutorSpec(transform_executor.Executor)
    components.append(transform)
    if gate is not None:  # --halt-on-anomalies: nothing is transformed from data with errors
        transform.add_upstream_node(gate)

    baseline = None
    if evaluation.baseline_resolver:
        # The baseline must answer for the same languages; TFX's own strategy (all Kubeflow takes)
        # would offer a model of an earlier language list after a language is added.
        same_languages = ({"strategy_class": LatestBlessedModelOfSameLanguages,
                           "config": {"languages": json.dumps(list(data.languages))}} if runtime.custom_resolvers
                          else {"strategy_class": tfx.dsl.experimental.LatestBlessedModelStrategy})
        model_resolver = tfx.dsl.Resolver(
            **same_languages,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        components.append(model_resolver)
        baseline = model_resolver.outputs["model"]

    # Warm start (models/keras_model/warm_start.py) needs a resolver, as the baseline does.
    base_model = None
    if training.warm_start and evaluation.baseline_resolver:
        if runtime.custom_resolvers:
            # Only a model of another corpus listing: an unchanged rerun keeps the Trainer cached.
            warm = tfx.dsl.Resolver(
                strategy_class=LatestBlessedModelOfOtherData,
                config={"corpus_fingerprint": data.corpus_fingerprint},
                model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
                model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
            ).with_id("warm_start_model_resolver")
            components.append(warm)
            base_model = warm.outputs["model"]
        else:   # the standard strategy: the Trainer then re-runs on every run after a blessing
            base_model = baseline

    trainer = tfx.components.Trainer(
        run_fn="models.keras_model.trainer.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=training.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=training.eval_steps),
        base_model=base_model,
        custom_config=trainer_custom_config(training, config.features, data, code_version=code_version("trainer")))
    components.append(trainer)

    # The evaluator reads the raw (un-transformed) eval split: the model's serving signature
    # applies the transform graph itself, which is exactly what serving will do.
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        example_splits=["eval"],
        model=trainer.outputs["model"],
        baseline_model=baseline,
        eval_config=eval_config(data.languages, evaluation.accuracy_lower_bound, evaluation.regression_tolerance))
    components.append(evaluator)

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.push.serving_model_dir)))
    components.append(pusher)

    return tfx.dsl.Pipeline(
        pipeline_name=runtime.pipeline_name,
        pipeline_root=runtime.pipeline_root,
        components=components,
        enable_cache=runtime.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args(runtime),
    )


def upstream_of(pipeline: tfx.dsl.Pipeline, last: str) -> tfx.dsl.Pipeline:
    """The same pipeline cut after component `last`, keeping only what it needs.

    Lets tests and benchmarks run the heavy Beam stages (ingestion, Transform) alone with
    exactly the components and settings the full pipeline uses. The kept components forget
    their dropped consumers, so `pipeline` itself is not to be run afterwards.
    """
    by_id = {component.id: component for component in pipeline.components}
    keep, todo = set(), [by_id[last]]
    while todo:
        node = todo.pop()
        if node.id not in keep:
            keep.add(node.id)
            todo.extend(node.upstream_nodes)
    for node_id in keep:
        for downstream in list(by_id[node_id].downstream_nodes):
            if downstream.id not in keep:
                by_id[node_id].remove_downstream_node(downstream)
    with warnings.catch_warnings():  # "not found from the registry": built for `pipeline`, on purpose
        warnings.filterwarnings("ignore", message="Component .* is not found from the registry")
        return tfx.dsl.Pipeline(
            pipeline_name=pipeline.pipeline_info.pipeline_name,
            pipeline_root=pipeline.pipeline_info.pipeline_root,
            components=[component for component in pipeline.components if component.id in keep],
            enable_cache=pipeline.enable_cache,
            metadata_connection_config=pipeline.metadata_connection_config,
            beam_pipeline_args=pipeline.beam_pipeline_args,
        )
