"""Whole crawls of the fixture site into moto's S3, all on 127.0.0.1.

Checked: the exact objects and manifest rows, the skip reasons, the requests made (count,
order, spacing, retries), dry runs, limits, and that a crawl killed part-way and run again
ends exactly like one that was never interrupted.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import Counter

import botocore.exceptions
import pytest

from scraper.config import CrawlConfig
from scraper.crawl import crawl
from scraper.manifest import Manifest
from storage import s3
from tests.helpers import scraper_fixtures as fx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = ["English", "French", "German", "Spanish"]
PREFIX = "clips/"
CAP = 50 * 1024  # the oversized fixtures are 125 kB, the others 2.5 kB


@pytest.fixture(scope="module")
def endpoint():
    with fx.moto_s3() as url:
        yield url


@pytest.fixture(scope="module")
def client(endpoint):
    return s3.make_client(endpoint)


@pytest.fixture
def site():
    with fx.site() as s:
        yield s


@pytest.fixture(scope="module")
def shared_site():
    """One site for the kill tests, so they can share one uninterrupted baseline crawl."""
    with fx.site() as s:
        yield s


@pytest.fixture(scope="module")
def baseline(shared_site, endpoint, tmp_path_factory):
    """A bucket filled by one uninterrupted crawl of shared_site."""
    bucket = new_bucket()
    crawl(config(shared_site, endpoint, bucket, tmp_path_factory.mktemp("baseline")))
    return bucket


def new_bucket() -> str:
    return f"scraper-{uuid.uuid4().hex[:12]}"


def config(site, endpoint, bucket, tmp_path, **overrides) -> CrawlConfig:
    options = dict(
        bucket=bucket, languages=ALL, prefix=PREFIX, s3_endpoint=endpoint, base_url=site.base_url,
        rate=50.0, workers=3, backoff=0.01, backoff_max=0.05, timeout=5.0, max_bytes=CAP,
        manifest_out=str(tmp_path / f"{bucket}.jsonl"), manifest_every=4, progress=False,
    )
    options.update(overrides)
    return CrawlConfig(**options)


def objects(client, bucket) -> dict[str, tuple[int, str]]:
    return {o.key: (o.size, o.etag) for o in s3.list_objects(client, bucket)}


def manifest_bytes(client, bucket) -> bytes:
    return s3.get_bytes(client, bucket, s3.manifest_key(PREFIX))


def clip_keys(client, bucket) -> set[str]:
    return {k for k in objects(client, bucket) if k != s3.manifest_key(PREFIX)}


def expected_gets(site) -> Counter:
    """GET requests of one complete first crawl: each listing page once, robots.txt once, each
    same-host clip once, the 503 and 429 clips twice, nothing off-host or robots-disallowed."""
    gets = Counter({"/robots.txt": 1})
    for lang in site.languages:
        gets.update(site.listing_paths(lang.name))
        for clip in site.clips(lang.name):
            if clip.expect in ("off-host link", "robots.txt disallows", "not http(s)"):
                continue
            path = "/" + clip.href
            gets[urllib.parse.unquote(path)] += len(clip.replies) if clip.replies[0].status in (429, 503) else 1
    return gets


# -- one complete crawl -------------------------------------------------------------------

def test_full_crawl_uploads_exactly_the_valid_clips(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    report = crawl(config(site, endpoint, bucket, tmp_path))

    # Objects: every valid clip once, under PREFIX{Language}/, plus the manifest.
    expected = fx.expected_rows(site, PREFIX)
    assert len(expected) == 20
    found = objects(client, bucket)
    assert set(found) == set(expected) | {"clips/manifest.jsonl"}
    for key, row in expected.items():
        assert found[key] == (row["size"], row["md5"]), key  # ETag of a single PUT is its MD5
    for key in found:
        safe = r"clips/(English|French|German|Spanish)/[A-Za-z0-9][A-Za-z0-9._-]*\.mp3"
        assert re.fullmatch(safe, key) or key == "clips/manifest.jsonl"
    assert "clips/French/etc_cron.d_evil_name-c070653f.mp3" in found  # the hostile name, made safe

    # Manifest: exactly one row per object, with the listing's metadata, size and MD5.
    data = manifest_bytes(client, bucket)
    rows = s3.decode_manifest(data)
    assert {r["key"]: r for r in rows} == expected and len(rows) == len(expected)
    assert all(isinstance(r["speaker_id"], str) for r in rows)
    assert expected["clips/French/le_marche.mp3"]["speaker_id"] == ""  # no author on the page
    assert (tmp_path / f"{bucket}.jsonl").read_bytes() == data  # the local copy is the same bytes

    # Summary: counts and skip reasons per language.
    summary = {
        name: (rep.pages, rep.found, rep.uploaded, rep.already_present, rep.duplicates, dict(rep.skipped))
        for name, rep in report.languages.items()
    }
    assert summary == {
        "English": (3, 12, 9, 0, 0, {"http 404": 1, "off-host link": 1, "robots.txt disallows": 1}),
        "French": (2, 8, 5, 0, 1, {"not MPEG audio": 1, "too large": 2}),
        "German": (1, 3, 1, 0, 0, {"not http(s)": 1, "not MPEG audio": 1}),
        "Spanish": (2, 5, 5, 0, 0, {}),
    }
    reasons = {url.rsplit("/", 1)[-1]: (reason, detail) for rep in report.languages.values()
               for url, reason, detail in rep.skipped_items}
    assert reasons["page_erreur.mp3"] == (
        "not MPEG audio", f"{site.base_url}/IMG/mp3/page_erreur.mp3: HTML/XML document, not audio")
    assert reasons["leer.mp3"][1].endswith(": empty body")
    assert "Content-Length 125100 > cap 51200" in reasons["enorme.mp3"][1]
    assert "more than the 51200-byte cap" in reasons["enorme_flux.mp3"][1]
    for lang in site.languages:
        expected_skips = Counter(c.expect for c in site.clips(lang.name) if c.expect != "uploaded")
        assert report.languages[lang.name].skipped == expected_skips

    # Warnings name the page and what was missing; the crawl went on.
    french_page2 = f"{site.base_url}/spip.php?rubrique1&lang=en&debut_articles=5"
    spanish_page2 = f"{site.base_url}/spip.php?rubrique4&lang=en&debut_articles=5"
    assert report.languages["French"].warnings == [
        f"{french_page2}: item 3 (IMG/mp3/le_marche.mp3): missing speaker (span.authors a.url.fn)"]
    assert report.languages["Spanish"].warnings == [
        f"{spanish_page2}: no 'N Resources' heading (h2); trying every item list",
        f"{spanish_page2}: no resource items (li.item > article with div.download a[href])",
        f"{site.base_url}/spip.php?rubrique4&lang=en: the listing states 7 resources, the crawl found 5",
    ]
    text = report.format()
    assert ("English: pages 3, found 12, uploaded 9, already present 0, "
            "skipped 3 (http 404: 1, off-host link: 1, robots.txt disallows: 1)") in text

    # Requests: robots.txt first, each page and clip once, retries only where due, nothing
    # off-host, a clear User-Agent on all, and never faster than the rate limit.
    requests = site.server.requests
    assert requests[0].path == "/robots.txt"
    assert Counter(site.server.paths("GET")) == expected_gets(site)
    assert site.server.paths("HEAD") == []
    assert site.other.requests == []
    assert all(r.user_agent.startswith("langid-tfx-scraper/") for r in requests)
    times = [r.t for r in requests]  # arrival times jitter by a few ms: check windows of 10 gaps
    assert min(b - a for a, b in zip(times, times[10:])) >= 0.8 * 10 / 50
    slow = [r.t for r in requests if r.path == "/IMG/mp3/slow_down.mp3"]
    assert len(slow) == 2 and slow[1] - slow[0] >= 0.95  # Retry-After: 1 honoured


def test_rerun_uploads_nothing_and_changes_nothing(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    crawl(config(site, endpoint, bucket, tmp_path))
    before_objects, before_manifest = objects(client, bucket), manifest_bytes(client, bucket)
    n_before = len(site.server.requests)

    report = crawl(config(site, endpoint, bucket, tmp_path))

    assert objects(client, bucket) == before_objects
    assert manifest_bytes(client, bucket) == before_manifest
    assert {n: (r.uploaded, r.already_present) for n, r in report.languages.items()} == {
        "English": (0, 9), "French": (0, 5), "German": (0, 1), "Spanish": (0, 5)}
    # Present clips are not fetched again (the manifest vouches for their size); only robots.txt,
    # the listing pages and the clips that failed last time are requested.
    again = Counter(r.path for r in site.server.requests[n_before:])
    listing = Counter(p for lang in ALL for p in site.listing_paths(lang))
    failed = Counter({"/IMG/mp3/missing.mp3": 1, "/IMG/mp3/page_erreur.mp3": 1, "/IMG/mp3/enorme.mp3": 1,
                      "/IMG/mp3/enorme_flux.mp3": 1, "/IMG/mp3/leer.mp3": 1})
    assert again == Counter({"/robots.txt": 1}) + listing + failed


def test_manifest_merge_keeps_rows_of_other_crawls(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    s3.ensure_bucket(client, bucket)
    other = {"key": "clips/Russian/privet.mp3", "language": "Russian", "speaker_id": "7"}
    stale = {"key": "clips/English/the_weather.mp3", "language": "English", "speaker_id": "0"}
    s3.write_manifest(client, bucket, [other, stale], PREFIX)

    crawl(config(site, endpoint, bucket, tmp_path, languages=["English"]))

    rows = {r["key"]: r for r in s3.decode_manifest(manifest_bytes(client, bucket))}
    english = {k: v for k, v in fx.expected_rows(site, PREFIX).items() if v["language"] == "English"}
    assert rows == {other["key"]: other} | english  # kept the other row, refreshed the stale one


# -- dry runs and limits ------------------------------------------------------------------

def test_dry_run_downloads_no_clip_and_writes_nothing(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    report = crawl(config(site, endpoint, bucket, tmp_path, dry_run=True))

    with pytest.raises(botocore.exceptions.ClientError):
        client.head_bucket(Bucket=bucket)  # not even created
    assert not (tmp_path / f"{bucket}.jsonl").exists()
    assert {p for p in site.server.paths() if p.startswith("/IMG/")} == set()
    assert {n: (r.uploaded, r.already_present, dict(r.skipped)) for n, r in report.languages.items()} == {
        "English": (10, 0, {"off-host link": 1, "robots.txt disallows": 1}),
        "French": (8, 0, {}),
        "German": (2, 0, {"not http(s)": 1}),
        "Spanish": (5, 0, {}),
    }
    assert report.format().startswith(
        "Summary (dry run: no clip downloaded, nothing written)\nEnglish: pages 3, found 12, would upload 10")


def test_dry_run_after_a_crawl_sees_what_is_present(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    crawl(config(site, endpoint, bucket, tmp_path, languages=["German"]))
    before = objects(client, bucket), manifest_bytes(client, bucket)
    report = crawl(config(site, endpoint, bucket, tmp_path, languages=["German"], dry_run=True))
    assert (report.languages["German"].uploaded, report.languages["German"].already_present) == (1, 1)
    assert (objects(client, bucket), manifest_bytes(client, bucket)) == before


def test_max_per_language_stops_early(site, endpoint, client, tmp_path):
    bucket = new_bucket()
    report = crawl(config(site, endpoint, bucket, tmp_path, languages=["English", "Spanish"], max_per_language=3))
    assert clip_keys(client, bucket) == {
        "clips/English/the_weather.mp3", "clips/English/my_family.mp3",  # the third one is the 404
        "clips/Spanish/el_tiempo_0.mp3", "clips/Spanish/el_tiempo_1.mp3", "clips/Spanish/el_tiempo_2.mp3",
    }
    assert [report.languages[n].found for n in ("English", "Spanish")] == [3, 3]
    assert "/spip.php?rubrique2&lang=en&debut_articles=5" not in site.server.paths()  # no page 2 needed


def test_rate_limit_spacing_at_a_slow_rate(site, endpoint, client, tmp_path):
    """Four workers, 4 requests a second: robots.txt, one page, three clips, 0.25 s apart."""
    bucket = new_bucket()
    crawl(config(site, endpoint, bucket, tmp_path, languages=["English"], max_per_language=3, rate=4.0, workers=4))
    requests = site.server.requests
    assert [r.path for r in requests][:2] == ["/robots.txt", "/spip.php?rubrique2&lang=en"]
    assert len(requests) == 5
    gaps = [b.t - a.t for a, b in zip(requests, requests[1:])]
    assert min(gaps) >= 0.2, gaps


# -- killed part-way, then run again ------------------------------------------------------

class SimulatedKill(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even the final manifest write."""


# rows_saved: rows written before the kill (every 4 rows, and after each language; English has 9)
@pytest.mark.parametrize("kill_after, rows_saved", [(1, 0), (6, 4), (13, 9)])
def test_killed_after_an_upload_then_rerun_matches_an_uninterrupted_crawl(
    shared_site, baseline, endpoint, client, tmp_path, monkeypatch, kill_after, rows_saved
):
    site = shared_site
    bucket = new_bucket()
    real_put, real_flush = s3.put_bytes, Manifest.flush
    state = {"uploads": 0, "killed": False}

    def put_then_die(client_, bucket_, key, body, content_type="application/octet-stream"):
        if state["killed"]:  # a dead process uploads nothing more
            raise SimulatedKill()
        digest = real_put(client_, bucket_, key, body, content_type)
        if key.endswith(".mp3"):
            state["uploads"] += 1
            if state["uploads"] == kill_after:  # the object is in S3; its row is not recorded
                state["killed"] = True
                raise SimulatedKill()
        return digest

    def flush_unless_dead(self, final=False):
        if not state["killed"]:
            real_flush(self, final)

    monkeypatch.setattr(s3, "put_bytes", put_then_die)
    monkeypatch.setattr(Manifest, "flush", flush_unless_dead)
    with pytest.raises(SimulatedKill):
        crawl(config(site, endpoint, bucket, tmp_path, workers=1))
    monkeypatch.undo()

    # Part-way: kill_after objects, and rows only for those written before the kill.
    assert len(clip_keys(client, bucket)) == kill_after
    try:
        rows = s3.decode_manifest(manifest_bytes(client, bucket))
    except botocore.exceptions.ClientError:
        rows = []
    assert len(rows) == rows_saved
    assert {r["key"] for r in rows} < clip_keys(client, bucket)

    n_before = len(site.server.requests)
    report = crawl(config(site, endpoint, bucket, tmp_path))

    assert objects(client, bucket) == objects(client, baseline)
    assert manifest_bytes(client, bucket) == manifest_bytes(client, baseline)
    assert sum(r.uploaded for r in report.languages.values()) == 20 - kill_after
    assert sum(r.already_present for r in report.languages.values()) == kill_after
    # The objects without a row were checked with one HEAD each, not downloaded again.
    heads = [r.path for r in site.server.requests[n_before:] if r.method == "HEAD"]
    assert len(heads) == kill_after - len(rows)


def test_sigkilled_process_then_rerun_matches_an_uninterrupted_crawl(shared_site, baseline, endpoint, client, tmp_path):
    site = shared_site
    bucket = new_bucket()
    args = [
        sys.executable, "-m", "scraper", "crawl", "--languages", ",".join(ALL), "--bucket", bucket,
        "--prefix", PREFIX, "--s3-endpoint", endpoint, "--base-url", site.base_url, "--rate", "8",
        "--workers", "2", "--backoff", "0.01", "--max-size-mb", str(CAP / 1024 / 1024),
        "--manifest-every", "1000", "--manifest-out", str(tmp_path / "killed.jsonl"), "--no-progress",
    ]
    env = dict(os.environ, PYTHONPATH=REPO)  # the embedded S3's throwaway keys are in os.environ
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(clip_keys(client, bucket)) >= 3:
                    break
            except botocore.exceptions.ClientError:
                pass  # bucket not created yet
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    partial = clip_keys(client, bucket)
    assert 3 <= len(partial) < 20
    with pytest.raises(botocore.exceptions.ClientError):
        manifest_bytes(client, bucket)  # killed before its first manifest write

    report = crawl(config(site, endpoint, bucket, tmp_path))
    assert objects(client, bucket) == objects(client, baseline)
    assert manifest_bytes(client, bucket) == manifest_bytes(client, baseline)
    assert sum(r.already_present for r in report.languages.values()) == len(partial)


# -- fault injection: bodies that are cut, dribbled or only partly audio; objects that changed

WETTER = "/IMG/mp3/das_wetter.mp3"  # German's only valid clip
WETTER_KEY = "clips/German/das_wetter.mp3"


def german_crawl(site, endpoint, bucket, tmp_path, **overrides):
    options = dict(languages=["German"], retries=1) | overrides
    return crawl(config(site, endpoint, bucket, tmp_path, **options)).languages["German"]


def skip_of(rep, name: str) -> tuple[str, str]:
    (found,) = [(reason, detail) for url, reason, detail in rep.skipped_items if url.endswith(name)]
    return found


def test_a_body_cut_short_is_retried_and_never_uploaded(site, endpoint, client, tmp_path):
    full = site.language("German").pages[0][0].body
    site.server.routes[WETTER] = [fx.Reply(200, full, truncate_at=834)]  # two whole frames, then closed
    bucket = new_bucket()
    rep = german_crawl(site, endpoint, bucket, tmp_path)

    assert skip_of(rep, "das_wetter.mp3") == (
        "short body", f"{site.base_url}{WETTER}: 834 of {len(full)} bytes (connection closed early)")
    assert site.server.paths().count(WETTER) == 2  # the first attempt and one retry
    assert clip_keys(client, bucket) == set()
    assert s3.read_manifest(client, bucket, PREFIX) == []

    # Cut once, whole the second time: the whole body is uploaded, its row has the whole size.
    site.server.routes[WETTER] = [fx.Reply(200, full, truncate_at=1000), fx.Reply(200, full)]
    rep = german_crawl(site, endpoint, bucket, tmp_path)
    assert rep.uploaded == 1
    assert objects(client, bucket)[WETTER_KEY] == (len(full), fx.md5_hex(full))
    (row,) = s3.read_manifest(client, bucket, PREFIX)
    assert (row["size"], row["md5"]) == (len(full), fx.md5_hex(full))


@pytest.mark.parametrize("junk", [fx.HTML_ERROR_PAGE, bytes(range(256)) * 8], ids=["html", "random"])
def test_mpeg_frames_followed_by_junk_are_not_uploaded(site, endpoint, client, tmp_path, junk):
    site.server.routes[WETTER] = [fx.Reply(200, fx.mp3_then(junk), (("Content-Type", "audio/mpeg"),))]
    bucket = new_bucket()
    rep = german_crawl(site, endpoint, bucket, tmp_path)
    assert skip_of(rep, "das_wetter.mp3") == (
        "not MPEG audio", f"{site.base_url}{WETTER}: not MPEG audio after 2 frames: no frame header at byte 834")
    assert clip_keys(client, bucket) == set()


def test_a_dribbled_body_is_skipped_at_the_deadline(site, endpoint, client, tmp_path):
    """Bytes every 0.1 s, so the 5 s per-read timeout never fires; the 1 s deadline does."""
    site.server.routes[WETTER] = [fx.Reply(200, site.language("German").pages[0][0].body, dribble=(50, 0.1))]
    bucket = new_bucket()
    rep = german_crawl(site, endpoint, bucket, tmp_path, timeout=5.0, deadline=1.0)
    assert skip_of(rep, "das_wetter.mp3") == (
        "deadline exceeded", f"{site.base_url}{WETTER}: not complete within 1 s")
    assert site.server.paths().count(WETTER) == 2
    assert clip_keys(client, bucket) == set()


@pytest.mark.parametrize("change", ["same size, other bytes", "shorter"])
def test_an_object_that_differs_from_its_row_is_fetched_again(site, endpoint, client, tmp_path, change):
    bucket = new_bucket()
    german_crawl(site, endpoint, bucket, tmp_path)
    good = objects(client, bucket), manifest_bytes(client, bucket)
    original = s3.get_bytes(client, bucket, WETTER_KEY)
    damaged = fx.mp3_bytes(99) if change == "same size, other bytes" else original[:-417]  # still valid MPEG
    assert len(damaged) == len(original) if change.startswith("same") else len(damaged) < len(original)
    s3.put_bytes(client, bucket, WETTER_KEY, damaged, "audio/mpeg")
    n_before = len(site.server.requests)

    rep = german_crawl(site, endpoint, bucket, tmp_path)

    assert (rep.uploaded, rep.already_present) == (1, 0)
    again = Counter((r.method, r.path) for r in site.server.requests[n_before:] if r.path.startswith("/IMG/"))
    assert again == Counter([("GET", WETTER), ("GET", "/IMG/mp3/leer.mp3")])  # re-fetched, no HEAD vouching
    assert (objects(client, bucket), manifest_bytes(client, bucket)) == good


# -- failures of listing pages, and the command line ---------------------------------------

def test_failed_listing_pages_are_reported_and_the_crawl_goes_on(site, endpoint, client, tmp_path):
    site.server.routes["/spip.php?rubrique2&lang=en&debut_articles=5"] = [fx.Reply(500)]  # English page 2
    site.server.routes["/spip.php?rubrique1&lang=en"] = [fx.Reply(503)]  # French page 1
    bucket = new_bucket()
    report = crawl(config(site, endpoint, bucket, tmp_path, languages=["English", "French", "German"], retries=1))

    english, french, german = (report.languages[n] for n in ("English", "French", "German"))
    assert (english.pages, english.page_failures, english.found, english.uploaded) == (2, 1, 7, 6)
    assert english.warnings[0] == (f"{site.base_url}/spip.php?rubrique2&lang=en&debut_articles=5: listing page not "
                                   "loaded (http 500: " f"{site.base_url}/spip.php?rubrique2&lang=en&debut_articles=5)"
                                   "; continuing")
    assert (french.pages, french.page_failures, french.found) == (0, 1, 0)
    assert french.warnings == [f"{site.base_url}/spip.php?rubrique1&lang=en: listing page not loaded "
                               f"(http 503: {site.base_url}/spip.php?rubrique1&lang=en); giving up on French"]
    assert german.uploaded == 1
    assert {k.split("/")[1] for k in clip_keys(client, bucket)} == {"English", "German"}
    assert "listing pages FAILED 1" in report.format()


def test_command_line_crawl(site, endpoint, client, tmp_path, capsys):
    from scraper.__main__ import main

    bucket = new_bucket()
    out = tmp_path / "local.jsonl"
    rc = main(["crawl", "--languages", "german", "--bucket", bucket, "--prefix", "clips", "--s3-endpoint", endpoint,
               "--base-url", site.base_url, "--rate", "50", "--manifest-out", str(out), "--no-progress"])
    assert rc == 0
    assert capsys.readouterr().out == (
        "Summary\nGerman: pages 1, found 3, uploaded 1, already present 0, "
        "skipped 2 (not MPEG audio: 1, not http(s): 1)\n")
    assert clip_keys(client, bucket) == {"clips/German/das_wetter.mp3"}
    assert out.read_bytes() == manifest_bytes(client, bucket)

    with pytest.raises(SystemExit) as exit_:
        main(["crawl", "--languages", "Klingon", "--bucket", bucket])
    assert exit_.value.code == 2
