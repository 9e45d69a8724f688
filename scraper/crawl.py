"""The crawl: listing pages -> items -> checked downloads -> S3 objects + manifest rows.

Listing pages are read in order by the calling thread; each new clip goes to a bounded pool
of workers. All HTTP goes through one `Fetcher` (rate limit, robots, retries, deadline), all
S3 access through `storage.s3` (and `object_head` here).

Resumable by construction: a clip whose object already exists, with the size and MD5 of its
manifest row, is not downloaded again, and every step is safe to repeat (S3 PUTs are atomic,
manifest rows are keyed by S3 key).
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import re
import threading
import urllib.parse
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import botocore.exceptions
from tqdm import tqdm

from scraper import config as cfg
from scraper.fetch import Fetcher, FetchError
from scraper.keys import object_key
from scraper.manifest import Manifest, make_row
from scraper.parse import Item, parse_listing
from scraper.validate import mpeg_problem
from storage import s3

log = logging.getLogger("scraper")

UPLOADED, PRESENT, SKIPPED = "uploaded", "already present", "skipped"
MAX_PAGE_FAILURES_IN_A_ROW = 3  # the site is down or blocking us: stop that language


@dataclass
class Outcome:
    status: str
    reason: str = ""
    detail: str = ""


@dataclass
class LanguageReport:
    language: str
    pages: int = 0
    page_failures: int = 0
    total_stated: int | None = None
    found: int = 0  # distinct clip links considered
    duplicates: int = 0  # links seen again (the same clip listed on two pages)
    uploaded: int = 0  # in a dry run: would be uploaded
    already_present: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    skipped_items: list[tuple[str, str, str]] = field(default_factory=list)  # (url, reason, detail)
    warnings: list[str] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        parts = [
            f"pages {self.pages}",
            f"found {self.found}",
            f"{'would upload' if dry_run else 'uploaded'} {self.uploaded}",
            f"already present {self.already_present}",
            f"skipped {sum(self.skipped.values())}",
        ]
        if self.skipped:
            parts[-1] += " (" + ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items())) + ")"
        if self.duplicates:
            parts.append(f"duplicate links ignored {self.duplicates}")
        if self.page_failures:
            parts.append(f"listing pages FAILED {self.page_failures}")
        if self.warnings:
            parts.append(f"warnings {len(self.warnings)}")
        return f"{self.language}: " + ", ".join(parts)


@dataclass
class CrawlReport:
    dry_run: bool
    languages: dict[str, LanguageReport] = field(default_factory=dict)

    def total(self) -> LanguageReport:
        total = LanguageReport("Total")
        for rep in self.languages.values():
            for name in ("pages", "page_failures", "found", "duplicates", "uploaded", "already_present"):
                setattr(total, name, getattr(total, name) + getattr(rep, name))
            total.skipped.update(rep.skipped)
            total.warnings.extend(rep.warnings)
        return total

    def format(self) -> str:
        head = "Summary (dry run: no clip downloaded, nothing written)" if self.dry_run else "Summary"
        lines = [head] + [rep.line(self.dry_run) for rep in self.languages.values()]
        if len(self.languages) > 1:
            lines.append(self.total().line(self.dry_run))
        return "\n".join(lines)


class Crawler:
    def __init__(self, config: cfg.CrawlConfig, client=None, fetcher: Fetcher | None = None):
        self.cfg = config
        self.client = client or s3.make_client(config.s3_endpoint, max_pool_connections=max(16, config.workers + 4))
        self.fetcher = fetcher or Fetcher(
            config.base_url,
            config.user_agent,
            rate=config.rate,
            timeout=config.timeout,
            deadline=config.deadline,
            retries=config.retries,
            backoff=config.backoff,
            backoff_max=config.backoff_max,
            max_retry_after=config.max_retry_after,
        )
        self.manifest = Manifest(
            self.client, config.bucket, config.prefix, config.manifest_out, config.manifest_every,
            writable=not config.dry_run,
        )
        self.bucket_exists = True
        self._lock = threading.Lock()

    # -- the whole crawl ----------------------------------------------------------------

    def run(self) -> CrawlReport:
        self._open_bucket()
        report = CrawlReport(self.cfg.dry_run)
        pool = ThreadPoolExecutor(max_workers=max(1, self.cfg.workers), thread_name_prefix="clip")
        try:
            for language in self.cfg.languages:
                report.languages[language] = self._crawl_language(language, pool)
                self.manifest.flush()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # let running uploads finish, start no more
            try:
                self.manifest.flush(final=True)  # keep the rows of what did get uploaded
            except Exception as err:  # don't hide the original error
                log.error("could not write the manifest after the crawl failed: %s", err)
            raise
        pool.shutdown(wait=True)
        self.manifest.flush(final=True)
        return report

    def _open_bucket(self) -> None:
        """Create the bucket (not in a dry run) and load its manifest."""
        if not self.cfg.dry_run:
            s3.ensure_bucket(self.client, self.cfg.bucket)
        try:
            rows = s3.read_manifest(self.client, self.cfg.bucket, self.cfg.prefix)
        except botocore.exceptions.ClientError as err:
            if not (self.cfg.dry_run and err.response.get("Error", {}).get("Code") == "NoSuchBucket"):
                raise
            log.info("bucket %s does not exist yet: every clip would be uploaded", self.cfg.bucket)
            self.bucket_exists, rows = False, []
        self.manifest.load(rows)

    # -- one language -------------------------------------------------------------------

    def _crawl_language(self, language: str, pool: ThreadPoolExecutor) -> LanguageReport:
        """Follow the pagination from offset 0 to the end, handing each new clip to the pool."""
        rep = LanguageReport(language)
        limit = self.cfg.max_per_language
        language_id = cfg.LANGUAGE_IDS[language]
        seen_urls: set[str] = set()
        seen_keys: set[str] = set()
        offsets, queued = [0], {0}
        failures_in_a_row = 0
        futures: list[Future] = []
        bar = tqdm(desc=f"{language:<8}", unit="clip", total=limit, disable=not self.cfg.progress, dynamic_ncols=True)
        try:
            while offsets and (limit is None or rep.found < limit):
                offset = heapq.heappop(offsets)
                url = cfg.listing_url(self.cfg.base_url, language_id, offset)
                try:
                    html = self.fetcher.get(url, cfg.MAX_PAGE_BYTES)
                except FetchError as err:
                    rep.page_failures += 1
                    failures_in_a_row += 1
                    if failures_in_a_row >= MAX_PAGE_FAILURES_IN_A_ROW or rep.total_stated is None:
                        self._warn(rep, f"{url}: listing page not loaded ({err}); giving up on {language}")
                        break
                    self._warn(rep, f"{url}: listing page not loaded ({err}); continuing")
                    following = [offset + cfg.PAGE_SIZE]  # its pagination links are lost: step past it
                else:
                    failures_in_a_row = 0
                    rep.pages += 1
                    page = parse_listing(html, url)
                    for message in page.warnings:
                        self._warn(rep, message)
                    if rep.total_stated is None and page.total is not None:
                        rep.total_stated = page.total
                        bar.total = min(page.total, limit) if limit is not None else page.total
                        bar.refresh()
                    for item in page.items:
                        if limit is not None and rep.found >= limit:
                            break
                        future = self._consider(language, item, rep, bar, seen_urls, seen_keys, pool)
                        if future is not None:
                            futures.append(future)
                    following = page.offsets
                for nxt in following:
                    if nxt not in queued and (rep.total_stated is None or nxt < rep.total_stated):
                        queued.add(nxt)
                        heapq.heappush(offsets, nxt)
                self._raise_failed(futures)
            for future in futures:
                future.result()  # wait, and re-raise an unexpected error (S3 down, access denied)
            if limit is None and rep.total_stated is not None and rep.found < rep.total_stated:
                first = cfg.listing_url(self.cfg.base_url, language_id)
                self._warn(rep, f"{first}: the listing states {rep.total_stated} resources, "
                                f"the crawl found {rep.found}")
        finally:
            bar.close()
        return rep

    def _consider(self, language, item: Item, rep, bar, seen_urls, seen_keys, pool) -> Future | None:
        """Count a listed clip once; reject unsafe links here, queue the rest."""
        url = urllib.parse.urldefrag(item.mp3_url)[0]
        if url in seen_urls:
            rep.duplicates += 1
            return None
        seen_urls.add(url)
        rep.found += 1
        try:
            self.fetcher.check_url(url)
        except FetchError as err:
            self._record(rep, bar, url, Outcome(SKIPPED, err.reason, err.detail))
            return None
        key = object_key(self.cfg.prefix, language, url)
        if key in seen_keys:
            self._record(rep, bar, url, Outcome(SKIPPED, "duplicate file name", key))
            return None
        seen_keys.add(key)
        future = pool.submit(self._process, language, item, url, key)
        future.add_done_callback(lambda f: self._record_future(rep, bar, url, f))
        return future

    @staticmethod
    def _raise_failed(futures: list[Future]) -> None:
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()

    # -- one clip (in a worker) ---------------------------------------------------------

    def _process(self, language: str, item: Item, url: str, key: str) -> Outcome:
        """Skip a clip already in S3, else download, check and upload it, then record its row.

        "Already in S3" means an object whose size and MD5 are those of its manifest row (no
        request to the site); an object that differs from its row is fetched again. For an
        object without a row (its crawl was killed before writing the manifest) it means the
        size a HEAD of the source says; that row's MD5 is computed from the object itself,
        which is exact whatever its ETag means.
        """
        head = object_head(self.client, self.cfg.bucket, key) if self.bucket_exists else None
        if head is not None:
            present, etag = head
            row = self.manifest.get(key)
            if row and row.get("md5"):
                if self._matches_row(key, present, etag, row):
                    self.manifest.put(make_row(item, language, key, present, row["md5"]))  # refresh metadata
                    return Outcome(PRESENT)
                log.info("%s differs from its manifest row (size %s, row %s): fetching it again",
                         key, present, row.get("size"))
            elif self.cfg.dry_run:
                return Outcome(PRESENT)
            # Uploaded by a crawl that died before writing its row. Same size as the source?
            elif self.fetcher.content_length(url) == present:
                md5 = hashlib.md5(s3.get_bytes(self.client, self.cfg.bucket, key)).hexdigest()
                self.manifest.put(make_row(item, language, key, present, md5))
                return Outcome(PRESENT)
        if self.cfg.dry_run:
            return Outcome(UPLOADED)
        try:
            body = self.fetcher.get(url, self.cfg.max_bytes)
        except FetchError as err:
            return Outcome(SKIPPED, err.reason, err.detail)
        problem = mpeg_problem(body)
        if problem:
            return Outcome(SKIPPED, "not MPEG audio", f"{url}: {problem}")
        md5 = s3.put_bytes(self.client, self.cfg.bucket, key, body, "audio/mpeg")
        self.manifest.put(make_row(item, language, key, len(body), md5))  # after the upload, never before
        return Outcome(UPLOADED)

    def _matches_row(self, key: str, size: int, etag: str, row: dict) -> bool:
        """Do the object's size and MD5 equal its manifest row's?

        A single PUT's ETag is its MD5, which settles most objects without reading them. An
        ETag that is not a plain MD5 (multipart) or that differs (SSE-KMS ETags are not MD5s)
        is not proof either way: the object is read back and hashed.
        """
        if row.get("size") != size:
            return False
        if re.fullmatch(r"[0-9a-f]{32}", etag) and etag == row["md5"]:
            return True
        return hashlib.md5(s3.get_bytes(self.client, self.cfg.bucket, key)).hexdigest() == row["md5"]

    # -- bookkeeping --------------------------------------------------------------------

    def _record_future(self, rep: LanguageReport, bar, url: str, future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the crawl is failing; _crawl_language re-raises the error
        self._record(rep, bar, url, future.result())

    def _record(self, rep: LanguageReport, bar, url: str, outcome: Outcome) -> None:
        with self._lock:
            if outcome.status == UPLOADED:
                rep.uploaded += 1
            elif outcome.status == PRESENT:
                rep.already_present += 1
            else:
                rep.skipped[outcome.reason] += 1
                rep.skipped_items.append((url, outcome.reason, outcome.detail))
            bar.update(1)
            counts = {"todo" if self.cfg.dry_run else "new": rep.uploaded, "present": rep.already_present,
                      "skipped": sum(rep.skipped.values())}
            bar.set_postfix(counts, refresh=False)
        if outcome.status == SKIPPED:
            detail = outcome.detail.removeprefix(url).removeprefix(": ")
            log.warning("skipped %s: %s%s", url, outcome.reason, f" ({detail})" if detail else "")

    def _warn(self, rep: LanguageReport, message: str) -> None:
        with self._lock:
            rep.warnings.append(message)
        log.warning("%s", message)


def object_head(client, bucket: str, key: str) -> tuple[int, str] | None:
    """(size, ETag without quotes) of an object, or None when it does not exist."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(head["ContentLength"]), head.get("ETag", "").strip('"').lower()


def crawl(config: cfg.CrawlConfig, client=None, fetcher: Fetcher | None = None) -> CrawlReport:
    """Run one crawl; see Crawler."""
    return Crawler(config, client=client, fetcher=fetcher).run()
