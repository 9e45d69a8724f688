"""create_pipeline: S3 ingestion -> augmentation -> Transform -> Trainer -> Evaluator -> Pusher."""
from __future__ import annotations

import glob
import hashlib
import os
import warnings
from typing import Optional, Sequence

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.audio_augmenter import AudioAugmenter
from components.s3_audio_example_gen import S3AudioExampleGen
from models import features
from pipeline import configs
from pipeline.validation_stage import data_validation_components

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_PATH = os.path.join(ROOT, "models", "schema.pbtxt")

# The code each step runs, by import path. TFX's cache key covers execution properties, not
# the code behind a module path, so a digest of these sources goes into each step's
# properties: editing a step's code re-runs it (and what follows) instead of reusing a stale
# cached output.
STEP_SOURCES = {
    "ingestion": ["audio/decode.py", "audio/segment.py", "components/s3_audio_example_gen",
                  "components/speaker_split.py", "components/example_codec.py", "storage/s3.py",
                  "audio/stats.py", "components/clip_stats.py"],
    "augmentation": ["audio/augment.py", "audio/noise.py", "audio/reverb.py", "audio/spectral_effects.py",
                     "components/audio_augmenter", "components/example_codec.py"],  # + the noise bank's digest
    "transform": ["models/preprocessing.py", "models/features.py"],
    "validation": ["pipeline/data_validation.py", "components/data_validator", "models/validation_schema.pbtxt"],
    "trainer": ["models/keras_model", "models/preprocessing.py", "models/features.py"],
}


def code_version(step: str) -> str:
    digest = hashlib.sha256()
    for relative in STEP_SOURCES[step]:
        path = os.path.join(ROOT, relative)
        files = [path] if os.path.isfile(path) else sorted(glob.glob(os.path.join(path, "*.py")))
        for name in files:
            digest.update(os.path.relpath(name, ROOT).encode())
            with open(name, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:12]
ACCURACY_METRIC = "sparse_categorical_accuracy"


def eval_config(languages: Sequence[str], accuracy_lower_bound: float, regression_tolerance: float) -> tfma.EvalConfig:
    """Accuracy gate (absolute bound and no regression), per-class precision/recall, slices."""
    class_ids = list(range(len(languages)))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=features.LABEL,
                                    prediction_key="probabilities", preprocessing_function_names=[])],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LANGUAGE])],
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


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    *,
    bucket: str,
    serving_model_dir: str,
    prefix: str = configs.PREFIX,
    languages: Sequence[str] = tuple(configs.LANGUAGES),
    s3_endpoint: Optional[str] = None,
    corpus_fingerprint: str = "",
    segment_seconds: float = configs.SEGMENT_SECONDS,
    eval_fraction: float = configs.EVAL_FRACTION,
    augment_copies: int = configs.AUGMENT_COPIES,
    train_steps: int = configs.TRAIN_STEPS,
    eval_steps: int = configs.EVAL_STEPS,
    epochs: int = configs.EPOCHS,
    accuracy_lower_bound: float = configs.ACCURACY_LOWER_BOUND,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
    baseline_resolver: bool = True,
    schema_path: str = SCHEMA_PATH,
    augmentation: Optional[dict] = None,
    feature_overrides: Optional[dict] = None,
    spec_augment: Optional[dict] = configs.SPEC_AUGMENT,
    halt_on_anomalies: bool = False,
) -> tfx.dsl.Pipeline:
    """The one pipeline both runners build; every setting not given comes from pipeline/configs.py.

    Windows overlap by half, and the feature settings take the same segment length, so the
    ingested segments and the transform graph cannot disagree. `baseline_resolver=False`
    drops the latest-blessed-model resolver (the Evaluator then gates on the absolute bound
    only): open-source Kubeflow Pipelines rejects resolver steps. `schema_path` is where the
    steps will find models/schema.pbtxt (inside the image, for Kubeflow).
    """
    sample_rate = configs.SAMPLE_RATE
    hop_seconds = segment_seconds / 2
    feature_config = {**configs.FEATURES, **(feature_overrides or {}), "segment_seconds": segment_seconds}
    trainer_config = configs.trainer_config(epochs, spec_augment)
    augmentation = configs.AUGMENTATION if augmentation is None else augmentation
    from audio.augment import AugmentationPolicy   # fail at build time on a bad policy, not in a worker
    from audio.noise import bank_digest
    from models.preprocessing import selected_representations
    selected_representations(feature_config)
    unknown = sorted(set(AugmentationPolicy.from_dict(augmentation).languages) - set(languages))
    if unknown:
        raise ValueError(f"per-language augmentation for language(s) {unknown} not in {list(languages)}")
    components = []

    example_gen = S3AudioExampleGen(
        bucket=bucket, prefix=prefix, languages=languages, s3_endpoint=s3_endpoint,
        sample_rate=sample_rate, segment_seconds=segment_seconds, hop_seconds=hop_seconds,
        trim_threshold_db=configs.TRIM_THRESHOLD_DB, eval_fraction=eval_fraction, split_seed=configs.SPLIT_SEED,
        corpus_fingerprint=corpus_fingerprint, code_version=code_version("ingestion"))
    components.append(example_gen)
    examples = example_gen.outputs["examples"]
    validation, gate = data_validation_components(examples, schema_path, halt_on_anomalies,
                                                  code_version=code_version("validation"))
    components += validation

    if augment_copies > 0:
        augmenter = AudioAugmenter(examples=examples, copies=augment_copies, seed=configs.AUGMENT_SEED,
                                   sample_rate=sample_rate, config=augmentation,
                                   code_version=f'{code_version("augmentation")}-{bank_digest()}')
        components.append(augmenter)
        examples = augmenter.outputs["augmented_examples"]

    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    components.append(schema_gen)

    transform = tfx.components.Transform(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="models.preprocessing.preprocessing_fn",
        custom_config={**feature_config, "code_version": code_version("transform")},
        # TFDV statistics of 48,000-sample waveforms cost a third of Transform's time and feed
        # nothing downstream; StatisticsGen can be added for data validation instead.
        disable_statistics=True,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]))
    components.append(transform)
    if gate is not None:  # --halt-on-anomalies: nothing is transformed from data with errors
        transform.add_upstream_node(gate)

    trainer = tfx.components.Trainer(
        run_fn="models.keras_model.trainer.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=eval_steps),
        custom_config={**trainer_config, "languages": list(languages), "features": dict(feature_config),
                       "code_version": code_version("trainer")})
    components.append(trainer)

    baseline = None
    if baseline_resolver:
        model_resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        components.append(model_resolver)
        baseline = model_resolver.outputs["model"]

    # The evaluator reads the raw (un-transformed) eval split: the model's serving signature
    # applies the transform graph itself, which is exactly what serving will do.
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        example_splits=["eval"],
        model=trainer.outputs["model"],
        baseline_model=baseline,
        eval_config=eval_config(languages, accuracy_lower_bound, configs.REGRESSION_TOLERANCE))
    components.append(evaluator)

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)))
    components.append(pusher)

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or []),
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
