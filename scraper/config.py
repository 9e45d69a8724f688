"""Where audio-lingua keeps its listings, and the defaults that keep the crawl polite.

The site facts (language ids, URL shape, five items a page) were read from captured pages;
they live here so a change on the site is a one-line change.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from scraper import __version__

BASE_URL = "https://www.audio-lingua.eu"

# audio-lingua's "rubrique" id of each language's listing.
LANGUAGE_IDS: dict[str, int] = {
    "French": 1,
    "English": 2,
    "German": 3,
    "Spanish": 4,
    "Russian": 7,
    "Chinese": 9,
}
ALIASES = {"mandarin": "Chinese"}

PAGE_SIZE = 5  # items per listing page; only used to step past a page that failed to load

DEFAULT_RATE = 1.0  # requests per second per host
DEFAULT_WORKERS = 4
DEFAULT_MAX_MB = 25.0  # a two-minute clip at 320 kbps is under 5 MB
DEFAULT_TIMEOUT = 30.0  # seconds to connect, and between bytes of a response
DEFAULT_DEADLINE = 300.0  # seconds for one whole download attempt: 25 MB at 85 kB/s; a dribble fails
DEFAULT_RETRIES = 4  # retries after the first attempt
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time, with jitter
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_MAX_RETRY_AFTER = 300.0  # a longer Retry-After gives up on that URL instead of stalling
DEFAULT_MANIFEST_OUT = "scraper_manifest.jsonl"
DEFAULT_MANIFEST_EVERY = 20  # rows between manifest writes: bounds what a crash leaves unrecorded
MAX_PAGE_BYTES = 5 * 1024 * 1024

USER_AGENT_TOKEN = "langid-tfx-scraper"


def user_agent(contact: str | None = None) -> str:
    """A User-Agent that says who is crawling and why (robots.txt rules match the token)."""
    ua = f"{USER_AGENT_TOKEN}/{__version__} (research crawler for spoken-language identification"
    if contact:
        ua += f"; contact: {contact}"
    return ua + ")"


def resolve_languages(spec: str | None) -> list[str]:
    """'English,french' -> ['English', 'French']; None or 'all' -> every known language."""
    if not spec or spec.strip().lower() == "all":
        return list(LANGUAGE_IDS)
    by_lower = {name.lower(): name for name in LANGUAGE_IDS} | ALIASES
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name = by_lower.get(part.lower())
        if name is None:
            known = ", ".join(LANGUAGE_IDS)
            raise ValueError(f"unknown language {part!r} (known: {known})")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("no language given")
    return out


def normalise_prefix(prefix: str | None) -> str:
    """'' stays ''; 'raw' and '/raw/' become 'raw/', so keys read PREFIX{Language}/file.mp3."""
    prefix = (prefix or "").strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


def listing_url(base_url: str, language_id: int, offset: int = 0) -> str:
    """The listing page of one language starting at item `offset`."""
    url = urllib.parse.urljoin(base_url.rstrip("/") + "/", f"spip.php?rubrique{language_id}&lang=en")
    if offset:
        url += f"&debut_articles={offset}"
    return url


@dataclass
class CrawlConfig:
    """Everything one crawl needs; the CLI fills it from flags, tests build it directly."""

    bucket: str
    languages: list[str]
    prefix: str = ""
    s3_endpoint: str | None = None
    base_url: str = BASE_URL
    max_per_language: int | None = None
    workers: int = DEFAULT_WORKERS
    dry_run: bool = False
    rate: float = DEFAULT_RATE
    max_bytes: int = int(DEFAULT_MAX_MB * 1024 * 1024)
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    backoff_max: float = DEFAULT_BACKOFF_MAX
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    manifest_out: str | None = DEFAULT_MANIFEST_OUT
    manifest_every: int = DEFAULT_MANIFEST_EVERY
    user_agent: str = user_agent()
    progress: bool = True
