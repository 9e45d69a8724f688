"""`python -m serving predict|client|embed`: one JSON line per file on stdout, one error line
per failed file on stderr ("error: FILE: reason"), exit status 1 if any file failed.

Every file is decoded here (soundfile + soxr, any format, rate and channel count) and checked
(serving/audio_input.py) before the model sees it; a bad file never stops the others.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from models import open_set
from pipeline import configs
from serving.audio_input import InputError, Limits, expand_paths, load_clip
from serving.retry import CallPolicy, ServingError
from serving.windows import analyse_recording, probe_geometry

_SERVING = configs.SERVING



def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m serving", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True)

    def common(sub):
        sub.add_argument("files", nargs="+", metavar="FILE",
                         help="audio files (MP3, WAV, FLAC, OGG); a folder stands for its audio files")
        sub.add_argument("--max-file-mb", type=float, default=_SERVING["max_file_mb"], help="refuse bigger files")
        sub.add_argument("--min-seconds", type=float, default=None,
                         help=f"refuse shorter clips; %(default)s: {_SERVING['min_window_fraction']} of the model's window")
        sub.add_argument("--windows-per-call", type=int, default=_SERVING["windows_per_call"],
                         help="long recordings go to the model in chunks of this many windows")

    predict = commands.add_parser("predict", help="classify files with a SavedModel in this process",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    predict.add_argument("--model-dir", required=True, help="a version folder, or the base folder (newest version)")
    predict.add_argument("--timeline", action="store_true", help="add each window's language and probabilities")
    open_set.add_cli_flags(predict)
    common(predict)

    client = commands.add_parser("client", help="classify files with a running TF Serving (REST or gRPC)",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    where = client.add_mutually_exclusive_group(required=True)
    where.add_argument("--rest", metavar="URL", help="REST endpoint, e.g. http://localhost:8501")
    where.add_argument("--grpc", metavar="HOST:PORT", help="gRPC endpoint, e.g. localhost:8500")
    client.add_argument("--model", default=configs.SERVING_MODEL_NAME, help="served model name")
    client.add_argument("--version", type=int, default=None, help="model version; %(default)s: the server's latest")
    client.add_argument("--timeout", type=float, default=_SERVING["timeout_s"], help="seconds per request")
    client.add_argument("--retries", type=_non_negative_int, default=_SERVING["retries"],
                        help="further attempts after UNAVAILABLE / 5xx / timeout")
    client.add_argument("--backoff", type=float, default=_SERVING["backoff_s"],
                        help="first retry delay in seconds, doubled each retry")
    client.add_argument("--timeline", action="store_true", help="add each window's language and probabilities")
    common(client)

    embed = commands.add_parser("embed", help="print each file's embedding, or its nearest neighbours",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    embed.add_argument("--model-dir", required=True, help="a version folder, or the base folder (newest version)")
    embed.add_argument("--nearest", type=int, default=None, metavar="K",
                       help="instead of the vectors, list each file's K most similar files (cosine)")
    common(embed)
    return p.parse_args(argv)


def _backend(args):
    if args.command == "client":
        policy = CallPolicy(timeout_s=args.timeout, retries=args.retries, backoff_s=args.backoff)
        if args.rest:
            from serving.rest_client import RestModel
            backend = RestModel(args.rest, args.model, args.version, policy)
        else:
            from serving.grpc_client import GrpcModel
            backend = GrpcModel(args.grpc, args.model, args.version, policy)
        backend.check_signature()
        return backend
    from serving.local_model import LocalModel
    return LocalModel(args.model_dir)


def _emit(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def _fail(path: str, reason: str) -> None:
    print(f"error: {path}: {reason}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        backend = _backend(args)
        geometry = probe_geometry(backend, configs.SAMPLE_RATE)
        unknown_params = open_set.cli_params(args, backend.path) if args.command == "predict" else None
    except (ServingError, FileNotFoundError, open_set.OpenSetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    min_seconds = args.min_seconds if args.min_seconds is not None else \
        _SERVING["min_window_fraction"] * geometry.window_seconds
    limits = Limits(max_bytes=int(args.max_file_mb * 2**20), min_seconds=min_seconds)
    embeddings = args.command == "embed"
    with_embeddings = embeddings or unknown_params is not None
    failed, embedded = 0, []
    for path in expand_paths(args.files):
        try:
            clip = load_clip(path, geometry.sample_rate, limits)
            result = analyse_recording(backend, clip.waveform, geometry, args.windows_per_call,
                                       embeddings=with_embeddings)
        except (InputError, ServingError) as err:
            _fail(path, str(err))
            failed += 1
            continue
        except Exception as err:  # noqa: BLE001 - one file's surprise must not lose the others' results
            _fail(path, f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:200]}")
            failed += 1
            continue
        record = {"file": path, "language": result["language"], "probabilities": result["probabilities"],
                  "duration_s": result["duration_s"]}
        if getattr(args, "timeline", False):
            record["timeline"] = result["timeline"]
        if unknown_params is not None:
            record = open_set.apply_to_record(record, result["embedding"], unknown_params, args.unknown_threshold)
        if embeddings:
            embedded.append((record, result["embedding"]))
            if args.nearest is None:
                _emit({**record, "embedding": [round(float(x), 6) for x in result["embedding"]]})
        else:
            _emit(record)
    if embeddings and args.nearest is not None:
        for record in nearest_neighbours(embedded, args.nearest):
            _emit(record)
    return 1 if failed else 0


def nearest_neighbours(embedded: list[tuple[dict, np.ndarray]], k: int) -> list[dict]:
    """Each file's k most similar other files by cosine similarity of the embeddings."""
    if not embedded:
        return []
    vectors = np.stack([v for _, v in embedded])
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    out = []
    for i, (record, _) in enumerate(embedded):
        order = np.argsort(-similarity[i])[: max(0, min(k, len(embedded) - 1))]
        out.append({"file": record["file"], "language": record["language"],
                    "nearest": [{"file": embedded[j][0]["file"], "similarity": round(float(similarity[i, j]), 6)}
                                for j in order]})
    return out
