"""The open-set rule on whole clips, as a user sends them: `python -m serving predict
--reject-unknown` over speech no part of the pipeline heard, for one model or several (e.g. the
three training seeds).

In-set clips (the demo corpus's held-out voices, and the sets of bench/unseen_speech.py with the
model's languages, espeak_new split into held-out and training voices as bench/transfer.py
splits it): the share answered correctly with the rule, beside the share without it (the
pooled probabilities' top language, which the same call returns): their difference is what
the rule costs. Out-of-set clips (bench/unseen_speech.OUT_OF_SET_SETS, languages outside the
model): the share answered "unknown", and Whisper's most frequent guess for them. For every set,
the share answered "unknown" by Whisper's sureness clause alone (models/open_set_whisper.py;
the score kept them). A clip the
CLI refuses (too short, unreadable) counts as neither kept nor rejected and is listed.

Writes OUT/results.json (per model, set and language) and OUT/results.md (a table per model).

    python -m bench.open_set_speech --sets-dir SETS --model-dir M [--model-dir M2 ...] --out OUT
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys

from models.open_set import UNKNOWN, WHISPER_SURE_REASON

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = "all"


def clips(sets_dir: str) -> list[dict]:
    """[{set, language, path, in_set}]: bench/transfer.py's evaluation clips (in-set), then the
    out-of-set sets."""
    from bench import transfer
    from bench.unseen_speech import OUT_OF_SET_SETS, read_manifest

    rows, eval_voices = transfer.demo_split(*transfer.split_defaults())
    out = [{**c, "in_set": True} for c in transfer.evaluation_clips(sets_dir, eval_voices, rows)]
    out += [{"set": r["set"], "language": r["language"], "path": os.path.join(sets_dir, r["path"]),
             "speaker": r["speaker"], "in_set": False}
            for r in read_manifest(sets_dir) if r["set"] in OUT_OF_SET_SETS]
    return out


def predict(model_dir: str, paths: list[str]) -> tuple[dict[str, dict], str]:
    """{path: the CLI's JSON record} from one `serving predict --reject-unknown` call, and its stderr."""
    proc = subprocess.run([sys.executable, "-m", "serving", "predict", "--model-dir", model_dir,
                           "--reject-unknown", *paths], capture_output=True, text=True, cwd=REPO)
    if proc.returncode not in (0, 1):      # 1: some files failed, the others answered
        raise RuntimeError(f"serving predict exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["file"]: r for r in records}, proc.stderr


def score(clip_rows: list[dict], records: dict[str, dict]) -> dict:
    """{set: {language or "all": counts and shares}} for one model."""
    cells: dict = {}
    for c in clip_rows:
        r = records.get(c["path"])
        for language in (c["language"], ALL):
            cell = cells.setdefault((c["set"], language),
                                    {"in_set": c["in_set"], "n": 0, "refused": 0, "hits": 0, "without_rule": 0,
                                     "sure": 0, "guesses": collections.Counter()})
            cell["n"] += 1
            if r is None:
                cell["refused"] += 1
                continue
            cell["sure"] += r["language"] == UNKNOWN and r.get("unknown_reason", "").startswith(WHISPER_SURE_REASON)
            if c["in_set"]:
                cell["hits"] += r["language"] == c["language"]
                cell["without_rule"] += max(r["probabilities"], key=r["probabilities"].get) == c["language"]
            elif r["language"] == UNKNOWN:
                cell["hits"] += 1
                cell["guesses"][r.get("unknown_guess", "?")] += 1
    out: dict = {}
    for (set_name, language), cell in cells.items():
        answered = cell["n"] - cell["refused"]
        share = (lambda count, of=answered: count / of if of else None)  # noqa: E731 - None: nothing answered
        row = {"clips": cell["n"], "refused": cell["refused"], "unknown_by_whisper_sureness": share(cell["sure"])}
        if cell["in_set"]:
            row.update(correct_with_rule=share(cell["hits"]), correct_without_rule=share(cell["without_rule"]))
        else:
            guess = cell["guesses"].most_common(1)
            row.update(rejected=share(cell["hits"]), top_guess=guess[0][0] if guess else None)
        out.setdefault(set_name, {})[language] = row
    return out


def markdown(results: dict) -> str:
    lines = []
    for model, table in results.items():
        lines += [f"### {model}", "", "| set | language | clips | refused by the CLI | correct with the rule "
                  "| without it | rejected | unknown by Whisper's sureness | Whisper's top guess |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for set_name in sorted(table):
            for language in sorted(table[set_name], key=lambda name: (name == ALL, name)):
                row = table[set_name][language]
                cells = [f"{row[k]:.3f}" if row.get(k) is not None else "-" for k in
                         ("correct_with_rule", "correct_without_rule", "rejected", "unknown_by_whisper_sureness")]
                lines.append(f"| {set_name} | {language} | {row['clips']} | {row['refused']} | " + " | ".join(cells) +
                             f" | {row.get('top_guess') or '-'} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets-dir", required=True, help="a directory built by bench.unseen_speech")
    p.add_argument("--model-dir", action="append", required=True,
                   help="a pushed or Trainer SavedModel with open_set.json (repeatable)")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    clip_rows = clips(args.sets_dir)
    results, refused = {}, {}
    for model_dir in args.model_dir:
        records, stderr = predict(model_dir, [c["path"] for c in clip_rows])
        results[model_dir] = score(clip_rows, records)
        refused[model_dir] = [line for line in stderr.splitlines() if line.startswith("error: ")][:50]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"results": results, "refused": refused}, f, indent=1)
    md = markdown(results)
    with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
