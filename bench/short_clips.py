"""Accuracy by clip duration on held-out speakers, through the pushed model as serving runs it.

Each eval-split clip's first segment (ingested, trimmed audio of held-out speakers) is cut
to its first 1, 2 and 3 seconds and sent to `predict_waveform` as it is (the model pads a
short clip to its window); only segments with at least that much real audio count. Also
prints the open-set figures the Trainer measured and the calibration, from run_summary.json.

    python -m bench.short_clips --output-dir tfx_output --model-dir serving_model/langid
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output-dir", required=True, help="local_runner --output-dir of the run")
    ap.add_argument("--model-dir", required=True, help="the pushed model (a version folder or its base)")
    ap.add_argument("--durations", default="1,2,3", help="seconds, comma-separated")
    args = ap.parse_args(argv)

    import tensorflow as tf

    from contract import features
    from contract.codec import read_floats, read_split
    from serving.model_dir import resolve_model_dir

    with open(os.path.join(args.output_dir, "reports", "run_summary.json")) as f:
        summary = json.load(f)
    model = tf.saved_model.load(resolve_model_dir(args.model_dir))
    predict = model.signatures["predict_waveform"]
    durations = [float(x) for x in args.durations.split(",")]
    hits = {d: [] for d in durations}
    for example in read_split(summary["examples_uri"], "eval"):
        feats = example.features.feature
        if feats[features.SEGMENT_INDEX].int64_list.value[0] != 0:
            continue
        waveform = read_floats(feats[features.WAVEFORM])
        real = float(feats[features.DURATION_S].float_list.value[0]) if features.DURATION_S in feats \
            else len(np.trim_zeros(waveform, "b")) / 16000
        label = int(feats[features.LABEL].int64_list.value[0])
        for seconds in durations:
            if real + 1e-6 < seconds:
                continue
            out = predict(waveform=tf.constant(waveform[None, : int(seconds * 16000)]))
            hits[seconds].append(int(np.argmax(out["probabilities"].numpy()[0])) == label)
    print(f"{'seconds':>8s} {'clips':>6s} {'accuracy':>8s}")
    for seconds in durations:
        accuracy = np.mean(hits[seconds]) if hits[seconds] else float("nan")
        print(f"{seconds:8.1f} {len(hits[seconds]):6d} {accuracy:8.3f}")
    calibration, unknown = summary.get("calibration"), summary.get("open_set")
    if calibration:
        print(f"calibration: T={calibration['temperature']:.3f} ECE {calibration['ece_uncalibrated']:.4f} -> "
              f"{calibration['ece']:.4f} ({calibration['examples']} segments, by {calibration['fold_by']})")
    if unknown:
        print("open set:", json.dumps(unknown["measured"]), json.dumps(unknown["per_language"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
