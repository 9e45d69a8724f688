"""A polite HTTP fetcher: one host, robots.txt, a rate limit, retries, a size cap.
(One module: each rule below guards the same request path, and splitting it would scatter them.)

Every request the scraper makes (robots.txt, listing pages, HEADs, clips) goes through
`Fetcher`, so the politeness and safety rules hold everywhere:
- only http(s) URLs on the configured host, redirects included (they are followed by hand);
- robots.txt of that host is read once and honoured, its Crawl-delay included;
- at most `rate` requests a second to the host, across all threads;
- timeouts, connection errors, 429 and 5xx are retried with exponential backoff and jitter,
  and a Retry-After header is honoured (the whole host waits, not just one thread);
- a body is streamed and abandoned as soon as it exceeds the size cap;
- a body shorter than its Content-Length (the server closed early) is a failed attempt, retried;
- every attempt has an overall deadline, from the request to the last body byte: a server
  that dribbles bytes (each read within `timeout`) is cut off when the deadline passes.
"""
from __future__ import annotations

import email.utils
import logging
import random
import socket
import threading
import time
import urllib.parse
import urllib.robotparser
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class FetchError(Exception):
    """A URL that could not (or must not) be fetched; `reason` is a short stable label."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]  # case-insensitive (requests' CaseInsensitiveDict)
    body: bytes


class RateLimiter:
    """Spaces request starts at least `1/rate` seconds apart per host, across threads.

    A caller reserves the next free slot under the lock and sleeps outside it, so waiting
    threads queue in order without holding the lock. `defer` (Retry-After, backoff) blocks
    the host; a thread that wakes up inside a block that began while it slept waits again.
    """

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._blocked: dict[str, float] = {}
        self._min_interval: dict[str, float] = {}

    def set_min_interval(self, host: str, seconds: float) -> None:
        """Never go faster than this for host (robots.txt Crawl-delay)."""
        with self._lock:
            self._min_interval[host] = seconds

    def defer(self, host: str, seconds: float) -> None:
        """No request to host before `seconds` from now."""
        with self._lock:
            self._blocked[host] = max(self._blocked.get(host, 0.0), self._clock() + seconds)

    def wait(self, host: str) -> None:
        while True:
            with self._lock:
                now = self._clock()
                slot = max(now, self._next.get(host, now), self._blocked.get(host, 0.0))
                self._next[host] = slot + max(self.interval, self._min_interval.get(host, 0.0))
            if slot > now:
                self._sleep(slot - now)
            with self._lock:
                if self._blocked.get(host, 0.0) <= slot:
                    return


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _host_port(parts: urllib.parse.SplitResult) -> tuple[str, int | None]:
    return (parts.hostname or "").lower(), parts.port


class Fetcher:
    """HTTP for one site, by the rules in this module's docstring. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        user_agent: str,
        rate: float,
        timeout: float,
        retries: int,
        backoff: float,
        backoff_max: float,
        max_retry_after: float,
        deadline: float | None = None,  # seconds for one attempt, request to last byte; None: none
        sleep=time.sleep,  # for the rate limiter; tests may pass a fake
        rng: random.Random | None = None,
    ):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL must be http(s)://host: {base_url!r}")
        self.host, self.port = _host_port(parts)
        self.base_url = base_url
        self.user_agent = user_agent
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.deadline = deadline
        self.limiter = RateLimiter(rate, sleep=sleep)
        self._rng = rng or random.Random()
        self._local = threading.local()
        self._robots: urllib.robotparser.RobotFileParser | None = None
        self._robots_lock = threading.Lock()

    # -- which URLs we may fetch ------------------------------------------------------------

    def _check_host(self, url: str) -> None:
        """Raise FetchError unless url is http(s) on the configured host (and port)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError("not http(s)", url)
        try:
            host, port = _host_port(parts)
        except ValueError:  # a port that is not a number
            raise FetchError("off-host link", url) from None
        if self.port is not None:
            same_port = port == self.port
        else:  # http and https are both fine on the site's own name, on their default ports
            same_port = port is None or port == DEFAULT_PORTS[parts.scheme]
        if parts.username or parts.password or host != self.host or not same_port:
            raise FetchError("off-host link", url)

    def check_url(self, url: str) -> None:
        """Raise FetchError unless url is http(s) on the configured host and robots allow it."""
        self._check_host(url)
        if not self.robots().can_fetch(self.user_agent, url):
            raise FetchError("robots.txt disallows", url)

    def robots(self) -> urllib.robotparser.RobotFileParser:
        """robots.txt of the host, fetched once (through the rate limiter)."""
        with self._robots_lock:
            if self._robots is None:
                self._robots = self._load_robots()
            return self._robots

    def _load_robots(self) -> urllib.robotparser.RobotFileParser:
        url = urllib.parse.urljoin(self.base_url, "/robots.txt")
        parser = urllib.robotparser.RobotFileParser(url)
        try:
            reply = self._get(url, max_bytes=512 * 1024, accept=range(400, 500), robots=False)
        except FetchError as err:
            # Unreachable robots.txt (5xx, timeouts): assume the site wants no crawling now.
            log.warning("robots.txt at %s unavailable (%s): treating the whole site as disallowed", url, err)
            parser.disallow_all = True
            return parser
        if reply.status in (401, 403):
            parser.disallow_all = True
        elif reply.status >= 400:
            parser.allow_all = True  # no robots.txt: everything allowed
        else:
            parser.parse(reply.body.decode("utf-8", "replace").splitlines())
            delay = parser.crawl_delay(self.user_agent)
            if delay:
                self.limiter.set_min_interval(self.host, float(delay))
        return parser

    # -- requests -------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:  # requests.Session is not thread-safe: one a thread
            session = requests.Session()
            session.headers["User-Agent"] = self.user_agent
            self._local.session = session
        return session

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with 'equal jitter': between half and all of base * 2**attempt."""
        ceiling = min(self.backoff_max, self.backoff * (2**attempt))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _get(self, url: str, max_bytes: int, method: str = "GET", accept=(), robots=True) -> Reply:
        """The reply to url after redirects and retries; FetchError for anything else.

        2xx replies are returned, and statuses in `accept` (robots.txt's 404). Redirects are
        followed by hand so that each target is checked like any other link.
        """
        for _ in range(MAX_REDIRECTS + 1):
            reply = self._attempts(url, max_bytes, method)
            if reply.status in REDIRECTS:
                location = reply.headers.get("Location")
                if not location:
                    raise FetchError(f"http {reply.status}", f"{url} redirects nowhere")
                target = urllib.parse.urljoin(url, location)
                try:
                    self.check_url(target) if robots else self._check_host(target)
                except FetchError as err:
                    raise FetchError(err.reason, f"{url} redirects to {target}") from None
                url = target
                continue
            if 200 <= reply.status < 300 or reply.status in accept:
                return reply
            raise FetchError(f"http {reply.status}", url)
        raise FetchError("too many redirects", url)

    def _attempts(self, url: str, max_bytes: int, method: str) -> Reply:
        """One request, retried on timeouts, connection errors, short bodies, a passed deadline,
        429 and 5xx."""
        attempt = 0
        while True:
            self.limiter.wait(self.host)
            retry_after = None
            watchdog = _Deadline(self.deadline)
            try:
                with self._session().request(
                    method, url, stream=True, allow_redirects=False, timeout=(self.timeout, self.timeout)
                ) as resp:
                    watchdog.watch(resp)
                    if resp.status_code == 429 or resp.status_code >= 500:
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                        failure = FetchError(f"http {resp.status_code}", url)
                    else:
                        wants_body = method != "HEAD" and resp.status_code not in REDIRECTS
                        body = self._read(resp, url, max_bytes, watchdog) if wants_body else b""
                        watchdog.check(url)
                        return Reply(resp.status_code, resp.headers, body)
            except _Retryable as err:
                failure = err.failure
            except requests.Timeout:
                failure = watchdog.failure(url) or FetchError("timeout", url)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                # A read timeout while streaming the body surfaces here too, and (urllib3 2)
                # a body shorter than its Content-Length.
                failure = watchdog.failure(url) or FetchError("connection error", f"{url}: {err.__class__.__name__}")
            finally:
                watchdog.cancel()
            if attempt >= self.retries:
                raise failure
            if retry_after is not None and retry_after > self.max_retry_after:
                raise FetchError(failure.reason, f"{url}: Retry-After {retry_after:.0f} s is over the cap")
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            log.info("%s; retry %d in %.2f s", failure, attempt + 1, delay)
            self.limiter.defer(self.host, delay)  # the whole host waits, not just this thread
            attempt += 1

    @staticmethod
    def _read(resp: requests.Response, url: str, max_bytes: int, watchdog: _Deadline) -> bytes:
        length = resp.headers.get("Content-Length")
        declared = int(length) if length and length.isdigit() else None
        if declared is not None and declared > max_bytes:
            raise FetchError("too large", f"{url}: Content-Length {length} > cap {max_bytes}")
        buf = bytearray()
        for chunk in resp.iter_content(CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise FetchError("too large", f"{url}: more than the {max_bytes}-byte cap")
            watchdog.check(url)
        watchdog.check(url)  # the watchdog may have ended the body early: that is not the end
        received = _wire_bytes(resp, len(buf))
        if declared is not None and received < declared:
            detail = f"{url}: {received} of {declared} bytes (connection closed early)"
            raise _Retryable(FetchError("short body", detail))
        return bytes(buf)

    # -- what the crawler calls -----------------------------------------------------------

    def get(self, url: str, max_bytes: int) -> bytes:
        """The body of url (checked against host and robots, capped at max_bytes)."""
        self.check_url(url)
        return self._get(url, max_bytes).body

    def content_length(self, url: str) -> int | None:
        """Content-Length from a HEAD request, or None if the server does not say."""
        self.check_url(url)
        try:
            value = self._get(url, 0, method="HEAD").headers.get("Content-Length", "")
        except FetchError:
            return None
        return int(value) if value.isdigit() else None


class _Retryable(Exception):
    """An attempt that failed in a way worth retrying (a short body, a passed deadline)."""

    def __init__(self, failure: FetchError):
        super().__init__(str(failure))
        self.failure = failure


def _wire_bytes(resp: requests.Response, decoded: int) -> int:
    """Body bytes read from the connection (before any Content-Encoding is undone)."""
    tell = getattr(resp.raw, "tell", None)
    try:
        return int(tell()) if tell else decoded
    except (TypeError, ValueError, OSError):
        return decoded


def _socket_of(resp: requests.Response) -> socket.socket | None:
    """The socket a streamed response reads from. The connection holds it while it is kept
    alive; http.client drops it there for a response that closes the connection (HTTP/1.0,
    `Connection: close`), and then only the response's file still knows it."""
    sock = getattr(getattr(resp.raw, "connection", None), "sock", None)
    if sock is None:
        file = getattr(getattr(resp.raw, "_fp", None), "fp", None)  # http.client's buffered socket file
        sock = getattr(getattr(file, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _Deadline:
    """Cuts one attempt off when its deadline passes.

    A per-read timeout does not bound a whole download: a server sending one byte just inside
    each timeout keeps it alive for ever, and a buffered read of a chunk blocks until the chunk
    is full. So a timer shuts the connection's socket down at the deadline, which ends any
    blocked read at once; `check` then turns that into a "deadline exceeded" failure.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self._start = time.monotonic()
        self._expired = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def watch(self, resp: requests.Response) -> None:
        """Remember the response's socket, so the timer can end a read blocked on it."""
        sock = _socket_of(resp)
        with self._lock:
            self._sock = sock
        if self._expired.is_set():
            self._shutdown()

    def _expire(self) -> None:
        self._expired.set()
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def failure(self, url: str) -> FetchError | None:
        if self.seconds is not None and (self._expired.is_set() or time.monotonic() - self._start > self.seconds):
            return FetchError("deadline exceeded", f"{url}: not complete within {self.seconds:g} s")
        return None

    def check(self, url: str) -> None:
        failure = self.failure(url)
        if failure is not None:
            raise _Retryable(failure)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
