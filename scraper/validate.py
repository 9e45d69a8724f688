"""Is this body MPEG audio, all of it? Checked before upload, so an HTML error page served
behind an .mp3 link, an empty body, a truncated download or audio followed by junk never
reaches the bucket.

The check walks the frames: an optional ID3v2 tag, then MPEG audio frames back to back, each
header valid (11-bit sync, version, layer, bitrate, sample rate) and of the same stream
(version, layer, sample rate) as the first, each frame's length taken from its header, up to the
end of the body or to tags that may close a file (ID3v1, APEv2, Lyrics3v2, an appended ID3v2).
A frame cut short, or bytes that are not a frame, reject the body. Random bytes cannot pass;
real MP3s (CBR or VBR, with Xing/Info frames) always do. When the first frame is a Xing/Info
header, the body must hold the frames it declares, so a cut at a frame boundary is caught too
(all but the last frame). A structural walk rather than a decode:
libsndfile's decoder resynchronises over junk and reports the header's length for a truncated
file, so it would accept both.
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
    size = _syncsafe(size_bytes)
    footer = 10 if flags & 0x10 else 0
    return 10 + size + footer, None


def _syncsafe(four: bytes) -> int:
    size = 0
    for b in four:  # "syncsafe": 7 bits a byte
        size = (size << 7) | (b & 0x7F)
    return size


def _audio_end(data: bytes, start: int) -> int:
    """Where the audio ends: before the tags that may close an MP3 file (any order, each once)."""
    end = len(data)
    for _ in range(4):
        before = end
        if end - 128 >= start and data[end - 128:end - 125] == b"TAG":  # ID3v1
            end -= 128
            if end - 227 >= start and data[end - 227:end - 223] == b"TAG+":  # ID3v1 enhanced
                end -= 227
        if end - 32 >= start and data[end - 32:end - 24] == b"APETAGEX":  # APEv2 footer
            size = int.from_bytes(data[end - 20:end - 16], "little")  # items + footer
            has_header = data[end - 8] & 0x80 if end - 8 >= 0 else 0
            tag = size + (32 if has_header else 0)
            if 32 <= tag <= end - start:
                end -= tag
        if end - 15 >= start and data[end - 9:end] == b"LYRICS200" and data[end - 15:end - 9].isdigit():
            tag = int(data[end - 15:end - 9]) + 15
            if tag <= end - start and data[end - tag:end - tag + 11] == b"LYRICSBEGIN":
                end -= tag
        if end - 10 >= start and data[end - 10:end - 7] == b"3DI":  # ID3v2.4 footer of an appended tag
            tag = 20 + _syncsafe(data[end - 4:end])
            if tag <= end - start:
                end -= tag
        if end == before:
            break
    return end


def _stream(data: bytes, pos: int) -> tuple[int, int, int]:
    """The bits that stay the same in every frame of one stream: version, layer, sample rate."""
    return (data[pos + 1] >> 3) & 3, (data[pos + 1] >> 1) & 3, (data[pos + 2] >> 2) & 3


def _free_format_length(data: bytes, pos: int, end: int) -> int | None:
    """A free-format frame's length: the distance to the next header of the same stream."""
    nxt = pos + 4
    while True:
        nxt = data.find(b"\xff", nxt, end - 3)
        if nxt < 0:
            return end - pos if end - pos >= 4 else None  # the last frame runs to the end
        if frame_length(data, nxt) == 0 and _stream(data, nxt) == _stream(data, pos):
            return nxt - pos
        nxt += 1


def _xing_frames(data: bytes, pos: int, length: int) -> int | None:
    """The frame count a Xing/Info header in the frame at pos declares (LAME writes one: the
    frames after it), or None. Catches a body cut at a frame boundary."""
    window = data[pos + 4:pos + min(length, 4 + 2 + 32 + 12)]  # header, CRC, side info, tag + flags + count
    for tag in (b"Xing", b"Info"):
        at = window.find(tag)
        if at >= 0 and at + 12 <= len(window) and window[at + 7] & 1:
            return int.from_bytes(window[at + 8:at + 12], "big")
    return None


def mpeg_problem(data: bytes) -> str | None:
    """None if data is MPEG audio from its first frame to its end, else a short description
    of what it is instead."""
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
    if frame_length(data, pos) is None:
        return f"no MPEG frame header at byte {pos}"
    stream = _stream(data, pos)
    end = _audio_end(data, pos)
    frames = 0
    first_length = frame_length(data, pos)
    declared_frames = _xing_frames(data, pos, first_length) if first_length else None
    while pos < end:
        length = frame_length(data, pos) if pos + 4 <= end else None
        if length is None or _stream(data, pos) != stream:
            if end - pos < 4 and frames:
                return f"truncated MPEG frame at byte {pos} after {frames} frames ({end - pos} bytes left)"
            return f"not MPEG audio after {frames} frames: no frame header at byte {pos}"
        if length == 0:
            length = _free_format_length(data, pos, end)
            if length is None:
                return f"truncated MPEG frame at byte {pos} after {frames} frames"
        if pos + length > end:
            return (f"truncated MPEG frame at byte {pos} after {frames} frames "
                    f"({end - pos} of {length} bytes)")
        pos += length
        frames += 1
    if declared_frames is not None and frames < declared_frames:  # frames counts the Xing frame too
        return f"truncated: {frames} MPEG frames where the Xing/Info header declares {declared_frames}"
    return None
