"""Side by side, on one speaker split: pushed models, Whisper zero-shot and pretrained-feature probes,
on the demo corpus's held-out voices and on speech from other sources (bench/unseen_speech.py).
(One module: the arms, the scoring and the report share one split and one set of windows.)

The split is the pipeline's: the demo corpus's voices go to train or eval as
components/speaker_split.py assigns them (eval fraction 0.2, seed 42 by default), so a pushed
model, which was trained on the train voices, and the probes here see the same voices.

Arms (every one scores a clip the same way: 3 s windows with a 1.5 s hop, or the pushed model's
own geometry, each zero-padded, probabilities averaged over windows weighted by real audio):

- NAME (--model NAME=DIR, or --run NAME="PIPELINE FLAGS", which runs local_runner.py into
  OUT/runs/NAME first): a pushed SavedModel through serving/ (its predict_waveform signature and
  serving/windows.py pooling), as `python -m serving predict` answers. A clip the model calls
  "no_speech" counts as wrong.
- zero_shot: Whisper-base's own language step (models/whisper), restricted to the six languages.
- probe_head: a probe, not the pipeline's head: logistic regression on pooled Whisper encoder
  features (mean and std over time, models/whisper/embedding.py) of the train voices' windows.
- probe+zero_shot: a probe: the sum of the two arms' log-probabilities (pooled per clip).

Cost: milliseconds per 3 s window of each arm on this machine, measured in the same run on one
batch of 32 windows (median of 5, arms interleaved so load changes fall on all of them).

Writes OUT/results.json, OUT/results.md (a table per set and language), OUT/transfer.png (a bar
chart per set) and OUT/predictions.jsonl (one row per clip and arm).

    python -m bench.transfer --sets-dir DIR [--build-sets] --out OUT \
        [--model cnn=/path/to/serving] [--run NAME="--representations log_mel,mfcc"] [--no-whisper]
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "data", "demo")
RATE = 16_000
LANGUAGES = ("English", "French", "Spanish", "German", "Russian", "Chinese")
WHISPER_CODES = {"English": "en", "French": "fr", "Spanish": "es", "German": "de", "Russian": "ru", "Chinese": "zh"}
DEMO_SET = "demo_heldout_voices"
ALL = "all"


# ---- clips and windows ---------------------------------------------------------------------

def load_clip(path: str) -> np.ndarray:
    from audio.decode import decode_audio
    with open(path, "rb") as f:
        return np.asarray(decode_audio(f.read(), RATE), np.float32)


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """The window grid serving/windows.py uses: one window at least, the last one may be short."""
    return [k * hop for k in range(1 + -(-max(num_samples - window, 0) // hop))]


def cut_windows(wav: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """[k, window] zero-padded windows and their weights (fraction of real audio)."""
    starts = window_starts(len(wav), window, hop)
    out = np.zeros((len(starts), window), np.float32)
    weights = np.zeros(len(starts), np.float32)
    for i, s in enumerate(starts):
        piece = wav[s:s + window]
        out[i, :len(piece)] = piece
        weights[i] = len(piece) / window
    return out, weights


def pool_windows(probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-window probabilities [k, L] -> one clip's [L], averaged with the windows' weights."""
    w = np.asarray(weights, np.float64)
    return (np.asarray(probabilities, np.float64) * w[:, None]).sum(0) / max(w.sum(), 1e-12)


def combine_log(*probabilities: np.ndarray) -> np.ndarray:
    """Sum of log-probabilities, renormalised (a product of experts over the same languages)."""
    logp = sum(np.log(np.maximum(np.asarray(p, np.float64), 1e-12)) for p in probabilities)
    logp = logp - logp.max(axis=-1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=-1, keepdims=True)


# ---- scoring -------------------------------------------------------------------------------

def accuracy_table(predictions: list[dict]) -> dict:
    """Rows {set, language, arm, predicted} -> {set: {language|all: {arm: {correct, n, accuracy}}}}."""
    table: dict = {}
    for row in predictions:
        for language in (row["language"], ALL):
            cell = table.setdefault(row["set"], {}).setdefault(language, {}).setdefault(
                row["arm"], {"correct": 0, "n": 0})
            cell["n"] += 1
            cell["correct"] += int(row["predicted"] == row["language"])
    for by_language in table.values():
        for by_arm in by_language.values():
            for cell in by_arm.values():
                cell["accuracy"] = cell["correct"] / cell["n"]
    return table


def markdown(table: dict, arms: list[str], costs: dict[str, float], sets_order: list[str]) -> str:
    lines = []
    for set_name in sets_order:
        if set_name not in table:
            continue
        by_language = table[set_name]
        lines += [f"**{set_name}**", "", "| language | clips | " + " | ".join(arms) + " |",
                  "| --- | ---: | " + " | ".join("---:" for _ in arms) + " |"]
        for language in [lang for lang in LANGUAGES if lang in by_language] + [ALL]:
            cells = by_language[language]
            n = max(c["n"] for c in cells.values())
            shown = [f"{cells[a]['accuracy']:.3f}" if a in cells else "-" for a in arms]
            name = f"**{language}**" if language == ALL else language
            lines.append(f"| {name} | {n} | " + " | ".join(shown) + " |")
        lines.append("")
    lines += ["**cost per 3 s window (ms, this machine, same run)**", "",
              "| " + " | ".join(arms) + " |", "| " + " | ".join("---:" for _ in arms) + " |",
              "| " + " | ".join(f"{costs[a]:.1f}" if a in costs else "-" for a in arms) + " |", ""]
    return "\n".join(lines)


def plot(table: dict, arms: list[str], sets_order: list[str], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets_ = [s for s in sets_order if s in table]
    fig, axes = plt.subplots(len(sets_), 1, figsize=(10, 2.6 * len(sets_)), squeeze=False)
    width = 0.8 / max(len(arms), 1)
    for ax, set_name in zip(axes[:, 0], sets_):
        languages = [lang for lang in LANGUAGES if lang in table[set_name]] + [ALL]
        x = np.arange(len(languages))
        for i, arm in enumerate(arms):
            acc = [table[set_name][lang].get(arm, {}).get("accuracy", np.nan) for lang in languages]
            ax.bar(x + (i - (len(arms) - 1) / 2) * width, acc, width, label=arm)
        ax.set_xticks(x, languages)
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title(set_name, fontsize=10)
        ax.axhline(1 / 6, color="grey", lw=0.7, ls=":")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=len(arms), loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * len(sets_))))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the split -----------------------------------------------------------------------------

def split_defaults() -> tuple[float, int]:
    """The pipeline's own eval fraction and split seed, so the bench holds out the same voices."""
    from config import DataConfig

    d = DataConfig()
    return d.eval_fraction, d.split_seed


def demo_split(eval_fraction: float, seed: int) -> tuple[list[dict], set[str]]:
    """The demo manifest's rows and the voices the pipeline's speaker split sends to eval."""
    from components.speaker_split import Clip, assign_speakers, speakers_by_language
    rows = [json.loads(line) for line in open(os.path.join(DEMO, "manifest.jsonl"))]
    clips = [Clip(r["key"], r["language"], 0, r["speaker_id"]) for r in rows]
    split = assign_speakers(speakers_by_language(clips), eval_fraction, seed)
    return rows, {s for s, v in split.items() if v == "eval"}


def evaluation_clips(sets_dir: str | None, eval_voices: set[str], demo_rows: list[dict]) -> list[dict]:
    """[{set, language, path, speaker}]: the demo's held-out voices, then every built set;
    espeak_new splits into its held-out voices and the train voices (new text, known voice)."""
    clips = [{"set": DEMO_SET, "language": r["language"], "path": os.path.join(DEMO, r["key"]),
              "speaker": r["speaker_id"]} for r in demo_rows if r["speaker_id"] in eval_voices]
    if sets_dir:
        from bench.unseen_speech import OUT_OF_SET_SETS, read_manifest
        for r in read_manifest(sets_dir):
            name = r["set"]
            if name in OUT_OF_SET_SETS:   # no right answer among the model's languages
                continue
            if name == "espeak_new":
                name += "_heldout_voices" if r["speaker"] in eval_voices else "_train_voices"
            clips.append({"set": name, "language": r["language"], "path": os.path.join(sets_dir, r["path"]),
                          "speaker": r["speaker"], "source": r.get("source")})
    return clips


# ---- arms ----------------------------------------------------------------------------------

class PushedModel:
    """A pushed SavedModel through serving/: what `python -m serving predict` answers."""

    def __init__(self, model_dir: str):
        from serving.local_model import LocalModel
        from serving.windows import probe_geometry
        self.backend = LocalModel(model_dir)
        self.geometry = probe_geometry(self.backend, RATE)
        if self.geometry.sample_rate != RATE:
            raise SystemExit(f"{model_dir}: model rate {self.geometry.sample_rate}, the bench feeds {RATE} Hz")

    def predict(self, wav: np.ndarray) -> str:
        from serving.windows import analyse_stream
        return analyse_stream(self.backend, [wav], self.geometry, windows_per_call=64)["language"]

    def cost_call(self, windows: int):
        n = self.geometry.window + (windows - 1) * self.geometry.hop
        wav = np.random.default_rng(0).normal(0, 0.1, n).astype(np.float32)
        return lambda: self.backend.analyse(wav, RATE)


class Whisper:
    """Whisper-base in TensorFlow: pooled encoder features and the six-language zero-shot."""

    def __init__(self, window: int):
        import tensorflow as tf

        from models.whisper import embedding, encoder, frontend, language, weights
        w = weights.load()
        enc, head = encoder.Encoder(w), language.LanguageHead(w)
        keep = tuple(WHISPER_CODES[lang] for lang in LANGUAGES)
        spec = [tf.TensorSpec([None, window], tf.float32)]

        @tf.function(input_signature=spec)
        def both(x):
            states = enc(frontend.log_mel(x))
            return embedding.pool(states, "mean_std"), language.restrict(head(states), w.languages, keep)

        @tf.function(input_signature=spec)
        def embed(x):
            return embedding.pool(enc(frontend.log_mel(x)), "mean_std")

        self.both, self.embed, self.window = both, embed, window

    def features(self, windows: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
        feats, zs = [], []
        for i in range(0, len(windows), batch):
            f, z = self.both(windows[i:i + batch])
            feats.append(f.numpy())
            zs.append(z.numpy())
        return np.concatenate(feats), np.concatenate(zs)


def train_probe(features: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    clf.fit(features, labels)
    return clf


def measure_costs(calls: dict[str, callable], windows: int, repeats: int = 5) -> dict[str, float]:
    """ms per window: each call once to warm up, then `repeats` rounds with the calls interleaved."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return {name: 1000 * float(np.median(t)) / windows for name, t in times.items()}


def run_pipeline(name: str, flags: str, out: str) -> str:
    """local_runner.py with these flags into OUT/runs/NAME; returns the serving dir it pushed to."""
    run_dir = os.path.join(out, "runs", name)
    serving = os.path.join(run_dir, "serving")
    cmd = [sys.executable, os.path.join(REPO, "local_runner.py"), "--output-dir", run_dir,
           "--serving-dir", serving, "--quiet", *shlex.split(flags)]
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print(f"[{name}] running: {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    with open(os.path.join(out, f"run_{name}.log"), "w") as log:
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"[{name}] local_runner.py failed (exit {proc.returncode}); see {log.name}")
    return serving


def _named(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results directory")
    p.add_argument("--sets-dir", default=None, help="a directory built by bench.unseen_speech")
    p.add_argument("--build-sets", action="store_true", help="build --sets-dir first (bench.unseen_speech)")
    p.add_argument("--model", type=_named, action="append", default=[], metavar="NAME=DIR",
                   help="a pushed model (version or base folder) to score as arm NAME")
    p.add_argument("--run", type=_named, action="append", default=[], metavar='NAME="FLAGS"',
                   help="run the pipeline with these flags into OUT/runs/NAME, then score its model")
    p.add_argument("--no-whisper", action="store_true", help="skip zero_shot and the probes")
    p.add_argument("--no-probe", action="store_true", help="skip the probes (keep zero_shot)")
    p.add_argument("--eval-fraction", type=float, default=None, help="speaker split (default: the pipeline's)")
    p.add_argument("--split-seed", type=int, default=None, help="speaker split seed (default: the pipeline's)")
    p.add_argument("--window-seconds", type=float, default=3.0, help="Whisper window when no model gives one")
    p.add_argument("--hop-seconds", type=float, default=1.5)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.perf_counter()

    if args.build_sets:
        if not args.sets_dir:
            p.error("--build-sets needs --sets-dir")
        from bench.unseen_speech import build
        build(args.sets_dir)
    fraction, seed = split_defaults()
    fraction = fraction if args.eval_fraction is None else args.eval_fraction
    seed = seed if args.split_seed is None else args.split_seed
    demo_rows, eval_voices = demo_split(fraction, seed)
    clips = evaluation_clips(args.sets_dir, eval_voices, demo_rows)
    print(f"split: eval voices {sorted(eval_voices)} (fraction {fraction}, seed {seed}); "
          f"{len(clips)} evaluation clips", flush=True)
    audio = {c["path"]: load_clip(c["path"]) for c in clips}

    models = dict(args.model)
    for name, flags in args.run:
        models[name] = run_pipeline(name, flags, args.out)
    predictions: list[dict] = []
    costs: dict[str, float] = {}
    cost_calls: dict[str, callable] = {}
    cost_windows = 32
    window, hop = int(args.window_seconds * RATE), int(args.hop_seconds * RATE)
    for name, model_dir in models.items():
        model = PushedModel(model_dir)
        window, hop = model.geometry.window, model.geometry.hop
        t0 = time.perf_counter()
        for c in clips:
            predictions.append({**c, "arm": name, "predicted": model.predict(audio[c["path"]])})
        print(f"[{name}] {model.backend.path}: {len(clips)} clips in {time.perf_counter() - t0:.0f} s", flush=True)
        cost_calls[name] = model.cost_call(cost_windows)

    if not args.no_whisper:
        from sklearn.preprocessing import LabelEncoder  # noqa: F401 - fail early without scikit-learn
        whisper = Whisper(window)
        t0 = time.perf_counter()
        cut = {c["path"]: cut_windows(audio[c["path"]], window, hop) for c in clips}
        stacked = np.concatenate([w for w, _ in cut.values()])
        feats, zs = whisper.features(stacked)
        offsets = np.cumsum([0] + [len(w) for w, _ in cut.values()])
        per_clip = {path: (feats[a:b], zs[a:b], cut[path][1]) for path, a, b in zip(cut, offsets[:-1], offsets[1:])}
        print(f"[whisper] {len(stacked)} windows in {time.perf_counter() - t0:.0f} s", flush=True)
        probe = None
        if not args.no_probe:
            train = [r for r in demo_rows if r["speaker_id"] not in eval_voices]
            tw = [cut_windows(load_clip(os.path.join(DEMO, r["key"])), window, hop)[0] for r in train]
            labels = np.concatenate([[LANGUAGES.index(r["language"])] * len(w) for r, w in zip(train, tw)])
            train_feats, _ = whisper.features(np.concatenate(tw))
            probe = train_probe(train_feats, labels)
            print(f"[probe] trained on {len(train)} clips ({len(labels)} windows) of "
                  f"{len({r['speaker_id'] for r in train})} train voices", flush=True)
        for c in clips:
            f, z, w = per_clip[c["path"]]
            p_zs = pool_windows(z, w)
            predictions.append({**c, "arm": "zero_shot", "predicted": LANGUAGES[int(np.argmax(p_zs))]})
            if probe is not None:
                p_probe = pool_windows(probe.predict_proba(f), w)
                predictions.append({**c, "arm": "probe_head", "predicted": LANGUAGES[int(np.argmax(p_probe))]})
                p_comb = combine_log(p_probe, p_zs)
                predictions.append({**c, "arm": "probe+zero_shot", "predicted": LANGUAGES[int(np.argmax(p_comb))]})
        batch = np.random.default_rng(0).normal(0, 0.1, (cost_windows, window)).astype(np.float32)
        cost_calls["zero_shot"] = lambda: whisper.both(batch)  # encoder + language step (+ pooling)
        if probe is not None:
            cost_calls["probe_head"] = lambda: probe.predict_proba(whisper.embed(batch).numpy())
            cost_calls["probe+zero_shot"] = lambda: probe.predict_proba(whisper.both(batch)[0].numpy())
    costs = measure_costs(cost_calls, cost_windows)

    arms = list(dict.fromkeys(r["arm"] for r in predictions))
    table = accuracy_table(predictions)
    sets_order = [DEMO_SET] + sorted(s for s in table if s != DEMO_SET)
    build_report = None
    if args.sets_dir and os.path.exists(os.path.join(args.sets_dir, "build_report.json")):
        build_report = json.load(open(os.path.join(args.sets_dir, "build_report.json"), encoding="utf-8"))
    md = markdown(table, arms, costs, sets_order)
    results = {"split": {"eval_fraction": fraction, "seed": seed, "eval_voices": sorted(eval_voices)},
               "window_seconds": window / RATE, "hop_seconds": hop / RATE, "models": models, "arms": arms,
               "table": table, "cost_ms_per_window": costs, "sets_build_report": build_report,
               "seconds": round(time.perf_counter() - t_start, 1)}
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.join(args.out, "predictions.jsonl"), "w", encoding="utf-8") as f:
        for r in predictions:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    plot(table, arms, sets_order, os.path.join(args.out, "transfer.png"))
    print(md)
    print(f"wrote {args.out}/results.json, results.md, transfer.png, predictions.jsonl "
          f"({results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
