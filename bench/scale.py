"""Scale benchmark: each Beam stage's throughput and peak memory beside the limits of its libraries.

Generates --minutes of new speech (bench/synth_corpus.py: demo speakers at random speed,
pitch, gain and noise, 48 kHz stereo MP3 clips of 30-120 s like audio-lingua's, or one clip
per demo sentence with --clip-seconds sentence), uploads it to the embedded
S3 endpoint, and measures on that same audio, each in a process of its own (so each
figure's peak RSS is that stage's alone):

    decode limit     soundfile + soxr decoding every clip to 16 kHz mono, nothing else
    feature limit    tf.signal log-mel(64) + MFCC(13) of every 3 s window (1.5 s hop), nothing else
    encoder limit    with --representations holding `whisper`: Whisper's log-mel, encoder and
                     language head on those windows (one tf.function, Transform's batch size)
    ingestion        the pipeline's S3AudioExampleGen (S3 -> tf.Examples)
    augmentation     the pipeline's AudioAugmenter at the default copies, on ingestion's output
    Transform        the pipeline's Transform, on ingestion's output (not the augmented one)

for every Beam setting asked for:

    in_memory x1         the local default (one worker, in the runner's process)
    multi_processing x1  one worker process
    multi_processing x2  two worker processes

(Beam's Dask runner is not a setting: ingestion and Transform do not run on apache-beam
2.59's, see docs/kubeflow_and_scale.md.)

Every throughput is audio seconds per second, counted in seconds of *source* audio (the
generated corpus's length), so ratios between stages and their limits are like for like.
Prints the table, the machine's core count and load average (shared-machine figures are not
comparable with idle ones), and writes scale.json and scale.png to --output-dir.

    python -m bench.scale [--minutes 30[,200]] [--settings "in_memory x1,multi_processing x2"] [--repeats 1]
                          [--representations whisper]

Several --minutes are measured in turn, and each stage's peak RSS is printed by corpus size
with the largest corpus's over the smallest's (flat memory: about 1.0).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from tqdm import tqdm

from bench.stage_probe import run_measured
from bench.synth_corpus import DEFAULT_CLIP_SECONDS
from config import DEMO_CORPUS_DIR, PipelineConfig

SETTINGS = {
    "in_memory x1": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    "multi_processing x1": ["--direct_running_mode=multi_processing", "--direct_num_workers=1"],
    "multi_processing x2": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
}
DEFAULT_SETTINGS = "in_memory x1,multi_processing x2"
BUCKET = "langid-scale-bench"
LIMITS = ("decode_limit", "feature_limit")
STAGES = (("ingestion", "S3AudioExampleGen"), ("augmentation", "AudioAugmenter"), ("transform", "Transform"))


def run_stage_process(stage: str, params: dict, work: str) -> dict:
    """One stage in a child process: its result plus wall time and peak memory."""
    result_path = os.path.join(work, f"result-{stage}-{os.getpid()}.json")
    measured = run_measured([sys.executable, "-m", "bench.scale_stage", stage, json.dumps(params), result_path])
    if measured["returncode"] != 0:
        raise RuntimeError(f"stage {stage} failed with exit status {measured['returncode']} (its log is above)")
    with open(result_path) as f:
        result = json.load(f)
    os.remove(result_path)
    return {**result, **measured, "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


def _corpus(args, minutes: float, corpus: str, generate, parse_clip_seconds) -> float:
    """Generate the corpus into `corpus`, or reuse it (--keep-corpus) when it was made with the same
    arguments; returns its seconds of audio."""
    asked = {"minutes": minutes, "clip_seconds": args.clip_seconds, "source": os.path.abspath(args.corpus_dir)}
    made_with = os.path.join(corpus, "generated_with.json")
    if os.path.exists(made_with):
        with open(made_with) as f:
            recorded = json.load(f)
        if recorded["asked"] == asked:
            print(f"reusing the corpus in {corpus}", flush=True)
            return recorded["seconds"]
        shutil.rmtree(corpus)
    with tqdm(total=round(minutes * 60), desc="generate corpus", unit="audio s") as progress:
        seconds = generate(args.corpus_dir, corpus, minutes, progress=progress,
                           clip_seconds=parse_clip_seconds(args.clip_seconds))
    with open(made_with, "w") as f:   # last: a corpus cut short is never reused
        json.dump({"asked": asked, "seconds": seconds}, f)
    return seconds


def print_profile(path: str, out: str, lines: int = 25) -> None:
    """The top of a cProfile dump, by own time and by cumulative time, into a text file; the dump
    itself beside it (out with .prof), for pstats' callers or snakeviz."""
    import io
    import pstats

    shutil.copyfile(path, os.path.splitext(out)[0] + ".prof")
    text = io.StringIO()
    for order in ("tottime", "cumulative"):
        pstats.Stats(path, stream=text).strip_dirs().sort_stats(order).print_stats(lines)
    with open(out, "w") as f:
        f.write(text.getvalue())


def plot(results: dict, limits: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    x = np.arange(len(names))
    fig, (speed, memory) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(STAGES)
    for i, (stage, _) in enumerate(STAGES):
        offset = (i - (len(STAGES) - 1) / 2) * width
        bars = speed.bar(x + offset, [results[n][f"{stage}_audio_s_per_s"] for n in names], width, label=stage)
        speed.bar_label(bars, fmt="%.0f", fontsize=7)
        memory.bar(x + offset, [results[n]["peak_rss_mb"][stage] for n in names], width, label=stage)
    speed.axhline(limits["decode_limit"], color="C0", ls="--", lw=1,
                  label=f"decode limit {limits['decode_limit']:.0f}")
    speed.axhline(limits["feature_limit"], color="C2", ls=":", lw=1,
                  label=f"feature limit {limits['feature_limit']:.0f}")
    speed.set_yscale("log")
    speed.set_ylabel("audio seconds per second (source audio)")
    memory.set_ylabel("peak RSS of the stage's processes, MB")
    for ax in (speed, memory):
        ax.set_xticks(x, names, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def limits_for(representations: tuple[str, ...] | None) -> tuple[str, ...]:
    """The limits measured beside the stages: the encoder's too when Transform runs Whisper."""
    from contract import features

    return LIMITS + (("encoder_limit",) if representations and features.WHISPER in representations else ())


def summarize(runs: dict, limits: dict) -> dict:
    """Per Beam setting, the best run's seconds and audio s/s per stage, the peak RSS over runs,
    and each stage's ratio to its limit (Transform's to the encoder limit when one was measured)."""
    anchors = {f"{name}_audio_s_per_s": limit["audio_s_per_s"] for name, limit in limits.items()}
    results = {}
    for name, measured in runs.items():
        best = {stage: min((r[stage] for r in measured), key=lambda m: m["seconds"]) for stage, _ in STAGES}
        results[name] = {
            **{f"{stage}_s": best[stage]["seconds"] for stage, _ in STAGES},
            **{f"{stage}_audio_s_per_s": best[stage]["audio_s_per_s"] for stage, _ in STAGES},
            "segments": measured[0]["segments"], "runs": len(measured),
            "peak_rss_mb": {stage: max(r[stage]["peak_rss_mb"] for r in measured) for stage, _ in STAGES},
            **anchors,
            "ingestion_ratio_to_decode_limit": round(best["ingestion"]["audio_s_per_s"]
                                                     / anchors["decode_limit_audio_s_per_s"], 3),
            "transform_ratio_to_feature_limit": round(best["transform"]["audio_s_per_s"]
                                                      / anchors["feature_limit_audio_s_per_s"], 3)}
        if "encoder_limit" in limits:
            results[name]["transform_ratio_to_encoder_limit"] = round(
                best["transform"]["audio_s_per_s"] / anchors["encoder_limit_audio_s_per_s"], 3)
    if len({r["segments"] for measured in runs.values() for r in measured}) > 1:
        raise RuntimeError(f"settings disagree on the segment count: {runs}")
    return results


def rss_by_size(summaries: dict[float, dict]) -> dict[str, dict[str, dict]]:
    """setting -> stage -> {minutes: peak RSS MB} and `growth`, the largest corpus's peak over the
    smallest's: how flat each stage's memory is as the corpus grows."""
    sizes = sorted(summaries)
    out: dict[str, dict[str, dict]] = {}
    for name in summaries[sizes[0]]["best"]:
        for stage, _ in STAGES:
            peaks = {m: summaries[m]["best"][name]["peak_rss_mb"][stage] for m in sizes
                     if name in summaries[m]["best"]}
            out.setdefault(name, {})[stage] = {"peak_rss_mb": {f"{m:g}": v for m, v in peaks.items()},
                                               "growth": round(peaks[sizes[-1]] / peaks[sizes[0]], 3)}
    return out


def print_table(results: dict, limits: dict, source_s: float, repeats: int) -> None:
    print(f"\n{source_s / 60:.1f} min of source audio; best of {repeats} run(s) per setting; audio s/s of "
          "source audio; limits: " + ", ".join(f"{k.replace('_limit', '')} {v['audio_s_per_s']}"
                                              for k, v in limits.items()))
    encoder = "encoder_limit" in limits
    print(f"{'Beam setting':20s} {'ingest s/s':>10s} {'ratio':>6s} {'augment s/s':>11s} {'Transform s/s':>13s} "
          f"{'ratio':>6s}" + (f" {'x encoder':>9s}" if encoder else "")
          + "  peak RSS MB (ingest, augment, Transform)")
    for name, r in results.items():
        rss = r["peak_rss_mb"]
        print(f"{name:20s} {r['ingestion_audio_s_per_s']:10.1f} {r['ingestion_ratio_to_decode_limit']:6.2f} "
              f"{r['augmentation_audio_s_per_s']:11.1f} {r['transform_audio_s_per_s']:13.1f} "
              f"{r['transform_ratio_to_feature_limit']:6.3f}"
              + (f" {r['transform_ratio_to_encoder_limit']:9.3f}" if encoder else "")
              + f"  {rss['ingestion']:.0f}, {rss['augmentation']:.0f}, {rss['transform']:.0f}")
    if encoder:
        print("x encoder: Transform's audio s/s over the encoder limit's (Whisper log-mel + encoder + language "
              "head alone, same windows, same batch size, no Beam); target >= 0.7")


def measure(args, minutes: float, names: list[str], output_dir: str) -> dict | None:
    """Generate `minutes` of audio, measure the limits and every setting's stages on it; the
    summary (also written to output_dir/scale.json, plotted to scale.png), None with --repeats 0."""
    from bench.synth_corpus import generate, parse_clip_seconds
    from storage import s3
    from storage.corpus import upload_corpus
    from storage.embedded_s3 import embedded_s3

    os.makedirs(output_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="langid-scale-")
    corpus = args.keep_corpus or os.path.join(work, "corpus")
    if args.keep_corpus and len(args.minutes.split(",")) > 1:
        corpus = os.path.join(args.keep_corpus, f"{minutes:g}min")
    load = {"before": [round(x, 2) for x in os.getloadavg()]}
    representations = (tuple(args.representations.split(",")) if args.representations
                       else PipelineConfig().features.representations)
    runs: dict[str, list[dict]] = {}
    try:
        source_s = _corpus(args, minutes, corpus, generate, parse_clip_seconds)
        clips = sum(1 for _ in open(os.path.join(corpus, "manifest.jsonl")))
        # The S3 server gets its own process, like a real one (its memory is not a stage's).
        with embedded_s3(in_process=False) as endpoint:
            os.environ["AWS_ENDPOINT_URL"] = endpoint  # the stage processes inherit it
            upload_corpus(s3.make_client(endpoint), BUCKET, corpus, "scale/")
            languages = sorted(d for d in os.listdir(corpus) if os.path.isdir(os.path.join(corpus, d)))
            print(f"corpus: {source_s / 60:.1f} min of 48 kHz stereo MP3 in {clips} clips ({args.clip_seconds} s) "
                  f"at s3://{BUCKET}/scale/", flush=True)
            limits = {}
            for limit in limits_for(representations):
                measured = run_stage_process(limit, {"corpus_dir": corpus}, work)
                limits[limit] = {"audio_s_per_s": round(source_s / measured["seconds"], 1),
                                 **{k: measured[k] for k in ("seconds", "peak_rss_mb", "loadavg_after")},
                                 **({"windows": measured["windows"]} if "windows" in measured else {})}
                print(f"{limit}: {json.dumps(limits[limit])}", flush=True)
            base = {"bucket": BUCKET, "prefix": "scale/", "languages": languages,
                    "schema_path": args.schema and os.path.abspath(args.schema),
                    "representations": representations}
            # Forward, then backward, ...: a load that drifts during the run hits every setting alike.
            order = [n for i in range(args.repeats) for n in (names if i % 2 == 0 else names[::-1])]
            for number, name in enumerate(order):
                params = {**base, "root": os.path.join(work, f"{number}_{name.replace(' ', '_')}"),
                          "setting": name, "beam_args": SETTINGS[name]}
                measured = {}
                for stage, component in STAGES:
                    done = run_stage_process(component, params, work)
                    measured[stage] = {"seconds": round(done["seconds"], 1),
                                       "audio_s_per_s": round(source_s / done["seconds"], 1),
                                       **{k: done[k] for k in ("wall_s", "peak_rss_mb", "maxrss_mb",
                                                               "loadavg_after")}}
                    if stage == "ingestion":
                        with open(os.path.join(done["uri"], "ingestion_report.json")) as f:
                            measured["segments"] = sum(json.load(f)["segments"].values())
                    print(f"{name} {stage}: {json.dumps(measured[stage])}", flush=True)
                runs.setdefault(name, []).append(measured)
                shutil.rmtree(params["root"], ignore_errors=True)
            if args.profile:
                params = {**base, "root": os.path.join(work, "profiled"), "beam_args": SETTINGS["in_memory x1"]}
                for stage, component in STAGES:
                    dump = os.path.join(work, f"{stage}.prof")
                    run_stage_process(component, {**params, "profile": dump}, work)
                    print_profile(dump, os.path.join(output_dir, f"profile_{stage}.txt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not runs:  # --repeats 0: profiles only
        return None
    load["after"] = [round(x, 2) for x in os.getloadavg()]

    results = summarize(runs, limits)
    print_table(results, limits, source_s, args.repeats)
    summary = {"minutes_of_audio": round(source_s / 60, 1), "clips": clips, "clip_seconds": args.clip_seconds,
               "representations": list(representations) if representations else None,
               "cpu_count": os.cpu_count(), "loadavg": load,
               "limits": limits, "best": results, "runs": runs}
    one, two = results.get("multi_processing x1"), results.get("multi_processing x2")
    if one and two:
        summary["speedup_2_vs_1_workers"] = {stage: round(one[f"{stage}_s"] / two[f"{stage}_s"], 2)
                                             for stage, _ in STAGES}
        print(f"speed-up, 2 worker processes vs 1: {summary['speedup_2_vs_1_workers']}")
    print(f"{os.cpu_count()} cores; load average (1, 5, 15 min) before {tuple(load['before'])}, "
          f"after {tuple(load['after'])}")
    with open(os.path.join(output_dir, "scale.json"), "w") as f:
        json.dump(summary, f, indent=2)
    plot(results, {k: v["audio_s_per_s"] for k, v in limits.items()}, os.path.join(output_dir, "scale.png"),
         f"{source_s / 60:.0f} min of audio, {os.cpu_count()} cores, load average before {load['before'][0]:.1f} "
         f"after {load['after'][0]:.1f}")
    print(f"wrote {os.path.join(output_dir, 'scale.json')} and scale.png")
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--minutes", default="30",
                   help="audio to generate (any amount); several, comma-separated (30,200), measure each in turn "
                        "and compare each stage's peak RSS across them")
    p.add_argument("--corpus-dir", default=DEMO_CORPUS_DIR, help="clips the variants are made from")
    p.add_argument("--clip-seconds", default=DEFAULT_CLIP_SECONDS,
                   help="length range of the generated clips, LO-HI seconds, or 'sentence' (one per demo sentence)")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help=f"Beam settings, in order, from {list(SETTINGS)}")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per setting, alternating the order (0 with --profile: profiles only)")
    p.add_argument("--schema", default=None, help="raw-data schema for Transform (default contract/schema.pbtxt)")
    p.add_argument("--representations", default=None,
                   help="Transform's representations (default: the pipeline's); with `whisper`, the encoder's own "
                        "throughput is measured too (encoder limit) and Transform's ratio to it printed")
    p.add_argument("--profile", action="store_true",
                   help="after the timed runs, run each stage once more (in_memory x1) with its executor under "
                        "cProfile; the top of each profile in OUTPUT_DIR/profile_<stage>.txt, the dump in .prof")
    p.add_argument("--output-dir", default="bench_out")
    p.add_argument("--keep-corpus", default=None, metavar="DIR",
                   help="generate the corpus into DIR (DIR/<M>min for each of several --minutes) and keep it; a "
                        "later run with the same --minutes, --clip-seconds and --corpus-dir reuses it")
    args = p.parse_args(argv)
    names = args.settings.split(",")
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        p.error(f"unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    try:
        sizes = [float(m) for m in args.minutes.split(",")]
    except ValueError:
        p.error(f"--minutes: numbers, comma-separated; got {args.minutes!r}")
    if args.representations:
        from config import ConfigError, FeatureConfig

        try:
            FeatureConfig(representations=tuple(args.representations.split(",")))
        except ConfigError as err:
            p.error(str(err))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    if len(sizes) == 1:
        measure(args, sizes[0], names, args.output_dir)
        return 0
    summaries = {}
    for minutes in sizes:
        summary = measure(args, minutes, names, os.path.join(args.output_dir, f"{minutes:g}min"))
        if summary is not None:
            summaries[minutes] = summary
    if summaries:
        growth = rss_by_size(summaries)
        print(f"\npeak RSS MB by corpus size ({', '.join(f'{m:g}' for m in sorted(summaries))} min) and the "
              "largest over the smallest:")
        for name, stages in growth.items():
            for stage, row in stages.items():
                print(f"  {name:20s} {stage:12s} {', '.join(f'{v:.0f}' for v in row['peak_rss_mb'].values())}"
                      f"  x{row['growth']:.2f}")
        with open(os.path.join(args.output_dir, "scale.json"), "w") as f:
            json.dump({"by_minutes": {f"{m:g}": s for m, s in summaries.items()}, "peak_rss": growth}, f, indent=2)
        print(f"wrote {os.path.join(args.output_dir, 'scale.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
