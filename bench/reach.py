"""Reach check for bench/mutations.py: does each entry's test selection run the code it mutates?

A mutation whose selection never executes the mutated line survives, and so does one whose
selection stops reaching it after a refactor; but a selection that does not reach its line
cannot kill the mutation at all, whatever the tests assert. So, unmutated, each distinct
selection runs once under a line tracer limited to the files its entries mutate
(bench/reach_probe.py, in pytest and in its Python subprocesses), and an entry is "reached"
when one of the lines its snippet spans executes (a `def` line: when the function is called).
A selection stops after the test that reaches its last target.

Results are cached per entry, keyed by the entry itself and the SHA-256 of every repository
file the run imported (plus pyproject.toml): an edit to any of them re-runs that selection,
an edit anywhere else cannot change which code those tests execute. Data files the tests
read are not part of the key.

The probe starts from a sitecustomize.py written at the root of the (throwaway) copy, which
is on PYTHONPATH: a test that starts Python with PYTHONPATH set to the repository root, as
tests/test_visualize.py does, is traced too.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

ALWAYS_KEYED = ("pyproject.toml", "bench/reach.py", "bench/reach_probe.py")
# Loads this checker's probe by path under a top-level name (the copy need not have bench/);
# pytest's `-p langid_reach_probe` then finds it in sys.modules.
PROBE_MODULE = "langid_reach_probe"
SITECUSTOMIZE = """import importlib.util, sys
spec = importlib.util.spec_from_file_location({name!r}, {probe!r})
probe = importlib.util.module_from_spec(spec)
sys.modules[{name!r}] = probe
spec.loader.exec_module(probe)
probe.install()
"""


def default_cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "langid-tfx", "mutation_reach.json")


def snippet_lines(text: str, original: str) -> list[int]:
    """1-based numbers of the lines `original` spans in `text` (it occurs there exactly once)."""
    start = text.index(original)
    first = text.count("\n", 0, start) + 1
    return list(range(first, first + original.rstrip("\n").count("\n") + 1))


def file_digest(root: str, rel: str) -> str | None:
    try:
        with open(os.path.join(root, rel), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def entry_key(mutation) -> str:
    return json.dumps([mutation.name, mutation.file, mutation.original, list(mutation.tests)])


def cached(cache: dict, mutation, root: str) -> bool | None:
    """The cached answer for `mutation` when every file it was keyed by is unchanged, else None."""
    record = cache.get(entry_key(mutation))
    if not record:
        return None
    if any(file_digest(root, rel) != digest for rel, digest in record["files"].items()):
        return None
    return record["reached"]


def load_cache(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_cache(path: str, cache: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def run_selection(tests: tuple[str, ...], mutations: list, copy: str, timeout_s: float) -> tuple[dict, list, str]:
    """Run `tests` once, unmutated, inside `copy` (a throwaway copy: a sitecustomize.py is put
    at its root for the run); return ({entry name: reached}, imported files, a tail of pytest's
    output). Entries share the run when they share the selection."""
    site = os.path.join(copy, "sitecustomize.py")
    if os.path.exists(site):
        raise RuntimeError(f"{site} exists: the reach check runs in a copy of the repository")
    with tempfile.TemporaryDirectory(prefix="langid-reach-") as tmp:
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        targets = {}
        for m in mutations:
            with open(os.path.join(copy, m.file), encoding="utf-8") as f:
                targets[m.name] = {"file": m.file, "lines": snippet_lines(f.read(), m.original)}
        spec = os.path.join(tmp, "spec.json")
        with open(spec, "w", encoding="utf-8") as f:
            json.dump({"root": copy, "out": out, "targets": targets}, f)
        env = {**os.environ, "PYTHONPATH": copy, "PYTHONDONTWRITEBYTECODE": "1", "LANGID_REACH_SPEC": spec}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", PROBE_MODULE, *tests]
        probe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reach_probe.py")
        with open(site, "w", encoding="utf-8") as f:
            f.write(SITECUSTOMIZE.format(name=PROBE_MODULE, probe=probe))
        try:
            done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout_s)
            tail = (done.stdout + done.stderr)[-1500:]
        except subprocess.TimeoutExpired:
            tail = f"timed out after {timeout_s:.0f} s"
        finally:
            os.remove(site)
        reached, imported = set(), set()
        for name in os.listdir(out):
            if name.endswith(".json"):
                with open(os.path.join(out, name), encoding="utf-8") as f:
                    record = json.load(f)
                reached.update(record["reached"])
                imported.update(record["imported"])
    return {m.name: m.name in reached for m in mutations}, sorted(imported), tail


def check(chosen: list, copy: str, root: str, cache: dict, timeout_s: float, log=print) -> dict[str, bool]:
    """{entry name: reached} for `chosen`: from `cache` where still valid, else by running each
    selection that has an entry without a valid answer (and updating `cache`)."""
    answers = {}
    todo: dict[tuple[str, ...], list] = {}
    for m in chosen:
        known = cached(cache, m, root)
        if known is None:
            todo.setdefault(m.tests, []).append(m)
        else:
            answers[m.name] = known
    for tests, group in todo.items():
        started = time.monotonic()
        reached, imported, tail = run_selection(tests, group, copy, timeout_s)
        keyed = sorted(set(imported) | {m.file for m in group} | set(ALWAYS_KEYED)
                       | {t.split("::")[0] for t in tests if t.startswith("tests/")})
        files = {rel: file_digest(root, rel) for rel in keyed}
        for m in group:
            answers[m.name] = reached[m.name]
            cache[entry_key(m)] = {"reached": reached[m.name], "files": files}
        missed = [name for name, ok in reached.items() if not ok]
        log(f"reach {' '.join(tests)}: {time.monotonic() - started:.0f} s"
            + (f", NOT REACHED: {', '.join(missed)}" if missed else ""))
        if missed and "passed" not in tail and "failed" not in tail:
            log(tail)
    return answers
