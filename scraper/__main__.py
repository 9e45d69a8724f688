"""Command line: `python -m scraper crawl ...` and `python -m scraper parse-page ...`.

Also installed as `langid-scraper` (setup.py). Exit status: 0 when the crawl ran to the end
(skipped clips are reported, not errors), 1 on a fatal error (S3 unreachable, no
credentials), 2 on bad arguments, 130 when interrupted (rows of uploaded clips are saved).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

import botocore.exceptions
from tqdm import tqdm

from scraper import config as cfg

log = logging.getLogger("scraper")


class _TqdmHandler(logging.Handler):
    """Log lines printed above the progress bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _setup_logging(verbose: int) -> None:
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger("scraper")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scraper",
        description="Crawl audio-lingua's clips into S3 (crawl), or show what one saved listing page "
                    "contains (parse-page). See docs/scraper.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    crawl = sub.add_parser("crawl", help="crawl listing pages and upload the clips to S3")
    crawl.add_argument("--languages", metavar="LANGS", default="all",
                       help=f"comma-separated, or 'all' (default): {','.join(cfg.LANGUAGE_IDS)}")
    crawl.add_argument("--bucket", metavar="B", required=True, help="S3 bucket (created if missing)")
    crawl.add_argument("--prefix", metavar="P", default="", help="key prefix; a trailing '/' is added (default: none)")
    crawl.add_argument("--s3-endpoint", metavar="URL", default=None,
                       help="S3 endpoint URL, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL, else AWS)")
    crawl.add_argument("--max-per-language", metavar="N", type=_positive_int, default=None,
                       help="consider at most the first N clips of each language")
    crawl.add_argument("--workers", metavar="N", type=_positive_int, default=cfg.DEFAULT_WORKERS,
                       help=f"concurrent clip downloads (default {cfg.DEFAULT_WORKERS})")
    crawl.add_argument("--dry-run", action="store_true",
                       help="read listing pages and the bucket only: download no clip, write nothing")
    crawl.add_argument("--base-url", metavar="URL", default=cfg.BASE_URL, help=f"site root (default {cfg.BASE_URL})")
    crawl.add_argument("--rate", metavar="PER_S", type=_positive_float, default=cfg.DEFAULT_RATE,
                       help=f"requests per second to the site (default {cfg.DEFAULT_RATE})")
    crawl.add_argument("--max-size-mb", metavar="MB", type=_positive_float, default=cfg.DEFAULT_MAX_MB,
                       help=f"size cap per clip in MiB (default {cfg.DEFAULT_MAX_MB:g})")
    crawl.add_argument("--timeout", metavar="S", type=_positive_float, default=cfg.DEFAULT_TIMEOUT,
                       help=f"seconds to connect and between bytes (default {cfg.DEFAULT_TIMEOUT:g})")
    crawl.add_argument("--deadline", metavar="S", type=_positive_float, default=cfg.DEFAULT_DEADLINE,
                       help=f"seconds for one whole download, request to last byte (default {cfg.DEFAULT_DEADLINE:g})")
    crawl.add_argument("--retries", metavar="N", type=int, default=cfg.DEFAULT_RETRIES,
                       help="retries on timeouts, short bodies, the deadline, 429 and 5xx "
                            f"(default {cfg.DEFAULT_RETRIES})")
    crawl.add_argument("--backoff", metavar="S", type=_positive_float, default=cfg.DEFAULT_BACKOFF,
                       help=f"seconds before the first retry, doubled each time (default {cfg.DEFAULT_BACKOFF:g})")
    crawl.add_argument("--manifest-out", metavar="PATH", default=cfg.DEFAULT_MANIFEST_OUT,
                       help=f"local copy of the manifest (default ./{cfg.DEFAULT_MANIFEST_OUT}; '' for none)")
    crawl.add_argument("--manifest-every", metavar="N", type=_positive_int, default=cfg.DEFAULT_MANIFEST_EVERY,
                       help=f"write the manifest after this many new rows (default {cfg.DEFAULT_MANIFEST_EVERY})")
    crawl.add_argument("--contact", metavar="WHO", default=None, help="e-mail or URL added to the User-Agent")
    crawl.add_argument("--no-progress", action="store_true", help="no progress bars")
    crawl.add_argument("-v", "--verbose", action="count", default=0, help="-v: retries and more; -vv: debug")

    parse = sub.add_parser("parse-page", help="print the items of one saved listing page as JSON lines")
    parse.add_argument("file", help="a saved listing page (HTML)")
    parse.add_argument("--base-url", metavar="URL", default=cfg.BASE_URL + "/",
                       help="the page's URL, to resolve relative links (default the site root)")
    parse.add_argument("--summary", action="store_true", help="also print the stated total and pagination offsets")
    return parser


def _config(args: argparse.Namespace) -> cfg.CrawlConfig:
    """Flags -> CrawlConfig; ValueError for a bad value (an unknown language)."""
    return cfg.CrawlConfig(
        bucket=args.bucket,
        languages=cfg.resolve_languages(args.languages),
        prefix=cfg.normalise_prefix(args.prefix),
        s3_endpoint=args.s3_endpoint,
        base_url=args.base_url,
        max_per_language=args.max_per_language,
        workers=args.workers,
        dry_run=args.dry_run,
        rate=args.rate,
        max_bytes=int(args.max_size_mb * 1024 * 1024),
        timeout=args.timeout,
        deadline=args.deadline,
        retries=max(0, args.retries),
        backoff=args.backoff,
        manifest_out=args.manifest_out or None,
        manifest_every=args.manifest_every,
        user_agent=cfg.user_agent(args.contact),
        progress=not args.no_progress,
    )


def _crawl(config: cfg.CrawlConfig) -> int:
    from scraper.crawl import crawl  # boto3 and friends only for this command

    try:
        report = crawl(config)
    except KeyboardInterrupt:
        log.error("interrupted: rows of the clips uploaded so far are saved; run again to resume")
        return 130
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        log.error("S3 error: %s", err)  # botocore messages never contain the secret key
        return 1
    except ValueError as err:  # e.g. a manifest in the bucket that is not JSON lines
        log.error("%s", err)
        return 1
    print(report.format())
    return 0


def _parse_page(args: argparse.Namespace) -> int:
    from scraper.parse import parse_listing

    with open(args.file, "rb") as f:
        page = parse_listing(f.read(), args.base_url)
    for message in page.warnings:
        log.warning("%s", message)
    for item in page.items:
        print(json.dumps(item.as_json(), ensure_ascii=False))
    if args.summary:
        print(json.dumps({"total": page.total, "offsets": page.offsets, "items": len(page.items)}), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(getattr(args, "verbose", 0))
    try:
        if args.command == "crawl":
            try:
                config = _config(args)
            except ValueError as err:
                parser.error(str(err))  # exits 2
            return _crawl(config)
        return _parse_page(args)
    except OSError as err:  # an unreadable page file, an unwritable --manifest-out
        log.error("%s", err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
