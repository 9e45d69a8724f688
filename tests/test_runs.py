"""Concurrent and interrupted runs: one run per output dir, and a killed run is cleaned up."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from operations.run_lock import OutputDirBusy, exclusive_output_dir, fail_interrupted_executions
from tests.helpers.pipeline_runs import pipeline_argv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HOLD = ("import sys; from operations.run_lock import exclusive_output_dir\n"
         "with exclusive_output_dir(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()")


def test_a_second_run_on_a_busy_output_dir_fails_at_once(tmp_path):
    import local_runner

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert holder.stdout.readline().strip() == "held"
        # A corpus that does not exist: a run that got past the lock would fail differently.
        args = local_runner.parse_args(["--output-dir", str(out), "--corpus-dir", str(tmp_path / "none")])
        with pytest.raises(OutputDirBusy, match=rf"{out} is in use by another run \(pid {holder.pid}"):
            local_runner.run(args)
        assert not (out / "metadata.sqlite").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with exclusive_output_dir(str(out)):  # released when its holder ended
        pass


def _states(metadata: str) -> dict[str, int]:
    """node id -> last_known_state of its newest execution (MLMD's SQLite tables)."""
    with sqlite3.connect(f"file:{metadata}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute(
            "SELECT c.name, e.last_known_state FROM Execution e JOIN Association a ON a.execution_id = e.id "
            "JOIN Context c ON c.id = a.context_id JOIN Type t ON t.id = c.type_id "
            "WHERE t.name = 'node' ORDER BY e.id").fetchall()
    return {name.split(".", 1)[1]: state for name, state in rows}


RUNNING, COMPLETE, FAILED, CACHED = 2, 3, 4, 5  # ml_metadata Execution.State


def test_a_killed_run_is_marked_failed_and_its_partial_outputs_removed(tmp_path, tiny_corpus):
    from ml_metadata.proto import metadata_store_pb2

    out = tmp_path
    argv = pipeline_argv(tiny_corpus[0], out)
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    run = subprocess.Popen([sys.executable, "local_runner.py", *argv], cwd=ROOT, env={**env, "PYTHONPATH": ROOT},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    metadata = str(out / "tfx" / "metadata.sqlite")
    try:
        deadline = time.monotonic() + 480
        while time.monotonic() < deadline and run.poll() is None:
            if os.path.exists(metadata) and _states(metadata).get("Trainer") == RUNNING:
                break
            time.sleep(1)
        assert _states(metadata).get("Trainer") == RUNNING, "the run never reached the Trainer"
        trainer = out / "tfx" / "pipeline_root" / "Trainer"
        # The folders the killed Trainer was writing: its outputs, executor and working dirs.
        trainer_outputs = list(trainer.glob("*/[0-9]*")) + list(trainer.glob(".system/*/*"))
        assert len(trainer_outputs) >= 3
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
    assert _states(metadata)["Trainer"] == RUNNING  # what a killed run leaves behind

    with exclusive_output_dir(str(out / "tfx")):  # the kernel released the dead run's lock
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = metadata
        cleaned = fail_interrupted_executions(config, str(out / "tfx" / "pipeline_root"))
    states = _states(metadata)
    assert states["Trainer"] == FAILED and len(cleaned) == 1 and cleaned[0].startswith("Trainer #")
    assert states["S3AudioExampleGen"] == COMPLETE and states["Transform"] == COMPLETE
    assert not [p for p in trainer_outputs if p.exists()]
    assert list((out / "tfx" / "pipeline_root" / "Transform").glob("*/*"))  # finished work is kept


def test_the_printed_summary_names_ignored_keys_and_counts_all_skipped():
    from reports.run_report import format_summary

    ingestion = {"clips_listed": 40, "skipped": [{"key": f"k{n}", "reason": "r"} for n in range(25)],
                 "skipped_count": 1200, "per_split": {},
                 "ignored_objects": {"not_audio": 5, "unlisted_language": 0},
                 "ignored_keys": {"not_audio": ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"], "unlisted_language": []},
                 "manifest": {"problem_count": 2}}
    text = format_summary({"ingestion": ingestion, "components": {}, "wall_seconds": 1.0, "pngs": []}, ["English"])
    assert "clips listed: 40, skipped: 1200" in text
    assert "... 1180 more in the ingestion report" in text
    assert "ignored at listing (not audio): 5: a.txt, b.txt, c.txt and 2 more" in text
    assert "unlisted language" not in text
    assert "manifest rows with problems: 2" in text


def test_the_printed_open_set_line_gives_the_rule_serving_applies():
    """A Whisper model answers `unknown` with its own rule: the summary must quote that rule's
    figures, not the two thresholds it also stores (which reject nothing on such a model)."""
    from reports.run_report import format_summary

    thresholds = {"measured": {"out_of_set_rejected": 0.0, "in_set_kept_correct": 0.968, "in_set_accuracy": 0.968}}
    whisper = {"measured": {"out_of_set_rejected": 0.833, "in_set_kept_correct": 0.919, "in_set_accuracy": 0.968}}
    base = {"ingestion": {"clips_listed": 1, "skipped": [], "skipped_count": 0, "per_split": {}},
            "components": {}, "wall_seconds": 1.0, "pngs": []}
    cnn = format_summary({**base, "open_set": thresholds}, ["English"])
    assert "open set (two thresholds): 0.000 of unseen-language clips rejected" in cnn
    both = format_summary({**base, "open_set": {**thresholds, "whisper": whisper}}, ["English"])
    assert "open set (Whisper rule): 0.833 of unseen-language clips rejected, 0.919 of held-out" in both
