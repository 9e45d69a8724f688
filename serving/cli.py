"""`python -m serving predict|client|embed|export-tflite`: one JSON line per file on stdout, one
error line per failed file on stderr (`error: "FILE": reason`, the name JSON-quoted so every
error is one line), exit status 1 if any file failed, 2 if the model or server is unusable.

Every file is streamed here (soundfile + soxr, any format, rate and channel count, bounded
memory) and checked (serving/audio_input.py) before the model sees it; a bad file never stops
the others. Output fields are stable for machines: `language` is a model language or
"no_speech" (and is where an "unknown" answer will go), `confidence` the pooled top
probability (null without speech; where a calibrated value will go).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from models import open_set
from serving import settings as defaults
from serving.audio_input import AudioStream, InputError, Limits, expand_paths
from serving.retry import CallPolicy, ServingError
from serving.settings import ServingSettings
from serving.windows import NO_SPEECH, WHISPER_EMBEDDING, WHISPER_POOLED, analyse_stream, probe_geometry


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}")
    return value


def _language_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise argparse.ArgumentTypeError("give at least one language name")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m serving", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True)

    def common(sub, answers: bool = True):
        sub.add_argument("files", nargs="+", metavar="FILE",
                         help="audio files (MP3, WAV, FLAC, OGG); a folder stands for its audio files")
        sub.add_argument("--max-file-mb", type=_positive_float, default=defaults.DEFAULT_MAX_FILE_MB,
                         help="refuse bigger files (before reading them)")
        sub.add_argument("--max-seconds", type=_positive_float, default=defaults.DEFAULT_MAX_SECONDS,
                         help="refuse recordings that decode to longer than this")
        sub.add_argument("--min-seconds", type=float, default=None,
                         help=f"refuse shorter clips; default: {defaults.DEFAULT_MIN_WINDOW_FRACTION} of the "
                              "model's window")
        sub.add_argument("--windows-per-call", type=_positive_int, default=defaults.DEFAULT_WINDOWS_PER_CALL,
                         help="recordings go to the model in chunks of this many windows")
        sub.add_argument("--languages", type=_language_list, default=None, metavar="A,B",
                         help="restrict the answer to these model languages (probabilities renormalised)")
        if answers:
            sub.add_argument("--timeline", action="store_true", help="add each window's language and probabilities")
            sub.add_argument("--segments", action="store_true",
                             help="add smoothed, merged time-stamped language segments")
            sub.add_argument("--min-segment-s", type=float, default=None,
                             help=f"with --segments: shortest segment kept, in seconds "
                                  f"(default {defaults.DEFAULT_MIN_SEGMENT_S})")
            sub.add_argument("--smoothing-windows", type=int, default=None,
                             help=f"with --segments: median filter length in windows, odd "
                                  f"(default {defaults.DEFAULT_SMOOTHING_WINDOWS})")

    predict = commands.add_parser("predict", help="classify files with a SavedModel (or a .tflite) in this process",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-dir", help="a version folder, or the base folder (newest version)")
    source.add_argument("--tflite", metavar="FILE", help="a model written by `export-tflite`")
    open_set.add_cli_flags(predict)
    common(predict)

    client = commands.add_parser("client", help="classify files with a running TF Serving (REST or gRPC)",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    where = client.add_mutually_exclusive_group(required=True)
    where.add_argument("--rest", metavar="URL", help="REST endpoint, e.g. http://localhost:8501")
    where.add_argument("--grpc", metavar="HOST:PORT", help="gRPC endpoint, e.g. localhost:8500")
    client.add_argument("--model", default=defaults.MODEL_NAME, help="served model name")
    client.add_argument("--version", type=int, default=None, help="model version; default: the server's latest")
    client.add_argument("--timeout", type=_positive_float, default=defaults.DEFAULT_TIMEOUT_S,
                        help="seconds per request")
    client.add_argument("--retries", type=_non_negative_int, default=defaults.DEFAULT_RETRIES,
                        help="further attempts after UNAVAILABLE / 5xx / timeout")
    client.add_argument("--backoff", type=float, default=defaults.DEFAULT_BACKOFF_S,
                        help="first retry delay in seconds, doubled each retry")
    common(client)

    embed = commands.add_parser("embed", help="print each file's embedding, or its nearest neighbours",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    embed.add_argument("--model-dir", required=True, help="a version folder, or the base folder (newest version)")
    embed.add_argument("--nearest", type=_positive_int, default=None, metavar="K",
                       help="instead of the vectors, list each file's K most similar files (cosine)")
    common(embed, answers=False)

    export = commands.add_parser("export-tflite", help="write a float32 .tflite of the model's waveform path",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    export.add_argument("--model-dir", required=True, help="a version folder, or the base folder (newest version)")
    export.add_argument("--output", required=True, metavar="FILE", help="the .tflite to write (atomically)")
    return p


def settings_from_args(args: argparse.Namespace) -> ServingSettings:
    """Defaults + flags -> the typed, validated settings (ValueError names a bad value)."""
    given = {
        "max_file_mb": args.max_file_mb, "max_seconds": args.max_seconds, "min_seconds": args.min_seconds,
        "windows_per_call": args.windows_per_call,
        "timeout_s": getattr(args, "timeout", None), "retries": getattr(args, "retries", None),
        "backoff_s": getattr(args, "backoff", None), "min_segment_s": getattr(args, "min_segment_s", None),
        "smoothing_windows": getattr(args, "smoothing_windows", None),
    }
    return ServingSettings(**{k: v for k, v in given.items() if v is not None})


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export-tflite":
        return args
    segment_flags = [flag for flag, value in (("--min-segment-s", getattr(args, "min_segment_s", None)),
                                               ("--smoothing-windows", getattr(args, "smoothing_windows", None)))
                     if value is not None]
    if segment_flags and not args.segments:
        parser.error(f"{', '.join(segment_flags)} only apply with --segments")
    try:
        args.settings = settings_from_args(args)
    except ValueError as err:
        parser.error(str(err))
    return args


def _backend(args):
    if args.command == "client":
        s = args.settings
        policy = CallPolicy(timeout_s=s.timeout_s, retries=s.retries, backoff_s=s.backoff_s)
        if args.rest:
            from serving.rest_client import RestModel
            backend = RestModel(args.rest, args.model, args.version, policy)
        else:
            from serving.grpc_client import GrpcModel
            backend = GrpcModel(args.grpc, args.model, args.version, policy)
        backend.check_signature()
        return backend
    if getattr(args, "tflite", None):
        from serving.tflite_model import TFLiteModel
        return TFLiteModel(args.tflite)
    from serving.local_model import LocalModel
    return LocalModel(args.model_dir)


def _emit(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(path: str, reason: str) -> None:
    print(f"error: {json.dumps(path, ensure_ascii=False)}: {_one_line(reason)}", file=sys.stderr, flush=True)


def _warn(path: str, reason: str) -> None:
    print(f"warning: {json.dumps(path, ensure_ascii=False)}: {_one_line(reason)}", file=sys.stderr, flush=True)


def _export(args) -> int:
    from serving.tflite_model import export_tflite
    try:
        size = export_tflite(args.model_dir, args.output)
    except (ServingError, FileNotFoundError, ValueError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    print(json.dumps({"tflite": args.output, "bytes": size}))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "export-tflite":
        return _export(args)
    s: ServingSettings = args.settings
    try:
        backend = _backend(args)
        geometry = probe_geometry(backend, defaults.PROBE_SAMPLE_RATE)
        if args.languages:
            unknown = [name for name in args.languages if name not in geometry.languages]
            if unknown:
                raise ServingError(f"--languages: {', '.join(map(repr, unknown))} not in the model "
                                   f"(it knows: {', '.join(geometry.languages)})")
        unknown_params = _open_set_params(args, backend)
    except (ServingError, FileNotFoundError, ValueError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    limits = Limits(max_bytes=s.max_bytes, max_seconds=s.max_seconds,
                    min_seconds=s.min_seconds_for(geometry.window_seconds))
    embeddings = args.command == "embed"
    with_embeddings = embeddings or unknown_params is not None
    failed, embedded = 0, []
    for path in expand_paths(args.files):
        stream = AudioStream(path, geometry.sample_rate, limits)
        try:
            result = analyse_stream(backend, stream.blocks(), geometry, s.windows_per_call,
                                    embeddings=with_embeddings, allowed=args.languages,
                                    before_last=_length_check(limits, geometry.sample_rate))
        except (InputError, ServingError) as err:
            _fail(path, str(err))
            failed += 1
            continue
        except Exception as err:  # noqa: BLE001 - one file's surprise must not lose the others' results
            _fail(path, f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:200]}")
            failed += 1
            continue
        record = _record(path, result, stream, args, s)
        if unknown_params is not None and record["language"] != NO_SPEECH:
            record = open_set.apply_to_record(record, result["embedding"], unknown_params, args.unknown_threshold,
                                              result.get(WHISPER_POOLED), result.get(WHISPER_EMBEDDING))
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


def _open_set_params(args, backend) -> dict | None:
    """The open-set parameters stored with the model when --reject-unknown is on, else None."""
    if args.command != "predict" or not (args.reject_unknown or args.unknown_threshold is not None):
        return None
    if args.tflite:
        raise ValueError("--reject-unknown needs --model-dir: the open-set parameters are stored with the SavedModel")
    if args.languages:
        raise ValueError("--reject-unknown decides over all of the model's languages: it cannot be combined "
                         "with --languages")
    return open_set.cli_params(args, backend.path)  # the version folder the local model resolved


def _length_check(limits: Limits, sample_rate: int):
    def check(total_samples: int) -> None:
        seconds = total_samples / sample_rate
        if seconds < limits.min_seconds:
            raise InputError(f"too short ({seconds:.2f} s < {limits.min_seconds:.2f} s minimum)")
    return check


def _record(path: str, result: dict, stream: AudioStream, args, s: ServingSettings) -> dict:
    record = {"file": path, "language": result["language"], "confidence": result["confidence"],
              "probabilities": result["probabilities"], "duration_s": result["duration_s"],
              "speech_s": result["speech_s"]}
    if stream.warnings:
        record["warnings"] = list(stream.warnings)
        for warning in stream.warnings:
            _warn(path, warning)
    if getattr(args, "timeline", False):
        record["timeline"] = result["timeline"]
    if getattr(args, "segments", False):
        from serving.segments import segments
        starts, ends, probabilities, speech, names = result["_windows"]
        record["segments"] = segments(starts, ends, probabilities, speech, names, result["duration_s"],
                                      smoothing=s.smoothing_windows, min_segment_s=s.min_segment_s)
    return record


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

