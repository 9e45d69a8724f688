"""Steps to reach an eval accuracy: training from scratch vs warm start vs transfer (issue 13, item 5).

Reuses one Transform output (a demo run's, `make demo`) and the Trainer's own model code
(models/keras_model: build_model, warm_start.save/warm_start) with run_fn's optimiser and loss;
no SpecAugment or short crops (both off here, so the three runs differ only in their start).

- scratch:  a fresh model on all train examples, all languages;
- warm:     a base model trained `--base-steps` on half the train examples (every other one),
            then the same training as scratch, starting from its weights (same languages);
- transfer: a base model trained `--base-steps` on every language but the last one, then the same
            training as scratch with all languages: body copied, output layer new but for the
            shared languages' rows.

Every `--eval-every` steps the whole eval split (held-out speakers) is scored; the table gives
the first step at which each run reaches each accuracy. Run:

    PYTHONPATH=$PWD python -m bench.warm_start --transform-dir tfx_output/pipeline_root/Transform
"""
from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from config import PipelineConfig, group_to_json
from contract import features
from models.keras_model import warm_start
from models.keras_model.model import build_model
from models.keras_model.trainer import model_input_shapes


def _latest(folder: str) -> str:
    runs = sorted(glob.glob(os.path.join(folder, "*")), key=lambda p: int(os.path.basename(p)))
    if not runs:
        raise SystemExit(f"no artifacts under {folder}: run the demo first (make demo)")
    return runs[-1]


def _examples(files, tft_output, inputs, batch_size, keep_label=None, shard=None, repeat=True):
    spec = tft_output.transformed_feature_spec()
    ds = tf.data.TFRecordDataset(files, compression_type="GZIP" if files[0].endswith(".gz") else "")
    if shard is not None:
        ds = ds.shard(2, shard)
    ds = ds.map(lambda r: tf.io.parse_single_example(r, spec))
    if keep_label is not None:
        ds = ds.filter(lambda x: tf.reshape(x[features.LABEL_XF], []) < keep_label)
    ds = ds.cache()
    if repeat:
        ds = ds.shuffle(2048, seed=0).repeat()
    return ds.batch(batch_size).map(lambda x: ({k: x[k] for k in inputs}, tf.reshape(x[features.LABEL_XF], [-1])))


def _compile(model, cfg, steps):
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=_smoothed_loss(model, cfg.label_smoothing))


def _smoothed_loss(model, smoothing):
    classes = model.output_shape[-1]
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    return lambda y, p: loss(tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), classes), p)


def _accuracy(model, eval_batches) -> float:
    right = total = 0
    for x, y in eval_batches:
        right += int(np.sum(np.argmax(model(x, training=False).numpy(), axis=1) == y.numpy()))
        total += len(y)
    return right / total


def _train(model, cfg, train, eval_batches, steps, eval_every, label):
    """Train `steps` steps; eval accuracy at step 0 and every `eval_every` steps."""
    _compile(model, cfg, steps)
    curve, it, started = [(0, _accuracy(model, eval_batches))], iter(train), time.time()
    for step in range(1, steps + 1):
        x, y = next(it)
        model.train_on_batch(x, y)
        if step % eval_every == 0 or step == steps:
            curve.append((step, _accuracy(model, eval_batches)))
            print(f"  {label:9s} step {step:5d}  eval accuracy {curve[-1][1]:.3f}  ({time.time() - started:.0f} s)",
                  flush=True)
    return curve


def _first_step(curve, target):
    return next((step for step, acc in curve if acc >= target), None)


def _stays_from(curve, target):
    """The first evaluated step from which every later evaluation is >= target (noise-robust)."""
    since = None
    for step, acc in curve:
        since = (step if since is None else since) if acc >= target else None
    return since


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transform-dir", default=os.path.join("tfx_output", "pipeline_root", "Transform"))
    parser.add_argument("--steps", type=int, default=1000, help="steps of each measured run")
    parser.add_argument("--base-steps", type=int, default=500, help="steps of each base model")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--targets", default="0.8,0.9,0.95")
    args = parser.parse_args(argv)

    config = PipelineConfig()
    cfg = config.training
    model_fields = group_to_json(cfg.model)["fields"]   # as run_fn hands them to build_model
    languages = list(config.data.languages)
    tft_output = tft.TFTransformOutput(_latest(os.path.join(args.transform_dir, "transform_graph")))
    examples = _latest(os.path.join(args.transform_dir, "transformed_examples"))
    train_files = sorted(glob.glob(os.path.join(examples, "Split-train", "*")))
    eval_files = sorted(glob.glob(os.path.join(examples, "Split-eval", "*")))
    shapes = model_input_shapes(tft_output)
    inputs, batch = list(shapes), cfg.train_batch_size
    eval_all = list(_examples(eval_files, tft_output, inputs, 64, repeat=False))
    train_all = _examples(train_files, tft_output, inputs, batch)

    def fresh(n):
        keras.utils.set_random_seed(cfg.seed)
        return build_model(n, shapes, **model_fields)

    def warm(base, base_languages, n_languages):
        with tempfile.TemporaryDirectory() as folder:   # the files run_fn writes and reads
            warm_start.save(base, folder, base_languages, shapes, model_fields)
            model = fresh(n_languages)
            record = warm_start.warm_start(model, folder, languages, shapes, model_fields)
        print(f"  {record['warm_start_reason']}", flush=True)
        return model

    curves = {"scratch": _train(fresh(len(languages)), cfg, train_all, eval_all, args.steps, args.eval_every,
                                "scratch")}
    half = fresh(len(languages))
    _train(half, cfg, _examples(train_files, tft_output, inputs, batch, shard=0), eval_all, args.base_steps,
           args.base_steps, "base-half")
    curves["warm"] = _train(warm(half, languages, len(languages)), cfg, train_all, eval_all, args.steps,
                            args.eval_every, "warm")
    five = fresh(len(languages) - 1)
    five_eval = list(_examples(eval_files, tft_output, inputs, 64, keep_label=len(languages) - 1, repeat=False))
    _train(five, cfg, _examples(train_files, tft_output, inputs, batch, keep_label=len(languages) - 1), five_eval,
           args.base_steps, args.base_steps, "base-5")
    curves["transfer"] = _train(warm(five, languages[:-1], len(languages)), cfg, train_all, eval_all, args.steps,
                                args.eval_every, "transfer")

    targets = [float(t) for t in args.targets.split(",")]
    print(f"\neval accuracy (held-out speakers, {sum(len(y) for _, y in eval_all)} segments, {len(languages)} "
          f"languages); steps of the measured run to first reach it (base models: {args.base_steps} steps each, "
          f"not counted; '-' = not within {args.steps})")
    print("| run | step 0 | " + " | ".join(f"first reaches {t:.0%}" for t in targets) + " | "
          + " | ".join(f"stays >= {t:.0%} from" for t in targets) + f" | at {args.steps} |")
    print("| --- | ---: | " + " | ".join("---:" for _ in targets * 2) + " | ---: |")
    for name, curve in curves.items():
        cells = [str(step if step is not None else "-")
                 for step in [_first_step(curve, t) for t in targets] + [_stays_from(curve, t) for t in targets]]
        print(f"| {name} | {curve[0][1]:.3f} | " + " | ".join(cells) + f" | {curve[-1][1]:.3f} |")


if __name__ == "__main__":
    main()
