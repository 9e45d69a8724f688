"""S3 object keys from untrusted file names.

A link's file name becomes part of a key, so it is reduced to a safe alphabet: no `..`, no
slashes or backslashes, no control or non-ASCII characters, bounded length, always `.mp3`.
Whenever that changes the name, a short hash of the original is appended, so two different
hostile names cannot collapse onto the same key. Clean names (the site's are like
`les_sports.mp3`) pass through unchanged.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
import urllib.parse

MAX_NAME_LENGTH = 100
EXTENSION = ".mp3"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name_from_url(url: str) -> str:
    """The last path segment of url, percent-decoded ('' when the path ends in '/')."""
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rsplit("/", 1)[-1])


def sanitize_file_name(raw: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """A safe `name.mp3` for raw; unchanged when raw already is one."""
    stem = raw[: -len(EXTENSION)] if raw.lower().endswith(EXTENSION) else raw
    ascii_stem = "".join(
        c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c)
    )  # 'année' -> 'annee'
    clean = _UNSAFE.sub("_", ascii_stem)
    clean = re.sub(r"\.{2,}", ".", clean)
    clean = re.sub(r"_{2,}", "_", clean).strip("._-")
    if clean and clean == stem and len(clean) + len(EXTENSION) <= max_length:
        return clean + EXTENSION
    digest = hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    room = max_length - len(EXTENSION) - len(digest) - 1
    clean = clean[:room].rstrip("._-") or "clip"
    return f"{clean}-{digest}{EXTENSION}"


def object_key(prefix: str, language: str, url: str) -> str:
    """`{prefix}{language}/{safe file name}` for the clip at url."""
    return f"{prefix}{language}/{sanitize_file_name(file_name_from_url(url))}"
