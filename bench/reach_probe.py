"""In-process half of the reach check (bench/reach.py): which mutated lines a test run executes.

bench/reach.py writes a sitecustomize.py that calls `install()` in every Python process its
pytest run starts (pytest itself and any Python subprocess whose PYTHONPATH holds the copy), so lines
run by a CLI subprocess or a Beam worker count too. The spec (env LANGID_REACH_SPEC, a JSON
file) names, per target, a file and its line numbers; a target is reached when one of its
lines runs in any thread. Each process appends a record to the output folder the moment a
target is first reached (a worker killed later cannot lose it), with the repository files
imported by then: the files whose edits can change the answer, which key the cache.

TensorFlow's AutoGraph runs a converted copy of a function (tf.data map functions,
tf.function) from a generated file; its loader returns a map from generated lines to the
original ones, which the tracer reads on the way out of `load_ast` to count those lines too.

Also a pytest plugin (`-p langid_reach_probe`, the name sitecustomize.py loads it under): it
stops the session after the test that reaches the last target, so a selection that reaches
its lines costs only the tests up to them.
"""
from __future__ import annotations

import json
import os
import sys
import threading

_HEADERS = ("def ", "async def ", "class ", "@")
_AUTOGRAPH_LOADER = os.path.join("autograph", "pyct", "loader.py")
_state: dict = {}


def _repo_modules(root: str) -> list[str]:
    """Repository files imported by this process, relative to `root`."""
    out = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        real = os.path.realpath(path) if path else ""
        if real.startswith(root + os.sep):
            out.add(os.path.relpath(real, root))
    return sorted(out)


def _record(reached: list[str]) -> None:
    state = _state
    with state["lock"]:
        state["count"] += 1
        path = os.path.join(state["out"], f"{os.getpid()}-{state['count']}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"reached": reached, "imported": _repo_modules(state["root"])}, f)
        os.replace(path + ".tmp", path)


def _hit(target_ids: list[str]) -> None:
    new = [t for t in target_ids if t not in _state["reached"]]
    if not new:
        return
    _state["reached"].update(new)
    _record(new)
    if len(_state["reached"]) == len(_state["targets"]):
        _state["done"] = True            # nothing left to find: stop paying for the tracer
        sys.settrace(None)
        threading.settrace(None)


def _local(frame, event, arg):
    if _state["done"]:
        return None
    lines = _state["by_file"].get(frame.f_code.co_filename)
    if lines is None:
        return None
    if event == "line":
        ids = lines["body"].get(frame.f_lineno)
        if ids:
            _hit(ids)
    return _local


def _autograph_loaded(frame, event, arg):
    """On return from AutoGraph's load_ast: trace the generated lines that stand for target lines."""
    if event == "return" and isinstance(arg, tuple) and len(arg) == 3 and isinstance(arg[2], dict):
        for generated, origin in arg[2].items():
            lines = _state["by_file"].get(origin.loc.filename)
            if lines is None:
                continue
            for kind in ("body", "header"):
                ids = lines[kind].get(origin.loc.lineno)
                if ids:
                    entry = _state["by_file"].setdefault(generated.filename, {"body": {}, "header": {}})
                    entry[kind].setdefault(generated.lineno, []).extend(ids)
    return _autograph_loaded            # None would stop this frame's tracing before its return


def _global(frame, event, arg):
    if _state["done"]:
        return None
    code = frame.f_code
    lines = _state["by_file"].get(code.co_filename)
    if lines is None:
        if code.co_name == "load_ast" and code.co_filename.endswith(_AUTOGRAPH_LOADER):
            frame.f_trace_lines = False
            return _autograph_loaded
        return None
    # A `def` line runs when its module is imported; the function counts as reached only when called.
    ids = lines["header"].get(code.co_firstlineno) if code.co_name != "<module>" else None
    if ids:
        _hit(ids)
    return _local


def install() -> None:
    """Start tracing this process per the spec in LANGID_REACH_SPEC (no-op without it)."""
    spec_path = os.environ.get("LANGID_REACH_SPEC")
    if not spec_path or _state:
        return
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    root = os.path.realpath(spec["root"])
    by_file: dict[str, dict] = {}
    for target_id, target in spec["targets"].items():
        path = os.path.join(root, target["file"])
        with open(path, encoding="utf-8") as f:
            source = f.read().splitlines()
        entry = by_file.setdefault(path, {"body": {}, "header": {}})
        for line in target["lines"]:
            kind = "header" if source[line - 1].lstrip().startswith(_HEADERS) else "body"
            entry[kind].setdefault(line, []).append(target_id)
    # co_filename is the path the module was imported by; map the real path and any symlinked spelling.
    for spelling in {spec["root"], root}:
        for path in list(by_file):
            by_file[os.path.join(spelling, os.path.relpath(path, root))] = by_file[path]
    _state.update(root=root, out=spec["out"], targets=set(spec["targets"]), by_file=by_file, reached=set(),
                  done=False, count=0, lock=threading.Lock())
    threading.settrace(_global)
    sys.settrace(_global)


def reached_everywhere(out_dir: str, targets: set[str]) -> bool:
    """Whether the records in `out_dir` (from every process so far) reach every target."""
    seen: set[str] = set()
    for name in os.listdir(out_dir):
        if name.endswith(".json"):
            try:
                with open(os.path.join(out_dir, name), encoding="utf-8") as f:
                    seen.update(json.load(f)["reached"])
            except (OSError, ValueError):
                continue
    return targets <= seen


try:
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):  # stop once every target ran, in any process
        yield
        if _state and reached_everywhere(_state["out"], _state["targets"]):
            item.session.shouldstop = "reach check: every target line ran"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(session, exitstatus):
        if _state:
            _record([])                  # the pytest process's imports, reached or not
except ImportError:  # pragma: no cover - a subprocess without pytest needs only install()
    pass
