"""bench/mutations.py --check-reach (and then --list) reports an entry whose tests never run the line it mutates.

A throwaway repository stands in for this one: a module with a called and a never-called
function, a test that calls the first in-process, one that calls the second in a subprocess,
and one whose line runs only as AutoGraph's converted copy inside a tf.data map.
"""
from __future__ import annotations

import subprocess
import textwrap

import pytest

from bench import mutations, reach

MODULE = textwrap.dedent('''\
    def used(x):
        return x + 1


    def unused(x):
        y = x * 2
        return y
''')
GRAPH = textwrap.dedent('''\
    import tensorflow as tf


    def run(flag):
        def double(x):
            if flag:
                x = x * 2
            return x

        return list(tf.data.Dataset.range(3).map(double).as_numpy_iterator())
''')
TESTS = {
    "tests/test_graph.py": "from pkg.graph import run\n\n\ndef test_run():\n    assert run(True) == [0, 2, 4]\n",
    "tests/test_used.py": "from pkg.mod import used\n\n\ndef test_used():\n    assert used(1) == 2\n",
    "tests/test_sub.py": textwrap.dedent('''\
        import os
        import subprocess
        import sys

        ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


        def test_unused_in_a_subprocess():
            code = "from pkg.mod import unused; assert unused(2) == 4"
            env = {**os.environ, "PYTHONPATH": ROOT}      # as tests/test_visualize.py sets it
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
    '''),
}
M = mutations.Mutation
ENTRIES = [
    M("called_line", "c", "pkg/mod.py", "return x + 1", "return x", ("tests/test_used.py",)),
    M("called_def", "c", "pkg/mod.py", "def used(x):", "def used(x):\n    x = 0", ("tests/test_used.py",)),
    M("uncalled_line", "c", "pkg/mod.py", "y = x * 2", "y = x", ("tests/test_used.py",)),
    M("uncalled_def", "c", "pkg/mod.py", "def unused(x):", "def unused(x):\n    x = 0", ("tests/test_used.py",)),
    M("line_in_subprocess", "c", "pkg/mod.py", "y = x * 2", "y = x", ("tests/test_sub.py",)),
    # tf.data runs AutoGraph's converted copy of `double`, from a generated file.
    M("line_in_autograph", "c", "pkg/graph.py", "x = x * 2", "x = x", ("tests/test_graph.py",)),
]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    files = {"pkg/__init__.py": "", "pkg/mod.py": MODULE, "pkg/graph.py": GRAPH, "tests/__init__.py": "", **TESTS}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.setattr(mutations, "REPO", str(root))
    monkeypatch.setattr(mutations, "MUTATIONS", ENTRIES)
    return root


def test_snippet_lines_span_the_snippet():
    assert reach.snippet_lines(MODULE, "y = x * 2") == [6]
    assert reach.snippet_lines(MODULE, "    return x + 1\n\n\ndef unused") == [2, 3, 4, 5]


def test_list_reports_the_entries_whose_tests_never_run_their_line(repo, tmp_path, capsys):
    cache = str(tmp_path / "reach.json")
    assert mutations.main(["--check-reach", "--reach-cache", cache]) == 1
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in
            {m.name for m in ENTRIES}}
    assert "UNREACHED: the selection never runs pkg/mod.py line(s) 6" in rows["uncalled_line"]
    assert "UNREACHED" in rows["uncalled_def"]          # its `def` line runs at import; the body never
    for name in ("called_line", "called_def", "line_in_subprocess", "line_in_autograph"):
        assert "UNREACHED" not in rows[name] and "unchecked" not in rows[name], rows[name]
    assert "2 entries whose tests never run the mutated line" in err

    # Cached: --list alone knows the answers, without running anything.
    assert mutations.main(["--list", "--reach-cache", cache]) == 1
    assert "UNREACHED" in capsys.readouterr().out

    # Edit a file the run imported: those answers are no longer known, so not claimed.
    (repo / "tests" / "test_used.py").write_text(TESTS["tests/test_used.py"] + "\n# edited\n")
    assert mutations.main(["--list", "--reach-cache", cache]) == 0
    out, err = capsys.readouterr()
    assert "UNREACHED" not in out and "4 entries' reach unchecked" in err


def test_list_without_a_cache_marks_reach_unchecked_and_passes(repo, tmp_path, capsys):
    assert mutations.main(["--list", "--reach-cache", str(tmp_path / "none.json")]) == 0
    assert "6 entries' reach unchecked" in capsys.readouterr().err
