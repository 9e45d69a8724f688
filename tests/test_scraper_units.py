"""Scraper parts on their own: parsing, keys, MPEG validation, the polite fetcher, parse-page."""
from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pytest
import soundfile as sf

from scraper import config as cfg
from scraper.__main__ import main
from scraper.fetch import Fetcher, FetchError, parse_retry_after
from scraper.keys import MAX_NAME_LENGTH, object_key, sanitize_file_name
from scraper.parse import parse_listing, parse_size_kb
from scraper.validate import frame_length, mpeg_problem
from tests.helpers import scraper_fixtures as fx

BASE = "https://www.audio-lingua.eu"
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*\.mp3$"


# -- parsing ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalogue():
    return {lang.name: lang for lang in fx.build_site("localhost:1")}


def test_parse_listing_reads_only_resource_items(catalogue):
    english = catalogue["English"]
    url = f"{BASE}/spip.php?rubrique2&lang=en"
    page = parse_listing(fx.listing_html(english, 0), url)

    assert page.total == 12
    assert page.offsets == [5, 10]
    assert page.warnings == []
    # 5 resources; the Top Ten sidebar and the footer list (no downloads) are ignored, and the
    # share link (first link of each item) is not taken for the file.
    assert [i.mp3_url for i in page.items] == [
        f"{BASE}/IMG/mp3/the_weather.mp3",
        f"{BASE}/IMG/mp3/my_family.mp3",
        f"{BASE}/IMG/mp3/missing.mp3",
        f"{BASE}/IMG/mp3/busy.mp3",
        f"{BASE}/IMG/mp3/slow_down.mp3",
    ]
    first = page.items[0].as_json()
    assert first == {
        "mp3_url": f"{BASE}/IMG/mp3/the_weather.mp3",
        "article_url": f"{BASE}/spip.php?article101",
        "title": "The weather",
        "speaker_id": "925",
        "speaker_name": "Tristan (Yvelines, France)",
        "date": "2021-03-04T10:15:00Z",
        "tags": ["A1", "Female", "Adult", "0-30 seconds", "Weather"],
        "size_kb": 3.0,
    }


def test_parse_listing_warns_about_missing_parts_and_keeps_the_item(catalogue):
    url = f"{BASE}/spip.php?rubrique1&lang=en&debut_articles=5"
    page = parse_listing(fx.listing_html(catalogue["French"], 1), url)
    marche = [i for i in page.items if i.mp3_url.endswith("le_marche.mp3")]
    assert len(marche) == 1 and marche[0].speaker_id is None and marche[0].title == "Le marché"
    assert page.warnings == [f"{url}: item 3 (IMG/mp3/le_marche.mp3): missing speaker (span.authors a.url.fn)"]


def test_parse_listing_of_a_changed_page_warns_with_the_page_and_what_is_missing(catalogue):
    url = f"{BASE}/spip.php?rubrique4&lang=en&debut_articles=5"
    page = parse_listing(fx.listing_html(catalogue["Spanish"], 1), url)
    assert page.items == [] and page.total is None and page.offsets == []
    assert page.warnings == [
        f"{url}: no 'N Resources' heading (h2); trying every item list",
        f"{url}: no resource items (li.item > article with div.download a[href])",
    ]


def test_parse_item_without_download_in_the_resource_list_is_reported():
    html = """<h2> 2 Resources</h2><ul class="liste-items">
      <li class="item"><article><strong class="entry-title">No file</strong></article></li>
      <li class="item"><article><div class="download"><a href="IMG/mp3/x.mp3">x</a></div></article></li></ul>"""
    page = parse_listing(html, f"{BASE}/p")
    assert [i.mp3_url for i in page.items] == [f"{BASE}/IMG/mp3/x.mp3"]
    assert page.warnings[0] == f"{BASE}/p: item 1: missing download link (div.download a[href])"
    assert "item 2 (IMG/mp3/x.mp3): missing title (strong.entry-title), speaker" in page.warnings[1]


@pytest.mark.parametrize(
    "text, kb", [("324 kb", 324.0), ("1,5 Mb", 1536.0), ("2048 b", 2.0), ("n/a", None), (None, None)])
def test_parse_size_kb(text, kb):
    assert parse_size_kb(text) == kb


def test_parse_page_command_prints_json_lines(tmp_path, capsys, catalogue):
    page_file = tmp_path / "english.html"
    page_file.write_bytes(fx.listing_html(catalogue["English"], 1))
    url = f"{BASE}/spip.php?rubrique2&lang=en&debut_articles=5"

    assert main(["parse-page", str(page_file), "--base-url", url]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["title"] for r in rows] == ["Elsewhere", "Hobbies", "Secret", "Breakfast", "School"]
    assert rows[0]["mp3_url"].startswith("http://localhost:1/")  # absolute links stay as they are
    assert rows[2]["mp3_url"] == f"{BASE}/IMG/private/secret.mp3"
    assert {"mp3_url", "article_url", "title", "speaker_id", "speaker_name", "date", "tags", "size_kb"} == set(rows[1])
    assert rows[1]["speaker_id"] == "932" and isinstance(rows[1]["tags"], list)


# -- keys ---------------------------------------------------------------------------------

def test_clean_names_are_kept():
    assert sanitize_file_name("les_sports.mp3") == "les_sports.mp3"
    assert object_key("raw/", "French", f"{BASE}/IMG/mp3/les_sports.mp3") == "raw/French/les_sports.mp3"


@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd", "..", ".mp3", "", "a/b\\c.mp3", "evil\x00\n\r\x1b.mp3", "\u202eevil.mp3",
     "x" * 500 + ".mp3", "année.MP3", "  spaced out .mp3", "-rf.mp3", "…….mp3"],
)
def test_hostile_names_become_safe_bounded_keys(raw):
    name = sanitize_file_name(raw)
    assert re.match(SAFE_NAME, name), name
    assert ".." not in name and "/" not in name and "\\" not in name
    assert len(name) <= MAX_NAME_LENGTH
    assert sanitize_file_name(raw) == name  # deterministic


def test_different_hostile_names_do_not_collide():
    names = {sanitize_file_name(raw) for raw in ["a/b.mp3", "a\\b.mp3", "a b.mp3", "a?b.mp3", "a_b.mp3"]}
    assert len(names) == 5


def test_object_key_from_a_hostile_url_stays_in_the_language_folder():
    key = object_key("p/", "French", f"{BASE}/IMG/mp3/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd%00.mp3")
    assert key.startswith("p/French/") and key.count("/") == 2 and ".." not in key


def test_languages_and_prefix():
    assert cfg.resolve_languages("english, FRENCH,English") == ["English", "French"]
    assert cfg.resolve_languages("mandarin") == ["Chinese"]
    assert cfg.resolve_languages(None) == list(cfg.LANGUAGE_IDS)
    with pytest.raises(ValueError, match="unknown language 'Klingon'"):
        cfg.resolve_languages("English,Klingon")
    assert [cfg.normalise_prefix(p) for p in ("", "raw", "/raw/", "a/b")] == ["", "raw/", "raw/", "a/b/"]
    assert cfg.listing_url(BASE, 2) == f"{BASE}/spip.php?rubrique2&lang=en"
    assert cfg.listing_url(BASE + "/", 9, 10) == f"{BASE}/spip.php?rubrique9&lang=en&debut_articles=10"
    assert cfg.DEFAULT_RATE == 1.0  # about one request a second per host unless told otherwise


# -- MPEG validation ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoded_mp3() -> bytes:
    """A real encoder's MP3 (libsndfile's LAME): Xing/Info frame, VBR frames of several lengths."""
    buf = io.BytesIO()
    t = np.arange(2 * 16000) / 16000
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 440 * t), 16000, format="MP3")
    return buf.getvalue()


def _frame_offsets(data: bytes) -> list[int]:
    """Where the frames of a complete encoder output start (header arithmetic only)."""
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        length = frame_length(data, pos)
        assert length, pos
        pos += length
    return offsets


def test_valid_mpeg_bodies_pass(encoded_mp3):
    assert mpeg_problem(fx.mp3_bytes(1)) is None
    assert mpeg_problem(fx.mp3_bytes(2, id3=True)) is None
    assert sf.info(io.BytesIO(encoded_mp3)).duration == pytest.approx(2.0, abs=0.1)  # it is real audio
    assert mpeg_problem(encoded_mp3) is None
    id3v1 = b"TAG" + b"title".ljust(30, b"\0") + bytes(95)
    assert mpeg_problem(encoded_mp3 + id3v1) is None  # a tag at the end is not junk
    assert mpeg_problem(fx.mp3_bytes(3, id3=True) + id3v1) is None


def test_demo_mp3s_all_pass():
    """Every MP3 in data/demo (espeak through LAME) passes: the walk rejects no real file."""
    demo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")
    paths = [os.path.join(d, f) for d, _, files in os.walk(demo) for f in files if f.endswith(".mp3")]
    assert len(paths) >= 100
    problems = {p: mpeg_problem(open(p, "rb").read()) for p in paths}
    assert {p: why for p, why in problems.items() if why} == {}


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"", "empty body"),
        (fx.HTML_ERROR_PAGE, "HTML/XML document, not audio"),
        (b"  \n<html><body>oops</body></html>", "HTML/XML document, not audio"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(100), "no MPEG frame header at byte 0"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x04abcd", "ID3 tag but no audio after it"),
        (b"ID3\x03\x00\x00\x80\x00\x00\x04abcd", "malformed ID3 tag header"),
        (fx.FRAME_HEADER + bytes(fx.FRAME_LENGTH - 4) + b"GARBAGE!" * 10,
         "not MPEG audio after 1 frames: no frame header at byte 417"),
        # Two valid frames, then an HTML page or random bytes: the case.
        (fx.mp3_then(fx.HTML_ERROR_PAGE), "not MPEG audio after 2 frames: no frame header at byte 834"),
        (fx.mp3_then(np.random.default_rng(0).bytes(5000)),
         "not MPEG audio after 2 frames: no frame header at byte 834"),
        (fx.mp3_then(fx.mp3_bytes(5, frames=3)[:-100], frames=4),
         "truncated MPEG frame at byte 2502 after 6 frames (317 of 417 bytes)"),
        (fx.FRAME_HEADER + bytes(100), "truncated MPEG frame at byte 0 after 0 frames (104 of 417 bytes)"),
        # A frame of another stream (48 kHz instead of 44.1 kHz) in the middle is junk.
        (fx.mp3_bytes(6, frames=2) + bytes.fromhex("FFFB9464") + bytes(380) + fx.mp3_bytes(6, frames=2),
         "not MPEG audio after 2 frames: no frame header at byte 834"),
    ],
    ids=["empty", "html", "html-spaced", "wav", "id3-only", "id3-bad", "frame-garbage", "frames-html",
         "frames-random", "last-frame-cut", "one-cut-frame", "other-stream"],
)
def test_non_mpeg_bodies_are_rejected(body, problem):
    assert mpeg_problem(body) == problem


def test_every_cut_of_a_real_mp3_is_rejected_but_the_last_frame(encoded_mp3):
    """Cut anywhere: inside a frame (the walk), or on a frame boundary (the Xing frame count),
    except just before the last frame, which no structure can tell from a shorter file."""
    offsets = _frame_offsets(encoded_mp3)
    passing = [n for n in range(1, len(encoded_mp3)) if mpeg_problem(encoded_mp3[:n]) is None]
    assert passing == [offsets[-1]]
    assert mpeg_problem(encoded_mp3[:offsets[len(offsets) // 2]]).startswith("truncated: ")


# -- the fetcher against a local server ---------------------------------------------------

@pytest.fixture
def server():
    s = fx.FixtureServer().start()
    s.routes["/robots.txt"] = [fx.Reply(200, b"User-agent: *\nDisallow: /private/\n")]
    yield s
    s.stop()


def make_fetcher(base_url: str, **overrides) -> Fetcher:
    options = dict(user_agent=cfg.user_agent("ops@example.org"), rate=100.0, timeout=2.0, retries=3,
                   backoff=0.01, backoff_max=0.05, max_retry_after=5.0)
    options.update(overrides)
    return Fetcher(base_url, **options)


def test_retries_5xx_then_succeeds_and_sends_a_clear_user_agent(server):
    server.routes["/a.mp3"] = [fx.Reply(503), fx.Reply(502), fx.Reply(200, b"ok")]
    assert make_fetcher(server.base_url).get(server.base_url + "/a.mp3", 100) == b"ok"
    assert server.paths() == ["/robots.txt", "/a.mp3", "/a.mp3", "/a.mp3"]
    agents = {r.user_agent for r in server.requests}
    assert agents == {f"langid-tfx-scraper/{__import__('scraper').__version__} "
                      "(research crawler for spoken-language identification; contact: ops@example.org)"}


def test_gives_up_after_the_retries_with_the_last_status(server):
    server.routes["/down"] = [fx.Reply(503)]
    with pytest.raises(FetchError) as err:
        make_fetcher(server.base_url, retries=2).get(server.base_url + "/down", 100)
    assert err.value.reason == "http 503"
    assert server.paths().count("/down") == 3


def test_404_is_not_retried(server):
    with pytest.raises(FetchError) as err:
        make_fetcher(server.base_url).get(server.base_url + "/nothing.mp3", 100)
    assert err.value.reason == "http 404"
    assert server.paths().count("/nothing.mp3") == 1


def test_retry_after_is_honoured_for_the_whole_host(server):
    """No race between a timer and a request: the other thread starts only once the 429 has
    deferred the host (an event set by the limiter's own defer), and the checks compare the
    server's arrival times with each other and with that moment, as lower bounds only."""
    server.routes["/busy"] = [fx.Reply(429, b"", (("Retry-After", "1"),)), fx.Reply(200, b"fine")]
    server.routes["/other"] = [fx.Reply(200, b"other")]
    fetcher = make_fetcher(server.base_url)
    fetcher.robots()
    deferred, deferred_at = threading.Event(), []
    real_defer = fetcher.limiter.defer

    def defer_and_tell(host, seconds):
        deferred_at.append(time.monotonic())  # before the limiter reads its clock: a lower bound
        real_defer(host, seconds)
        deferred.set()

    fetcher.limiter.defer = defer_and_tell
    results = {}
    busy_thread = threading.Thread(target=lambda: results.update(busy=fetcher.get(server.base_url + "/busy", 100)))
    busy_thread.start()
    assert deferred.wait(30), "the 429 never deferred the host"
    results["other"] = fetcher.get(server.base_url + "/other", 100)  # this thread, after the defer
    busy_thread.join(30)
    assert results == {"busy": b"fine", "other": b"other"}
    busy = [r.t for r in server.requests if r.path == "/busy"]
    (other_t,) = [r.t for r in server.requests if r.path == "/other"]
    assert len(busy) == 2 and busy[1] - busy[0] >= 0.95
    assert other_t - deferred_at[0] >= 0.95  # another thread's request to the host waited too
    assert other_t - busy[0] >= 0.95


def test_retry_after_beyond_the_cap_gives_up(server):
    server.routes["/later"] = [fx.Reply(429, b"", (("Retry-After", "3600"),))]
    with pytest.raises(FetchError, match="Retry-After 3600 s is over the cap") as err:
        make_fetcher(server.base_url).get(server.base_url + "/later", 100)
    assert err.value.reason == "http 429"


def test_retry_after_http_date():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None


def test_timeouts_are_retried(server):
    server.routes["/slow"] = [fx.Reply(200, b"late", delay=1.0), fx.Reply(200, b"quick")]
    assert make_fetcher(server.base_url, timeout=0.3).get(server.base_url + "/slow", 100) == b"quick"
    assert server.paths().count("/slow") == 2


def test_short_body_is_retried_and_the_whole_body_returned(server):
    full = fx.mp3_bytes(7)
    server.routes["/cut.mp3"] = [fx.Reply(200, full, truncate_at=1000), fx.Reply(200, full)]
    assert make_fetcher(server.base_url).get(server.base_url + "/cut.mp3", 10_000) == full
    assert server.paths().count("/cut.mp3") == 2


def test_a_body_always_short_is_never_returned(server):
    server.routes["/cut.mp3"] = [fx.Reply(200, fx.mp3_bytes(8), truncate_at=834)]  # two whole frames of six
    with pytest.raises(FetchError) as err:
        make_fetcher(server.base_url, retries=2).get(server.base_url + "/cut.mp3", 10_000)
    assert err.value.reason == "short body"
    assert err.value.detail.endswith("834 of 2502 bytes (connection closed early)")
    assert server.paths().count("/cut.mp3") == 3


def test_a_dribbled_body_fails_at_the_deadline_even_though_each_read_is_quick(server):
    """50 bytes every 0.1 s: never a 2 s gap between bytes, but 5 s for the whole body."""
    body = fx.mp3_bytes(9)
    server.routes["/drip.mp3"] = [fx.Reply(200, body, dribble=(50, 0.1))]
    server.routes["/fast.mp3"] = [fx.Reply(200, body)]
    fetcher = make_fetcher(server.base_url, timeout=2.0, deadline=1.0, retries=1)
    with pytest.raises(FetchError) as err:
        fetcher.get(server.base_url + "/drip.mp3", 10_000)
    assert err.value.reason == "deadline exceeded"
    assert "not complete within 1 s" in err.value.detail
    assert server.paths().count("/drip.mp3") == 2  # retried once, cut off both times
    # Ended by the deadline, not waited out: the server saw the client hang up mid-body, twice.
    for _ in range(100):  # the server notices at its next write, at most 0.1 s later
        if len(server.hangups) >= 2:
            break
        time.sleep(0.1)
    assert [path for path, _ in server.hangups] == ["/drip.mp3"] * 2
    assert all(sent < len(body) for _, sent in server.hangups)
    assert fetcher.get(server.base_url + "/fast.mp3", 10_000) == body  # the deadline bounds, not breaks


def test_deadline_flag_reaches_the_config():
    from scraper.__main__ import _config, build_parser

    args = build_parser().parse_args(["crawl", "--bucket", "b", "--deadline", "7.5"])
    assert _config(args).deadline == 7.5
    default = build_parser().parse_args(["crawl", "--bucket", "b"])
    assert _config(default).deadline == cfg.DEFAULT_DEADLINE == cfg.CrawlConfig("b", ["English"]).deadline


def test_backoff_is_exponential_with_jitter():
    fetcher = make_fetcher("http://127.0.0.1:9", backoff=1.0, backoff_max=8.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = {fetcher._backoff(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


def test_size_cap_with_and_without_content_length(server):
    server.routes["/big"] = [fx.Reply(200, bytes(5000))]
    server.routes["/stream"] = [fx.Reply(200, bytes(300_000), content_length=False)]
    fetcher = make_fetcher(server.base_url)
    with pytest.raises(FetchError, match="Content-Length 5000 > cap 4096") as err:
        fetcher.get(server.base_url + "/big", 4096)
    assert err.value.reason == "too large"
    with pytest.raises(FetchError, match="more than the 65536-byte cap") as err:
        fetcher.get(server.base_url + "/stream", 65536)
    assert err.value.reason == "too large"
    assert fetcher.get(server.base_url + "/big", 5000) == bytes(5000)


def test_only_http_links_on_the_configured_host(server):
    other = fx.FixtureServer().start()
    try:
        fetcher = make_fetcher(server.base_url)
        for url, reason in [
            (f"{other.base_url}/x.mp3", "off-host link"),  # same address, other port
            (f"http://localhost:{server.port}/x.mp3", "off-host link"),
            (f"http://user@127.0.0.1:{server.port}/x.mp3", "off-host link"),
            ("ftp://127.0.0.1/x.mp3", "not http(s)"),
            ("javascript:alert(1)", "not http(s)"),
            ("file:///etc/passwd", "not http(s)"),
            (f"{server.base_url}/private/x.mp3", "robots.txt disallows"),
        ]:
            with pytest.raises(FetchError) as err:
                fetcher.get(url, 100)
            assert err.value.reason == reason, url
        assert other.requests == []
        assert server.paths() == ["/robots.txt"]
    finally:
        other.stop()


def test_redirects_are_checked_like_links(server):
    other = fx.FixtureServer().start()
    try:
        server.routes["/moved"] = [fx.Reply(302, b"", (("Location", "/here"),))]
        server.routes["/here"] = [fx.Reply(200, b"arrived")]
        server.routes["/away"] = [fx.Reply(301, b"", (("Location", f"{other.base_url}/x"),))]
        fetcher = make_fetcher(server.base_url)
        assert fetcher.get(server.base_url + "/moved", 100) == b"arrived"
        with pytest.raises(FetchError) as err:
            fetcher.get(server.base_url + "/away", 100)
        assert err.value.reason == "off-host link"
        assert other.requests == []
    finally:
        other.stop()


def test_robots_unavailable_means_disallowed_and_missing_means_allowed():
    s = fx.FixtureServer().start()
    try:
        s.routes["/robots.txt"] = [fx.Reply(503)]
        with pytest.raises(FetchError) as err:
            make_fetcher(s.base_url, retries=1).get(s.base_url + "/a", 100)
        assert err.value.reason == "robots.txt disallows"
        del s.routes["/robots.txt"]  # now a 404: no rules
        s.routes["/a"] = [fx.Reply(200, b"a")]
        assert make_fetcher(s.base_url).get(s.base_url + "/a", 100) == b"a"
    finally:
        s.stop()


def test_robots_crawl_delay_slows_the_rate(server):
    server.routes["/robots.txt"] = [fx.Reply(200, b"User-agent: langid-tfx-scraper\nCrawl-delay: 1\n")]
    server.routes["/a"] = [fx.Reply(200, b"a")]
    fetcher = make_fetcher(server.base_url, rate=100.0)
    for _ in range(2):
        fetcher.get(server.base_url + "/a", 100)
    times = [r.t for r in server.requests if r.path == "/a"]
    assert times[1] - times[0] >= 0.95


def test_rate_limit_holds_across_threads(server):
    server.routes["/a"] = [fx.Reply(200, b"a")]
    fetcher = make_fetcher(server.base_url, rate=10.0)
    fetcher.robots()
    threads = [threading.Thread(target=lambda: [fetcher.get(server.base_url + "/a", 10) for _ in range(3)])
               for _ in range(3)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = sorted(r.t for r in server.requests if r.path == "/a")
    assert len(times) == 9
    # 9 slots 0.1 s apart span 0.8 s. Arrival times jitter under load (one request late, the
    # next on time), so no single gap is checked: the span, with one interval of slack. Three
    # threads each limited on their own would span 0.2 s.
    assert times[-1] - times[0] >= 0.7
    assert time.monotonic() - start >= 0.8
