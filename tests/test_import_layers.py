"""The lower layers never import the layers above them (pipeline definition, reports, operations,
runners, benches, tests): a component or model stays usable, and testable, without the pipeline."""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOWER = ("audio", "components", "config", "contract", "models", "serving", "storage")
ABOVE = {"bench", "kubeflow_runner", "local_runner", "operations", "pipeline", "reports", "tests"}


def imported_roots(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(package: str) -> list[str]:
    out = []
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        out += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    return sorted(out)


@pytest.mark.parametrize("package", [p for p in LOWER if os.path.isdir(os.path.join(ROOT, p))])
def test_lower_layers_import_nothing_above_them(package):
    upward = {os.path.relpath(path, ROOT): sorted(imported_roots(path) & ABOVE) for path in python_files(package)}
    assert {path: roots for path, roots in upward.items() if roots} == {}
