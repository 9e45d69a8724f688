"""README and docs stay usable: every relative link resolves, README stays short, docs describe
the system as it is (history lives in git and CHANGELOG.md, figures in docs/benchmarks.md)."""
from __future__ import annotations

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", "CHANGELOG.md", *sorted(glob.glob("docs/*.md", root_dir=ROOT)),
        *sorted(glob.glob("data/*/README.md", root_dir=ROOT))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HISTORY = re.compile(r"this round|previous round|before this|earlier round|last stop|throughput round", re.I)


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose_lines(path: str, root: str = ROOT):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    with open(os.path.join(root, path), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced:
                yield number, line


def _anchors(path: str, root: str) -> set[str]:
    return {_slug(line.lstrip("#")) for _, line in _prose_lines(path, root) if line.startswith("#")}


def broken_links(path: str, root: str = ROOT) -> list[str]:
    bad = []
    for number, line in _prose_lines(path, root):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
                continue
            file_part, _, fragment = target.partition("#")
            full = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(os.path.join(root, full)):
                bad.append(f"{path}:{number}: no file {target}")
            elif fragment and full.endswith(".md") and fragment not in _anchors(full, root):
                bad.append(f"{path}:{number}: no heading #{fragment} in {full}")
    return bad


@pytest.mark.parametrize("path", DOCS)
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_checker_sees_a_broken_link(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n[ok](#top) [gone](missing.md) [bad anchor](a.md#nowhere)\n"
                                   "```\n[in code](ignored.md)\n```\n")
    assert broken_links("a.md", str(tmp_path)) == ["a.md:2: no file missing.md", "a.md:2: no heading #nowhere in a.md"]


def test_readme_is_short():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert len(f.readlines()) <= 200


@pytest.mark.parametrize("path", [p for p in DOCS if p != "CHANGELOG.md"])
def test_docs_describe_the_current_system(path):
    assert [f"{path}:{n}: {line.strip()}" for n, line in _prose_lines(path) if HISTORY.search(line)] == []
