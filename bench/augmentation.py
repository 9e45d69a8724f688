"""Ablation: what the augmentations are worth, on the demo corpus, held-out speakers.

    python -m bench.augmentation [--train-steps 1000] [--output-dir bench_output/augmentation]

Three arms, each a real run of the whole pipeline on the CNN (local_runner: embedded S3 -> ingestion ->
AudioAugmenter -> Transform -> Trainer -> Evaluator), sharing one pipeline root and ML
Metadata store, so ingestion runs once and every arm reuses the same speaker-held-out split:

  none      no AudioAugmenter, no SpecAugment
  original  the first project's six waveform augmentations (AUGMENTATION_DEFAULT in config/presets.py)
  all       every augmentation (AUGMENTATION_ALL in config/presets.py) plus SpecAugment masks

(--arms mel128_deltas,power_spectrogram trains "original" with other representations.)

Same step budget, batch size, seed and learning-rate schedule in every arm. Each arm's trained
SavedModel is then scored through its serving signature on the eval split twice: as recorded
(clean) and under a shifted condition training never saw: blue noise (not in the noise bank)
at 10 dB SNR plus reverberation with RT60 1.0-1.4 s (training's room_reverb range ends at 0.7 s).
Prints a table (also bench_output/.../augmentation_ablation.{json,png}).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from config import CNN_REPRESENTATIONS, DEMO_CORPUS_DIR, PipelineConfig
from pipeline.flags import comma_list

DEFAULTS = PipelineConfig()

ARMS = {
    "none": {"augment_copies": 0, "augmentation": "default", "spec_augment": "off"},
    "original": {"augment_copies": DEFAULTS.augmenter.copies, "augmentation": "default", "spec_augment": "off"},
    "all": {"augment_copies": DEFAULTS.augmenter.copies, "augmentation": "all", "spec_augment": "on"},
    # Representation arms (not in the default --arms): "original" with other features.
    "mel128_deltas": {"augment_copies": DEFAULTS.augmenter.copies, "augmentation": "default", "spec_augment": "off",
                      "flags": ["--num-mel-bins", "128", "--mfcc-deltas", "2"]},
    "power_spectrogram": {"augment_copies": DEFAULTS.augmenter.copies, "augmentation": "default", "spec_augment": "off",
                          "flags": ["--representations", "power_spectrogram,mfcc"]},
}
DEFAULT_ARMS = ("none", "original", "all")
SHIFT_SEED = 90210
SHIFT_SNR_DB = 10.0
SHIFT_NOISE_COLOUR = "blue"
SHIFT_RT60_S = (1.0, 1.4)


def shifted(waveform: np.ndarray, key: str, sample_rate: int) -> np.ndarray:
    """The eval segment under the unseen condition: reverberant room, then blue noise."""
    from audio import noise, reverb
    from audio.augment import limit_peak, rng_for

    rng = rng_for(SHIFT_SEED, key, 0)
    rir = reverb.synthetic_rir(rng, sample_rate, float(rng.uniform(*SHIFT_RT60_S)), direct_to_reverb_db=0.0)
    wet = reverb.reverberate(waveform, rir)
    mixed = noise.mix_at_snr(wet, noise.coloured_noise(rng, wet.shape[0], SHIFT_NOISE_COLOUR), SHIFT_SNR_DB)
    return limit_peak(mixed)


def score(model_dir: str, examples_uri: str, sample_rate: int, shift: bool, batch_size: int = 64) -> dict:
    """Accuracy and mean cross-entropy of the serving_default signature on the eval split."""
    import tensorflow as tf

    from contract import features
    from contract.codec import example_key, float_feature, read_floats, read_split

    predict = tf.saved_model.load(model_dir).signatures["serving_default"]
    correct, losses, batch, labels = 0, [], [], []

    def flush():
        nonlocal correct
        probabilities = predict(examples=tf.constant(batch))["probabilities"].numpy()
        label = np.asarray(labels)
        correct += int(np.sum(np.argmax(probabilities, axis=1) == label))
        losses.extend(-np.log(np.clip(probabilities[np.arange(len(label)), label], 1e-7, 1.0)))
        batch.clear()
        labels.clear()

    for example in read_split(examples_uri, "eval"):
        feats = example.features.feature
        waveform = read_floats(feats[features.WAVEFORM])
        if shift:
            waveform = shifted(waveform, example_key(example), sample_rate)
        raw = tf.train.Example(features=tf.train.Features(feature={features.WAVEFORM: float_feature(waveform)}))
        batch.append(raw.SerializeToString())
        labels.append(int(feats[features.LABEL].int64_list.value[0]))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return {"accuracy": correct / max(1, len(losses)), "loss": float(np.mean(losses)), "segments": len(losses)}


def run_arm(name: str, args) -> dict:
    import local_runner

    arm = ARMS[name]
    argv = ["--corpus-dir", args.corpus_dir, "--languages", args.languages, "--output-dir", args.output_dir,
            "--serving-dir", os.path.join(args.output_dir, "serving", name),
            "--train-steps", str(args.train_steps), "--epochs", str(args.epochs),
            "--augment-copies", str(arm["augment_copies"]), "--augmentation", arm["augmentation"],
            "--spec-augment", arm["spec_augment"], "--accuracy-bound", "0", "--quiet",
            "--representations", ",".join(CNN_REPRESENTATIONS), *arm.get("flags", [])]
    started = time.time()
    summary = local_runner.run(local_runner.parse_args(argv))
    model_dir = os.path.join(summary["trained_model_uri"], "Format-Serving")
    result = {"arm": name, "pipeline_seconds": round(time.time() - started, 1),
              "tfma_accuracy": summary.get("evaluation", {}).get("accuracy"),
              "states": {c: i["state"] for c, i in summary["components"].items()}}
    result["clean"] = score(model_dir, summary["examples_uri"], DEFAULTS.data.sample_rate, shift=False)
    result["shifted"] = score(model_dir, summary["examples_uri"], DEFAULTS.data.sample_rate, shift=True)
    return result


def format_table(results: list[dict], args) -> str:
    width = max(9, *(len(r["arm"]) for r in results))
    lines = [f"ablation: demo corpus, held-out speakers, {args.train_steps} train steps per arm",
             f"shifted = eval + RT60 {SHIFT_RT60_S[0]}-{SHIFT_RT60_S[1]} s reverb + {SHIFT_NOISE_COLOUR} noise "
             f"at {SHIFT_SNR_DB:g} dB SNR (neither in training)",
             f"{'arm':{width}s} {'eval acc':>8s} {'eval loss':>9s} {'shifted acc':>11s} {'shifted loss':>12s} "
             f"{'TFMA acc':>8s} {'segments':>8s} {'pipeline s':>10s}"]
    for r in results:
        lines.append(f"{r['arm']:{width}s} {r['clean']['accuracy']:8.3f} {r['clean']['loss']:9.3f} "
                     f"{r['shifted']['accuracy']:11.3f} {r['shifted']['loss']:12.3f} "
                     f"{(r['tfma_accuracy'] or float('nan')):8.3f} {r['clean']['segments']:8d} "
                     f"{r['pipeline_seconds']:10.0f}")
    return "\n".join(lines)


def plot(results: list[dict], path: str, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x = np.arange(len(results))
    for offset, condition, colour in ((-0.2, "clean", "tab:blue"), (0.2, "shifted", "tab:orange")):
        values = [r[condition]["accuracy"] for r in results]
        bars = ax.bar(x + offset, values, 0.4, label=f"{condition} eval", color=colour)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(x, [r["arm"] for r in results])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (held-out speakers, segments)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--train-steps", type=int, default=DEFAULTS.training.train_steps, help="optimizer steps, every arm")
    p.add_argument("--epochs", type=int, default=DEFAULTS.training.epochs)
    p.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"comma-separated subset of {list(ARMS)}")
    p.add_argument("--corpus-dir", default=DEMO_CORPUS_DIR)
    p.add_argument("--languages", default=",".join(DEFAULTS.data.languages))
    p.add_argument("--output-dir", default=os.path.join("bench_output", "augmentation"))
    args = p.parse_args(argv)
    args.output_dir = os.path.abspath(args.output_dir)
    arms = list(comma_list(args.arms))
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        p.error(f"unknown arm(s) {unknown}; known: {list(ARMS)}")
    os.environ.pop("AWS_ENDPOINT_URL", None)   # the embedded endpoint, like `make demo`
    results = []
    for name in arms:
        print(f"--- arm {name}: {ARMS[name]} (load average {os.getloadavg()[0]:.2f})", flush=True)
        results.append(run_arm(name, args))
        os.environ.pop("AWS_ENDPOINT_URL", None)
        print(json.dumps(results[-1]), flush=True)
    table = format_table(results, args)
    print(table)
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "augmentation_ablation.json"), "w") as f:
        json.dump({"results": results, "table": table, "argv": sys.argv[1:], "loadavg": os.getloadavg()}, f, indent=2)
    plot(results, os.path.join(args.output_dir, "augmentation_ablation.png"),
         f"{args.train_steps} steps/arm; shifted: unseen reverb + {SHIFT_NOISE_COLOUR} noise {SHIFT_SNR_DB:g} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
