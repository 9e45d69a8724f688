"""Turn one audio-lingua listing page into resource items and pagination offsets.

Parsing never raises on a page that changed shape: it returns what it could read plus
warnings that name the page and the part that was missing, so the crawl can go on and the
operator learns which selector to fix (`python -m scraper parse-page` shows the result).
"""
from __future__ import annotations

import re
import urllib.parse
import warnings
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag

_TOTAL_RE = re.compile(r"^\s*(\d[\d\s,.\u00a0\u202f]*)\s+Resources?\s*$", re.IGNORECASE)
_SPEAKER_RE = re.compile(r"auteur(\d+)")
_OFFSET_RE = re.compile(r"debut_articles=(\d+)")
_SIZE_RE = re.compile(r"([\d.,]+)\s*([kmg]?)i?b", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    """One downloadable clip as the listing describes it (fields are None when missing)."""

    mp3_url: str
    article_url: str | None
    title: str | None
    speaker_id: str | None
    speaker_name: str | None
    date: str | None
    tags: tuple[str, ...]
    size_kb: float | None

    def as_json(self) -> dict:
        return {
            "mp3_url": self.mp3_url,
            "article_url": self.article_url,
            "title": self.title,
            "speaker_id": self.speaker_id,
            "speaker_name": self.speaker_name,
            "date": self.date,
            "tags": list(self.tags),
            "size_kb": self.size_kb,
        }


@dataclass
class Page:
    items: list[Item] = field(default_factory=list)
    total: int | None = None  # the "N Resources" count, when the page states it
    offsets: list[int] = field(default_factory=list)  # debut_articles offsets linked from the pagination
    warnings: list[str] = field(default_factory=list)


def _text(node: Tag | None) -> str | None:
    if node is None:
        return None
    text = " ".join(node.get_text(" ", strip=True).split())
    return text or None


def parse_size_kb(text: str | None) -> float | None:
    """'324 kb' -> 324.0, '1,5 Mb' -> 1536.0; None when there is no size."""
    if not text:
        return None
    match = _SIZE_RE.search(text)
    if not match:
        return None
    number = float(match.group(1).replace(",", "."))
    scale = {"": 1 / 1024, "k": 1, "m": 1024, "g": 1024 * 1024}[match.group(2).lower()]
    return round(number * scale, 3)


def _resources_heading(soup: BeautifulSoup) -> tuple[Tag | None, int | None]:
    for h2 in soup.find_all("h2"):
        match = _TOTAL_RE.match(h2.get_text(" ", strip=True))
        if match:
            digits = re.sub(r"\D", "", match.group(1))
            return h2, int(digits) if digits else None
    return None, None


def _item_lists(soup: BeautifulSoup, page_url: str, warnings: list[str]) -> tuple[list[Tag], bool]:
    """The resource list (the first ul.liste-items after the 'N Resources' heading), and
    whether it is that list (True) or a fallback to every list on the page (False)."""
    heading, _ = _resources_heading(soup)
    if heading is not None:
        found = heading.find_next("ul", class_="liste-items")
        if found is not None:
            return [found], True
        warnings.append(f"{page_url}: no ul.liste-items after the 'Resources' heading; trying every item list")
    else:
        warnings.append(f"{page_url}: no 'N Resources' heading (h2); trying every item list")
    return soup.select("ul.liste-items"), False


def _parse_item(article: Tag, base: str, where: str, warnings: list[str]) -> Item | None:
    link = article.select_one("div.download a[href]")
    if link is None:
        return None
    href = link["href"].strip()
    mp3_url = urllib.parse.urljoin(base, href)

    missing = []
    title = _text(article.select_one("strong.entry-title"))
    if title is None:
        missing.append("title (strong.entry-title)")
    author = article.select_one("span.authors a.url.fn")
    speaker_id = speaker_name = None
    if author is None:
        missing.append("speaker (span.authors a.url.fn)")
    else:
        speaker_name = _text(author)
        match = _SPEAKER_RE.search(author.get("href", ""))
        if match:
            speaker_id = match.group(1)
        else:
            missing.append("speaker id (spip.php?auteurN in span.authors a.url.fn)")
    time_tag = article.select_one("time[datetime]")
    date = time_tag["datetime"].strip() if time_tag is not None else None
    if date is None:
        missing.append("date (time[datetime])")
    tags = tuple(t for t in (_text(a) for a in article.select("div.postmeta a[rel~=tag]")) if t)
    article_link = article.select_one("p.url_ressource a[href]")
    article_url = urllib.parse.urljoin(base, article_link["href"].strip()) if article_link is not None else None
    if article_url is None:
        missing.append("article URL (p.url_ressource a)")
    size_kb = parse_size_kb(_text(article.select_one("dd.spip_doc_descriptif")))
    if size_kb is None:
        missing.append("size (dd.spip_doc_descriptif)")
    if missing:
        warnings.append(f"{where} ({href}): missing {', '.join(missing)}")
    return Item(mp3_url, article_url, title, speaker_id, speaker_name, date, tags, size_kb)


def parse_listing(html: str | bytes, page_url: str) -> Page:
    """Items, stated total and pagination offsets of one listing page.

    `page_url` is where the page came from: relative links resolve against it (or against
    the page's <base href>), and every warning names it.
    """
    with warnings.catch_warnings():  # bs4 4.12 + lxml 5 warn about an option bs4 passes itself
        warnings.filterwarnings("ignore", message=".*strip_cdata.*", category=DeprecationWarning)
        soup = BeautifulSoup(html, "lxml")
    page = Page()
    base_tag = soup.find("base", href=True)
    base = urllib.parse.urljoin(page_url, base_tag["href"]) if base_tag else page_url
    _, page.total = _resources_heading(soup)

    lists, is_resource_list = _item_lists(soup, page_url, page.warnings)
    n = 0
    for ul in lists:
        for li in ul.find_all("li", class_="item", recursive=False):
            article = li.find("article")
            if article is None:
                continue
            n += 1
            item = _parse_item(article, base, f"{page_url}: item {n}", page.warnings)
            if item is not None:
                page.items.append(item)
            elif is_resource_list:  # in the fallback, lists without downloads (Top Ten) are expected
                page.warnings.append(f"{page_url}: item {n}: missing download link (div.download a[href])")
    if not page.items:
        page.warnings.append(f"{page_url}: no resource items (li.item > article with div.download a[href])")

    pagination = soup.select("div.pagination a[href]")
    page.offsets = sorted({int(m.group(1)) for a in pagination if (m := _OFFSET_RE.search(a["href"]))})
    return page
