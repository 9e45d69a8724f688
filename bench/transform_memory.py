"""Where Transform's memory goes: an RSS timeline of one Transform run, with its phases marked.

Uploads --corpus to an embedded S3 endpoint, ingests it (a process of its own), then runs
Transform (in_memory x1, with --representations) in a second process that samples its RSS
every 50 ms and marks the phases tf.Transform goes through: each trace of the
preprocessing_fn, the SavedModel written (`trace_and_write_v2_saved_model`,
`tf.saved_model.save`) and each load of it by a transform DoFn (`tf.saved_model.load`, one per
split). Where RSS grows by more than --step MB between two samples, the main thread's stack
is recorded. Prints RSS at each mark and the growth between marks; writes the timeline to --out.
The bench.scale figures say how high the peak is; this says which phase builds it.

    python -m bench.transform_memory --corpus DIR --representations whisper --out mem.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback

MARKED = (("models.preprocessing", "preprocessing_fn"),
          ("tensorflow_transform.impl_helper", "trace_and_write_v2_saved_model"),
          ("tensorflow.saved_model", "save"), ("tensorflow.saved_model", "load"))


def phases(samples: list[tuple[float, float]], events: list[list]) -> list[dict]:
    """Each mark's time and RSS, with the RSS growth since the previous mark and the highest RSS
    sampled since it: which phase raised the peak."""
    marks = [e for e in events if len(e) == 3]
    out, previous_t, previous_rss = [], None, None
    for t, rss, what in marks:
        between = [r for s, r in samples if (previous_t is None or s > previous_t) and s <= t]
        out.append({"t": t, "mark": what, "rss_mb": rss,
                    "growth_mb": None if previous_rss is None else round(rss - previous_rss),
                    "peak_since_previous_mb": max(between, default=rss)})
        previous_t, previous_rss = t, rss
    return out


class Timeline:
    """RSS of this process and its children, sampled in a thread; marks and growth stacks."""

    def __init__(self, step_mb: float = 150.0, interval: float = 0.05):
        import psutil

        self.process, self.step, self.interval = psutil.Process(), step_mb, interval
        self.started = time.perf_counter()
        self.samples: list[tuple[float, float]] = []
        self.events: list[list] = []
        self._stop = threading.Event()
        self._main = threading.main_thread().ident

    def rss(self) -> float:
        import psutil

        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def now(self) -> float:
        return round(time.perf_counter() - self.started, 2)

    def mark(self, what: str) -> None:
        self.events.append([self.now(), round(self.rss()), what])

    def _sample(self) -> None:
        last = self.rss()
        while not self._stop.is_set():
            rss = self.rss()
            self.samples.append((self.now(), round(rss)))
            if rss - last > self.step:
                frames = traceback.extract_stack(sys._current_frames()[self._main])
                stack = [f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in frames
                         if "apache_beam" not in f.filename][-12:]
                self.events.append([self.now(), round(rss), f"+{rss - last:.0f} MB", stack])
            last = rss
            time.sleep(self.interval)

    def wrap(self, module, name: str) -> None:
        original = getattr(module, name)

        def marked(*args, **kwargs):
            self.mark(f"{name} start")
            try:
                return original(*args, **kwargs)
            finally:
                self.mark(f"{name} end")

        setattr(module, name, marked)

    def __enter__(self):
        self.mark("start")
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.mark("end")


def probe(params: dict, out: str, step_mb: float) -> None:
    """In the child: Transform under a Timeline, its marks on MARKED functions."""
    import importlib

    from bench.heavy_stages import TRANSFORM, run_stage
    from bench.scale_stage import stage_config

    timeline = Timeline(step_mb)
    for module, name in MARKED:
        timeline.wrap(importlib.import_module(module), name)
    with timeline:
        result = run_stage(params["root"], TRANSFORM, stage_config(params))
    with open(out, "w") as f:
        json.dump({"result": result, "samples": timeline.samples, "events": timeline.events,
                   "phases": phases(timeline.samples, timeline.events)}, f)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", help="a corpus folder with manifest.jsonl (bench/synth_corpus.py makes one)")
    p.add_argument("--representations", default=None, help="Transform's representations (default: the pipeline's)")
    p.add_argument("--out", default="transform_memory.json")
    p.add_argument("--step", type=float, default=150.0, help="MB of growth between two samples that records a stack")
    p.add_argument("--probe", nargs=2, metavar=("PARAMS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.probe:
        probe(json.loads(args.probe[0]), args.probe[1], args.step)
        return 0
    if not args.corpus:
        p.error("--corpus is required")

    from storage import s3
    from storage.corpus import upload_corpus
    from storage.embedded_s3 import embedded_s3

    work = tempfile.mkdtemp(prefix="langid-transform-memory-")
    languages = sorted(d for d in os.listdir(args.corpus) if os.path.isdir(os.path.join(args.corpus, d)))
    with embedded_s3(in_process=False) as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        upload_corpus(s3.make_client(endpoint), "langid-transform-memory", args.corpus, "scale/")
        params = {"root": work, "bucket": "langid-transform-memory", "prefix": "scale/", "languages": languages,
                  "beam_args": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
                  "representations": args.representations.split(",") if args.representations else None}
        subprocess.run([sys.executable, "-m", "bench.scale_stage", "S3AudioExampleGen", json.dumps(params),
                        os.path.join(work, "ingestion.json")], check=True)
        subprocess.run([sys.executable, "-m", "bench.transform_memory", "--step", str(args.step),
                        "--probe", json.dumps(params), args.out], check=True)
    with open(args.out) as f:
        timeline = json.load(f)
    print(f"Transform: {timeline['result']['seconds']:.1f} s; peak RSS {max(r for _, r in timeline['samples'])} MB")
    print(f"{'t s':>7s} {'RSS MB':>7s} {'growth':>7s} {'peak since':>10s}  mark")
    for row in timeline["phases"]:
        growth = "" if row["growth_mb"] is None else f"{row['growth_mb']:+d}"
        print(f"{row['t']:7.1f} {row['rss_mb']:7d} {growth:>7s} {row['peak_since_previous_mb']:10d}  {row['mark']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
