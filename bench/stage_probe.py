"""Run a command in a child process and measure its peak memory.

Two readings, both of this child only (not of the parent, nor of earlier stages):
- `peak_rss_mb`: the largest sum of resident memory over the child and all its descendants
  (Beam worker processes included), sampled every `interval` seconds from /proc via psutil;
- `maxrss_mb`: the kernel's high-water mark of the largest single process in the child's
  tree (os.wait4's rusage), which a short spike between two samples cannot escape.
"""
from __future__ import annotations

import os
import subprocess
import time

import psutil


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_measured(command: list[str], interval: float = 0.2, env=None, stdout=None, stderr=None) -> dict:
    """Run `command` to completion: {"returncode", "wall_s", "peak_rss_mb", "maxrss_mb"}."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    watched = psutil.Process(child.pid)
    peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        try:
            peak = max(peak, _tree_rss(watched))
        except psutil.NoSuchProcess:
            pass
        time.sleep(interval)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": child.returncode, "wall_s": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(max(peak, usage.ru_maxrss * 1024) / 2**20, 1),
            "maxrss_mb": round(usage.ru_maxrss / 1024, 1)}
