"""TFX Trainer entry point (`run_fn`): train the CNN on transformed examples and export it.

Every setting comes from the Trainer's custom_config, decoded into TrainingConfig,
FeatureConfig and DataConfig (config/wire.py); none has a default here.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from config import SpecAugmentConfig, group_to_json, trainer_settings
from contract import features
from models.keras_model import held_out, warm_start
from models.keras_model.model import build_model
from models.keras_model.short_crops import random_crops, silence_frames
from models.keras_model.signatures import make_signatures
from models.keras_model.spec_augment import spec_augment
from models.preprocessing import segment_samples


def model_input_shapes(tf_transform_output) -> dict:
    """{feature: per-example shape} of every transformed feature but the label: the model is
    built for whatever representations the Transform produced, not for a fixed list."""
    spec = tf_transform_output.transformed_feature_spec()
    return {name: tuple(spec[name].shape) for name in sorted(spec)
            if name not in (features.LABEL_XF, features.SPEAKER_BUCKET)}


WARM_START_RECORD = "warm_start.json"   # in the model_run folder, for reports/run_report.py


def croppable_inputs(shapes: dict) -> list[str]:
    """Inputs with a time axis (frames or samples): short crops apply to them, not to the
    whisper features, which Transform pooled over the whole window."""
    return [name for name in shapes if features.REPRESENTATIONS.get(features.representation_of(name))
            not in (None, "pretrained")]


def model_artifact_uri(serving_dir: str) -> str:
    """The Model artifact's URI from the folder the Trainer hands run_fn (`<uri>/Format-Serving`)."""
    serving_dir = serving_dir.rstrip("/")
    return os.path.dirname(serving_dir) if os.path.basename(serving_dir) == "Format-Serving" else serving_dir


def _dataset(fn_args, file_pattern, tf_transform_output, batch_size: int, num_classes: int,
             spec_augment_config: SpecAugmentConfig | None = None, short_crops: dict | None = None):
    dataset = fn_args.data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=features.LABEL_XF),
        tf_transform_output.transformed_metadata.schema)
    shapes = model_input_shapes(tf_transform_output)
    inputs = list(shapes)
    # SpecAugment masks time-frequency features; raw waveforms have no bands to mask.
    maskable = [k for k in inputs if len(shapes[k]) == 2]
    croppable = croppable_inputs(shapes)

    def split(x, y):
        x = {k: x[k] for k in inputs}
        if short_crops and croppable:   # before SpecAugment: crops pad with the silence frame serving sees
            x.update(random_crops({k: x[k] for k in croppable}, short_crops["silence"], short_crops["p"],
                                  short_crops["min_fraction"]))
        if spec_augment_config and maskable:
            x = spec_augment(x, maskable, **dataclasses.asdict(spec_augment_config))
        return x, tf.one_hot(tf.reshape(y, [-1]), num_classes)

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _plot_history(history: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=(prefix or "train_") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    settings = trainer_settings(fn_args.custom_config)
    training, data = settings.training, settings.data
    languages = list(data.languages)
    # The model sizes as plain JSON: build_model's keyword arguments, and what warm start compares.
    model_cfg = group_to_json(training.model)["fields"]
    tf.keras.utils.set_random_seed(training.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    crops = None
    names = croppable_inputs(model_input_shapes(tf_transform_output))
    if training.short_crops and training.short_crops.p > 0 and names:
        silence = silence_frames(tf_transform_output.transform_features_layer(), segment_samples(data), names,
                                 tf_transform_output.raw_feature_spec()[features.WAVEFORM])
        crops = {"p": float(training.short_crops.p), "silence": silence,
                 "min_fraction": min(1.0, float(training.short_crops.min_seconds) / float(data.segment_seconds))}
    train = _dataset(fn_args, fn_args.train_files, tf_transform_output, training.train_batch_size, len(languages),
                     spec_augment_config=training.spec_augment, short_crops=crops)
    evaluation = _dataset(fn_args, fn_args.eval_files, tf_transform_output, training.eval_batch_size, len(languages))

    shapes = model_input_shapes(tf_transform_output)
    model = build_model(len(languages), shapes, **model_cfg, languages=languages,
                        zero_shot_weight=training.zero_shot_weight)
    base_dir = getattr(fn_args, "base_model", None)
    record = warm_start.warm_start(model, base_dir, languages, shapes, model_cfg, enabled=training.warm_start)
    if record["warm_started_from"]:   # report the Model artifact, not its Format-Serving folder
        record["warm_started_from"] = model_artifact_uri(record["warm_started_from"])
    logging.info("warm start: %s", record)
    steps = int(fn_args.train_steps)
    epochs = max(1, min(training.epochs, steps))
    schedule = keras.optimizers.schedules.CosineDecay(training.learning_rate, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=training.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    model.summary(print_fn=logging.info)

    history = model.fit(
        train, steps_per_epoch=-(-steps // epochs), epochs=epochs,
        validation_data=evaluation, validation_steps=fn_args.eval_steps,
        callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")],
        verbose=2)

    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, WARM_START_RECORD), "w") as f:
        json.dump(record, f)
    input_names = list(shapes)
    held = held_out.score_split(fn_args, fn_args.eval_files, tf_transform_output, model, input_names,
                                training.eval_batch_size)
    calibration = held_out.fit_calibration(held, fn_args.model_run_dir)
    signatures = make_signatures(model, tf_transform_output, languages, segment_samples(data),
                                 data.sample_rate, temperature=calibration["temperature"])
    open_set_result = None
    if training.open_set_dir:
        clips = held_out.read_open_set_clips(training.open_set_dir, data.sample_rate)
        train_scores = held_out.score_split(fn_args, fn_args.train_files, tf_transform_output, model, input_names,
                                            training.eval_batch_size, held_out.MAX_CENTROID_BATCHES)
        open_set_result = held_out.choose_open_set(held, train_scores, calibration["temperature"], clips,
                                                   signatures["embed"], languages,
                                                   training.open_set_min_kept_correct)
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)
    warm_start.save(model, fn_args.serving_model_dir, languages, shapes, model_cfg)
    held_out.write_model_assets(fn_args.serving_model_dir, fn_args.model_run_dir, calibration, open_set_result)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vals] for k, vals in history.history.items()}, f)
    _plot_history(history.history, os.path.join(fn_args.model_run_dir, "training_curves.png"))
