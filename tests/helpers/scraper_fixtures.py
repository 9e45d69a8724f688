"""A fake audio-lingua on 127.0.0.1 for the scraper tests, and an embedded S3 (moto).

S3 is the project's embedded moto server (storage.embedded_s3).

The HTML follows the structure described in docs/scraper.md ("How the site is read"):
a "The Top Ten" sidebar of ten `ul.liste-items` links with no downloads, then the
"N Resources" heading and the resource list (`li.item > article`, a share link first, then
title, author `spip.php?auteurN`, date, tags, article URL, `div.download` with the size),
then `div.pagination` with `debut_articles=` offsets and five items a page.

The site has the traps the scraper must handle: a 404, a 503 then 200, a 429 with
Retry-After then 200, a link to another host, a robots.txt-disallowed link, an HTML page and
an empty body behind .mp3 links, two oversized files (with and without Content-Length), a
hostile file name, a javascript: link, a clip listed twice, an item without its author, and a
listing page whose layout changed. Every request is recorded with its arrival time.

Fault injection (`Reply` fields, for the tests that put them on a route): a server that closes
the connection after fewer bytes than its Content-Length (`truncate_at`), one that dribbles the
body a few bytes at a time (`dribble`), and bodies of valid MPEG frames followed by junk
(`mp3_then`). All on 127.0.0.1; a dribble ends when the client hangs up or the body is sent.
"""
from __future__ import annotations

import hashlib
import html
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: every frame is 417 bytes.
FRAME_HEADER = bytes.fromhex("FFFB9064")
FRAME_LENGTH = 417


def mp3_bytes(seed: int, frames: int = 6, id3: bool = False) -> bytes:
    """A small, structurally valid MP3: real frame headers, silent-ish payload unique to seed."""
    payload = seed.to_bytes(4, "big") + bytes(FRAME_LENGTH - 8)
    body = (FRAME_HEADER + payload) * frames
    if id3:  # ID3v2.3 tag with one TIT2 frame and padding, size as a syncsafe integer
        frame = b"TIT2" + (11).to_bytes(4, "big") + b"\x00\x00" + b"\x00fixture01"
        tag_body = frame + bytes(20)
        size = len(tag_body)
        syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
        body = b"ID3\x03\x00\x00" + syncsafe + tag_body + body
    return body


def mp3_then(junk: bytes, frames: int = 2, seed: int = 90) -> bytes:
    """Valid MPEG frames followed by something that is not audio (an HTML page, random bytes)."""
    return mp3_bytes(seed, frames=frames) + junk


HTML_ERROR_PAGE = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Not available</body></html>"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    delay: float = 0.0
    truncate_at: int | None = None  # send only this many body bytes (Content-Length stays full), then close
    dribble: tuple[int, float] | None = None  # (bytes, seconds): send the body this many bytes at a time


@dataclass
class Clip:
    """One listed resource: how the listing shows it and what its link serves."""

    href: str  # as written in div.download, usually relative like IMG/mp3/x.mp3
    title: str
    speaker_id: str | None  # None: the item has no author link
    speaker_name: str
    article: int
    date: str = "2021-03-04T10:15:00Z"
    tags: tuple[str, ...] = ("A1", "Female", "Adult", "0-30 seconds", "Weather")
    size_text: str = "3 kb"
    replies: list[Reply] = field(default_factory=list)  # played in order, the last one repeats
    serve_at: str | None = None  # path the server answers (defaults to "/" + href)
    expect: str = "uploaded"  # or the skip reason the crawl must report
    key_name: str | None = None  # expected file name in S3, when not the link's own

    @property
    def body(self) -> bytes:
        return self.replies[-1].body if self.replies else b""


@dataclass
class Language:
    name: str
    rubrique: int
    pages: list[list[Clip]]  # clips per listing page, as displayed (duplicates included)
    total: int  # what the "N Resources" heading says
    changed_pages: set[int] = field(default_factory=set)  # page indexes served in a changed layout


def _ok(seed: int, **kw) -> list[Reply]:
    return [Reply(200, mp3_bytes(seed, **kw), (("Content-Type", "audio/mpeg"),))]


def build_site(other_host: str) -> list[Language]:
    """The fixture catalogue; other_host is 'localhost:PORT' of a server that must never be hit."""
    english_clips = [
        Clip("IMG/mp3/the_weather.mp3", "The weather", "925", "Tristan (Yvelines, France)", 101, replies=_ok(1)),
        Clip("IMG/mp3/my_family.mp3", "My family", "925", "Tristan (Yvelines, France)", 102, replies=_ok(2)),
        Clip("IMG/mp3/missing.mp3", "Missing file", "930", "Ann (Leeds, UK)", 103, replies=[Reply(404, b"Not found")],
             expect="http 404"),
        Clip("IMG/mp3/busy.mp3", "Busy server", "930", "Ann (Leeds, UK)", 104,
             replies=[Reply(503, b"busy")] + _ok(3)),
        Clip("IMG/mp3/slow_down.mp3", "Slow down", "931", "Bob (Ohio, USA)", 105,
             replies=[Reply(429, b"too many", (("Retry-After", "1"),))] + _ok(4)),
        Clip(f"http://{other_host}/IMG/mp3/elsewhere.mp3", "Elsewhere", "931", "Bob (Ohio, USA)", 106,
             replies=_ok(5), serve_at="/IMG/mp3/elsewhere.mp3", expect="off-host link"),
        Clip("IMG/mp3/hobbies.mp3", "Hobbies", "932", "Cara (Dublin, Ireland)", 107, replies=_ok(6, id3=True)),
        Clip("IMG/private/secret.mp3", "Secret", "932", "Cara (Dublin, Ireland)", 108, replies=_ok(7),
             expect="robots.txt disallows"),
        Clip("IMG/mp3/breakfast.mp3", "Breakfast", "933", "Dan (Perth, Australia)", 109, replies=_ok(8)),
        Clip("IMG/mp3/school.mp3", "School", "933", "Dan (Perth, Australia)", 110, replies=_ok(9)),
        Clip("IMG/mp3/holidays.mp3", "Holidays", "925", "Tristan (Yvelines, France)", 111, replies=_ok(10)),
        Clip("IMG/mp3/music.mp3", "Music", "934", "Eve (Cork, Ireland)", 112, replies=_ok(11)),
    ]
    hostile = "IMG/mp3/%2E%2E%2F%2E%2E%2Fetc%2Fcron.d%2F%0Aevil%00name%E2%80%AE.mp3"
    french_clips = [
        Clip("IMG/mp3/les_sports.mp3", "Les sports", "101", "Tristan (Yvelines, France)", 201,
             size_text="324 kb", replies=_ok(21)),
        Clip("IMG/mp3/page_erreur.mp3", "Page d'erreur", "102", "Julie (Lyon, France)", 202,
             replies=[Reply(200, HTML_ERROR_PAGE, (("Content-Type", "text/html; charset=utf-8"),))],
             expect="not MPEG audio"),
        Clip("IMG/mp3/enorme.mp3", "Énorme", "102", "Julie (Lyon, France)", 203,
             replies=_ok(23, frames=300), expect="too large"),
        Clip(hostile, "Nom hostile", "103", "Marc (Nantes, France)", 204, replies=_ok(24),
             key_name="etc_cron.d_evil_name-c070653f.mp3"),
        Clip("IMG/mp3/la_cuisine.mp3", "La cuisine", "103", "Marc (Nantes, France)", 205, replies=_ok(25)),
    ]
    french_more = [
        Clip("IMG/mp3/enorme_flux.mp3", "Énorme flux", "104", "Léa (Paris, France)", 206,
             replies=[Reply(200, mp3_bytes(26, frames=300), content_length=False)], expect="too large"),
        Clip("IMG/mp3/le_marche.mp3", "Le marché", None, "", 207, replies=_ok(27)),
        Clip("IMG/mp3/mon_quartier.mp3", "Mon quartier", "104", "Léa (Paris, France)", 208, replies=_ok(28)),
    ]
    german = [
        Clip("IMG/mp3/das_wetter.mp3", "Das Wetter", "301", "Jonas (Bayern, Deutschland)", 301, replies=_ok(31)),
        Clip("javascript:alert(1)", "Skript", "301", "Jonas (Bayern, Deutschland)", 302, replies=[],
             serve_at="/never", expect="not http(s)"),
        Clip("IMG/mp3/leer.mp3", "Leer", "302", "Mia (Berlin, Deutschland)", 303,
             replies=[Reply(200, b"", (("Content-Type", "audio/mpeg"),))], expect="not MPEG audio"),
    ]
    spanish = [
        Clip(f"IMG/mp3/el_tiempo_{i}.mp3", f"El tiempo {i}", str(400 + i % 2), "Lucía (Madrid, España)", 400 + i,
             replies=_ok(40 + i))
        for i in range(5)
    ]
    return [
        Language("English", 2, [english_clips[0:5], english_clips[5:10], english_clips[10:12]], total=12),
        # The last clip of page 1 is listed again on page 2 (new articles shift the listing).
        Language("French", 1, [french_clips, [french_clips[4]] + french_more], total=8),
        Language("German", 3, [german], total=3),
        # Page 2 comes back in a layout the parser does not know: warnings, no items, crawl goes on.
        Language("Spanish", 4, [spanish, []], total=7, changed_pages={1}),
    ]


ROBOTS_TXT = b"User-agent: *\nDisallow: /IMG/private/\n"


def _top_ten() -> str:
    items = "".join(
        f'<li class="item"><article class="entry"><a href="spip.php?article{900 + i}&amp;lang=en">'
        f'<strong class="entry-title">Top clip {i}</strong></a></article></li>'
        for i in range(10)
    )
    return f'<aside class="top"><h2>The Top Ten</h2><ul class="liste-items">{items}</ul></aside>'


def _item_html(clip: Clip) -> str:
    e = html.escape
    author = (
        f'<span class="authors">by <span class="vcard author"><a class="url fn spip_in" '
        f'href="spip.php?auteur{clip.speaker_id}&amp;lang=en">{e(clip.speaker_name)}</a></span></span>'
        if clip.speaker_id is not None
        else ""
    )
    tags = ", ".join(
        f'<a href="spip.php?mot{n}&amp;lang=en" rel="tag">{e(t)}</a>' for n, t in enumerate(clip.tags, 1)
    )
    return f"""
<li class="item"><article class="entry hentry">
  <div class="share"><a class="share-facebook" target="_blank"
     href="https://www.facebook.com/sharer.php?u=https%3A%2F%2Fwww.audio-lingua.eu%2Fspip.php%3Farticle{clip.article}">Share</a></div>
  <header class="entry-header"><h3 class="h3"><a href="spip.php?article{clip.article}&amp;lang=en">
    <strong class="entry-title">{e(clip.title)}</strong></a></h3></header>
  <div class="postmeta">{author}
    <time class="updated" datetime="{clip.date}">4 March 2021</time>
    <span class="tags">{tags}</span></div>
  <audio controls src="{e(clip.href)}"></audio>
  <p class="url_ressource">URL : <a href="spip.php?article{clip.article}">spip.php?article{clip.article}</a></p>
  <div class="download"><dl class="spip_document"><dt><a href="{e(clip.href)}" type="audio/mpeg">Download</a></dt>
    <dd class="spip_doc_descriptif">{e(clip.size_text)}</dd></dl></div>
</article></li>"""


def _pagination(lang: Language, index: int) -> str:
    last = len(lang.pages) - 1
    parts = []
    for n in range(last + 1):
        if n == index:
            parts.append(f'<strong class="on">{n + 1}</strong>')
        elif abs(n - index) <= 1 or n == last:  # a window around the current page, and the last page
            parts.append(
                f'<a href="spip.php?rubrique{lang.rubrique}&amp;lang=en&amp;debut_articles={n * 5}#pagination_articles"'
                f' class="lien_pagination" rel="nofollow">{n + 1}</a>'
            )
    if index < last:
        parts.append(
            f'<a href="spip.php?rubrique{lang.rubrique}&amp;lang=en&amp;debut_articles={(index + 1) * 5}'
            f'#pagination_articles" class="lien_pagination suivant" rel="next">Next &gt;</a>'
        )
    return f'<div class="pagination"><p class="pagination">{" | ".join(parts)}</p></div>'


def listing_html(lang: Language, index: int) -> bytes:
    if index in lang.changed_pages:
        body = (f'<div class="resultats"><h3>{lang.total} results</h3>'
                '<div class="fiche"><a href="IMG/mp3/new_layout.mp3">new layout</a></div></div>')
    else:
        items = "".join(_item_html(c) for c in lang.pages[index])
        body = (f'<h2> {lang.total} Resources</h2><ul class="liste-items">{items}</ul>'
                f'{_pagination(lang, index)}')
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{lang.name} - Audio Lingua</title></head>
<body><header><a href="https://twitter.com/audiolingua">Follow us</a></header>
{_top_ten()}
<main class="content"><h1>{lang.name}</h1>{body}</main>
<footer><ul class="liste-items"><li class="item"><article><a href="spip.php?article1">About</a>
</article></li></ul></footer>
</body></html>"""
    return page.encode("utf-8")


def listing_path(rubrique: int, offset: int) -> str:
    path = f"/spip.php?rubrique{rubrique}&lang=en"
    return path + (f"&debut_articles={offset}" if offset else "")


@dataclass
class Request:
    t: float  # time.monotonic() on arrival
    method: str
    path: str
    user_agent: str


class FixtureServer:
    """ThreadingHTTPServer on 127.0.0.1 port 0 answering from a route table, logging requests.

    Paths are compared percent-decoded (clients may or may not re-encode '.' and the like).
    """

    def __init__(self):
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        self.hangups: list[tuple[str, int]] = []  # (path, bytes sent) of dribbles the client cut off
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self, with_body: bool) -> None:
                path = urllib.parse.unquote(self.path)
                with server._lock:
                    server.requests.append(
                        Request(time.monotonic(), self.command, path, self.headers.get("User-Agent", ""))
                    )
                    replies = server.routes.get(path)
                    if replies is None:
                        reply = Reply(404, b"<html><body>404</body></html>")
                    else:
                        n = server._served.get(path, 0)
                        if with_body:  # a HEAD does not use up a scripted reply
                            server._served[path] = n + 1
                        reply = replies[min(n, len(replies) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    if reply.content_length:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if with_body:
                        self._send_body(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, deadline): fine
                if reply.truncate_at is not None:
                    self.close_connection = True  # the rest of the body never comes

            def _send_body(self, reply: Reply) -> None:
                body = reply.body if reply.truncate_at is None else reply.body[:reply.truncate_at]
                if reply.dribble is None:
                    self.wfile.write(body)
                    return
                step, pause = reply.dribble
                for start in range(0, len(body), step):
                    try:
                        self.wfile.write(body[start:start + step])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        with server._lock:
                            server.hangups.append((urllib.parse.unquote(self.path), start))
                        raise
                    time.sleep(pause)

            def do_GET(self):
                self._answer(True)

            def do_HEAD(self):
                self._answer(False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self, method: str = "GET") -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if r.method == method]


@dataclass
class Site:
    server: FixtureServer
    other: FixtureServer  # the "other host"; must receive nothing
    languages: list[Language]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def language(self, name: str) -> Language:
        return next(lang for lang in self.languages if lang.name == name)

    def listing_paths(self, name: str) -> list[str]:
        lang = self.language(name)
        return [listing_path(lang.rubrique, 5 * i) for i in range(len(lang.pages))]

    def clips(self, name: str) -> list[Clip]:
        """The distinct clips of a language, in listing order."""
        seen, out = set(), []
        for page in self.language(name).pages:
            for clip in page:
                if id(clip) not in seen:
                    seen.add(id(clip))
                    out.append(clip)
        return out


def serve_site() -> Site:
    other = FixtureServer().start()
    server = FixtureServer()
    languages = build_site(f"localhost:{other.port}")
    server.routes["/robots.txt"] = [Reply(200, ROBOTS_TXT, (("Content-Type", "text/plain"),))]
    for lang in languages:
        for index in range(len(lang.pages)):
            server.routes[listing_path(lang.rubrique, 5 * index)] = [
                Reply(200, listing_html(lang, index), (("Content-Type", "text/html; charset=utf-8"),))
            ]
        for page in lang.pages:
            for clip in page:
                if clip.replies:
                    path = urllib.parse.unquote(clip.serve_at or "/" + clip.href)
                    server.routes[path] = clip.replies
                    other.routes[path] = clip.replies
    return Site(server.start(), other, languages)


@contextmanager
def site():
    s = serve_site()
    try:
        yield s
    finally:
        s.server.stop()
        s.other.stop()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def moto_s3():
    """An S3 endpoint on 127.0.0.1 (moto's server, via the project's storage.embedded_s3)."""
    from storage.embedded_s3 import embedded_s3

    return embedded_s3()


def expected_rows(site: Site, prefix: str = "") -> dict[str, dict]:
    """The manifest rows a complete crawl of the fixture site must produce, by key."""
    rows = {}
    for lang in site.languages:
        for clip in site.clips(lang.name):
            if clip.expect != "uploaded":
                continue
            key = f"{prefix}{lang.name}/{clip.key_name or clip.href.rsplit('/', 1)[-1]}"
            rows[key] = {
                "key": key,
                "language": lang.name,
                "speaker_id": clip.speaker_id or "",
                "speaker_name": clip.speaker_name or None,
                "title": clip.title,
                "date": clip.date,
                "tags": list(clip.tags),
                "size_kb": float(clip.size_text.split()[0]),
                "mp3_url": f"{site.base_url}/{clip.href}",
                "article_url": f"{site.base_url}/spip.php?article{clip.article}",
                "size": len(clip.body),
                "md5": md5_hex(clip.body),
            }
    return rows
