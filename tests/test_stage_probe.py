"""bench.stage_probe reads a child's own peak memory, including its worker processes."""
from __future__ import annotations

import json
import subprocess
import sys

from bench import stage_probe

# The kernel's ru_maxrss of a forked child starts from its parent's size at the fork, so the
# probe is measured from a small fresh interpreter (as bench/scale.py, a small process, uses
# it), not from this test process, which holds TensorFlow and whatever earlier tests loaded.
_MEASURE = ("import json, sys; from bench.stage_probe import run_measured; "
            "print(json.dumps(run_measured(json.loads(sys.argv[1]), interval=0.05)))")


def run_measured(command: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(command)], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])

HOLD = "import time; block = bytearray({mb} * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.0)"


def test_peak_of_a_child_that_holds_memory():
    measured = run_measured([sys.executable, "-c", HOLD.format(mb=300)])
    assert measured["returncode"] == 0
    assert 300 <= measured["maxrss_mb"] < 400
    assert measured["peak_rss_mb"] >= measured["maxrss_mb"] * 0.99


def test_peak_sums_the_process_tree():
    # A parent holding 200 MB starts a child holding 200 MB: the tree peaks near 400 MB, while
    # the largest single process (ru_maxrss) stays near 200 MB.
    child = HOLD.format(mb=200)
    parent = (f"import subprocess, sys; {HOLD.format(mb=200)[:-len('time.sleep(1.0)')]}"
              f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    measured = run_measured([sys.executable, "-c", parent])
    assert measured["returncode"] == 0
    assert 200 <= measured["maxrss_mb"] < 300
    assert measured["peak_rss_mb"] >= 400


def test_exit_status_is_kept():
    assert stage_probe.run_measured([sys.executable, "-c", "raise SystemExit(3)"])["returncode"] == 3
