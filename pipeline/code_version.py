"""Cache-key code versions: a digest of the project modules each step really imports.

TFX's cache key covers execution properties, not the code behind a module path, so a digest
goes into each step's properties: editing a step's code re-runs it (and what follows)
instead of reusing a stale output. Which files count is not listed by hand: starting from the
step's entry module, every project module it imports (at top level or inside a function,
with the packages' __init__ files on the way) is followed, so a new import is covered the
day it is written.
"""
from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Callable, Iterable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The module whose code each step runs (its executor, or the module path TFX loads).
STEP_ENTRY_MODULES = {
    "ingestion": ("components.s3_audio_example_gen.executor",),
    "augmentation": ("components.audio_augmenter.executor",),
    "validation": ("components.data_validator.executor",),
    "transform": ("models.preprocessing", "components.transform_executor"),
    "trainer": ("models.keras_model.trainer",),
}


def _augmentation_data() -> str:
    from audio.noise import bank_digest  # the noise files the augmenter mixes in

    return bank_digest()


def _validation_data() -> str:
    with open(os.path.join(ROOT, "contract", "validation_schema.pbtxt"), "rb") as f:  # the bounds it checks
        return hashlib.sha256(f.read()).hexdigest()[:12]


# Data files a step reads besides code, as a digest function per step.
def _open_set_data() -> str:
    with open(os.path.join(ROOT, "data", "open_set", "manifest.jsonl"), "rb") as f:  # the out-of-set clips
        return hashlib.sha256(f.read()).hexdigest()[:12]


STEP_DATA_DIGESTS: dict[str, Callable[[], str]] = {"augmentation": _augmentation_data,
                                                   "validation": _validation_data, "trainer": _open_set_data}


def module_file(module: str, root: str = ROOT) -> str | None:
    """The project file of a dotted module name (package -> its __init__.py); None if not ours."""
    base = os.path.join(root, *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _imported_modules(path: str, module: str) -> Iterable[str]:
    """Dotted names a module's source imports (candidates: `from a import b` gives a and a.b)."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}" if base else alias.name


def reachable_files(entry_modules: Iterable[str], root: str = ROOT) -> list[str]:
    """Project files (relative to root, sorted) the entry modules reach by imports, parents included."""
    seen: dict[str, str] = {}
    todo = list(entry_modules)
    while todo:
        module = todo.pop()
        if not module or module in seen:
            continue
        path = module_file(module, root)
        if path is None:
            continue
        seen[module] = path
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b runs a/__init__.py
        todo.extend(_imported_modules(path, module))
    return sorted({os.path.relpath(path, root) for path in seen.values()})


def files_digest(relative_paths: Iterable[str], root: str = ROOT) -> str:
    digest = hashlib.sha256()
    for relative in relative_paths:
        digest.update(relative.encode())
        with open(os.path.join(root, relative), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:12]


def code_version(step: str, root: str = ROOT) -> str:
    """Digest of every project file the step imports, plus the data files it reads."""
    version = files_digest(reachable_files(STEP_ENTRY_MODULES[step], root), root)
    data = STEP_DATA_DIGESTS.get(step)
    return f"{version}-{data()}" if data else version
