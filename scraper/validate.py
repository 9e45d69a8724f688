"""Is this body MPEG audio? Checked before upload, so an HTML error page served behind an
.mp3 link, an empty body or a truncated download never reaches the bucket.

The check is structural, not a decode: an optional ID3v2 tag, then an MPEG audio frame
header (11-bit sync 0xFFE, valid version, layer, bitrate and sample rate), and, when the body
is long enough, a second frame header exactly where the first frame's length says it is.
Random bytes almost never pass that; real MP3s always do.
"""
from __future__ import annotations

# kbit/s by bitrate index (0 = free format, 15 = invalid), per MPEG version family and layer
_BITRATES = {
    (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Hz by sample-rate index, per version bits (0 = MPEG 2.5, 2 = MPEG 2, 3 = MPEG 1)
_SAMPLE_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}
_MAX_LEADING_ZEROS = 64 * 1024  # padding some encoders leave between the tag and the audio


def frame_length(data: bytes, pos: int) -> int | None:
    """Length in bytes of the MPEG audio frame whose header starts at pos, 0 for free-format
    frames (length unknown), None when there is no valid header there."""
    if pos + 4 > len(data):
        return None
    b0, b1, b2 = data[pos], data[pos + 1], data[pos + 2]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 3  # 1 is reserved
    layer = 4 - ((b1 >> 1) & 3)  # 4 would be the reserved layer bits 00
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index == 15 or rate_index == 3:
        return None
    if bitrate_index == 0:
        return 0
    family = 1 if version == 3 else 2
    bitrate = _BITRATES[(family, layer)][bitrate_index] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 1:
        return (12 * bitrate // sample_rate + padding) * 4
    if layer == 3 and family == 2:
        return 72 * bitrate // sample_rate + padding
    return 144 * bitrate // sample_rate + padding


def _skip_id3(data: bytes) -> tuple[int, str | None]:
    """Offset just past a leading ID3v2 tag (0 if none), or a problem with the tag."""
    if data[:3] != b"ID3":
        return 0, None
    if len(data) < 10:
        return 0, "truncated ID3 tag"
    major, revision, flags = data[3], data[4], data[5]
    size_bytes = data[6:10]
    if major == 0xFF or revision == 0xFF or any(b & 0x80 for b in size_bytes):
        return 0, "malformed ID3 tag header"
    size = 0
    for b in size_bytes:  # "syncsafe": 7 bits a byte
        size = (size << 7) | b
    footer = 10 if flags & 0x10 else 0
    return 10 + size + footer, None


def mpeg_problem(data: bytes) -> str | None:
    """None if data looks like MPEG audio, else a short description of what it is instead."""
    if not data:
        return "empty body"
    if data[:1024].lstrip().startswith(b"<"):  # <!DOCTYPE html>, <html>, <?xml ...
        return "HTML/XML document, not audio"
    pos, problem = _skip_id3(data)
    if problem:
        return problem
    limit = min(len(data), pos + _MAX_LEADING_ZEROS)
    while pos < limit and data[pos] == 0:
        pos += 1
    if pos >= len(data):
        return "ID3 tag but no audio after it"
    length = frame_length(data, pos)
    if length is None:
        return f"no MPEG frame header at byte {pos}"
    if length and pos + length + 4 <= len(data) and frame_length(data, pos + length) is None:
        return f"MPEG frame header at byte {pos} is not followed by another frame"
    return None
