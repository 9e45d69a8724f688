"""The image and `make` cannot drift apart: same install script, same Python, same inputs.

Docker does not run in CI, so the Dockerfile is checked as text against the Makefile, the
install script and the Python the suite itself runs on (CI's .venv, made by that script).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import sys

import kubeflow_runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name: str) -> str:
    with open(os.path.join(REPO, name)) as f:
        return f.read()


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, argument) pairs, continuation lines joined, comments dropped."""
    kept = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n", " ", kept)
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^(\w+)\s+(.*)$", joined, re.M)]


def test_image_installs_with_the_script_make_uses_and_nothing_else():
    steps = instructions(read("Dockerfile"))
    runs = [arg for kind, arg in steps if kind == "RUN"]
    assert runs == ["bash scripts/install.sh --system"]
    make_installs = re.findall(r"^\t(.*install\.sh.*)$", read("Makefile"), re.M)
    assert make_installs and all(line.startswith("bash scripts/install.sh ") for line in make_installs)
    assert "make test" in read(".ci/run")  # CI runs make, so CI, make and the image share the script


def test_image_python_is_the_one_ci_and_the_install_script_use():
    (base,) = [arg for kind, arg in instructions(read("Dockerfile")) if kind == "FROM"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)(?:\.\d+)?-slim(?:-\w+)?", base)
    assert match, base
    image_python = (int(match.group(1)), int(match.group(2)))
    assert f"sys.version_info[:2] != {image_python}" in read("scripts/install.sh")
    assert f"python_requires=\">={image_python[0]}.{image_python[1]},<{image_python[0]}.{image_python[1] + 1}\"" \
        in read("setup.py")
    assert sys.version_info[:2] == image_python  # this suite runs in CI's .venv, built by install.sh


def test_image_layout_matches_what_the_compiled_spec_expects():
    steps = instructions(read("Dockerfile"))
    assert ("WORKDIR", kubeflow_runner.IMAGE_PROJECT_DIR) in steps
    assert ("COPY", f". {kubeflow_runner.IMAGE_PROJECT_DIR}") in steps
    (entrypoint,) = [arg for kind, arg in steps if kind == "ENTRYPOINT"]
    assert json.loads(entrypoint) == kubeflow_runner.KUBEFLOW_CONTAINER_COMMAND


def test_dockerignore_keeps_every_install_input_and_drops_local_state():
    patterns = [line.strip() for line in read(".dockerignore").splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.lstrip("*/"))
                   for p in prefixes for pat in patterns)

    needed = ["scripts/install.sh", "setup.py", "requirements/base.txt", "requirements/constraints.txt",
              "contract/schema.pbtxt", "operations/container_entrypoint.py", "storage/tf_s3.py",
              "components/s3_audio_example_gen/executor.py", "audio/decode.py",
              "requirements/weights.txt", "models/whisper/weights.py"]
    assert [p for p in needed if ignored(p)] == []
    assert all(ignored(p) for p in [".git", ".venv", "tfx_output", "serving_model", "models/__pycache__"])



def test_no_credentials_are_baked_into_the_image():
    steps = instructions(read("Dockerfile"))
    assert not [arg for kind, arg in steps if kind in ("ENV", "ARG") and "AWS_" in arg]
