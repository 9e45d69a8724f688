"""Is an MP3 complete? Walk its MPEG frame headers (a few bytes each, read in 1 MiB blocks).

libsndfile decodes a cut MP3 "fine" up to the cut and may report only the header's length,
so the frames themselves are the evidence: a last frame that runs past the end of the file,
or fewer frames than the Xing/Info header counts, means the file was truncated.
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO

_BITRATES_KBPS = {  # (MPEG-1?, layer) -> table by bitrate index
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits
_BLOCK = 1 << 20
_SYNC_SEARCH = 1 << 16


@dataclasses.dataclass(frozen=True)
class FrameWalk:
    frames: int                 # complete audio frames walked
    declared_frames: int | None  # the Xing/Info header's count, if any
    cut_frame: bool             # the last frame runs past the end of the file
    sample_rate: int
    samples_per_frame: int

    @property
    def truncated(self) -> bool:
        short = self.declared_frames is not None and self.frames < self.declared_frames * 0.98
        return self.cut_frame or short

    @property
    def declared_seconds(self) -> float | None:
        if not self.sample_rate:
            return None
        frames = self.declared_frames if self.declared_frames is not None else self.frames + self.cut_frame
        return frames * self.samples_per_frame / self.sample_rate


def _header(h: bytes):
    """(frame bytes, samples per frame, rate, Xing offset) of a valid header, else None."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return None
    version, layer_bits = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    bitrate_index, rate_index, padding = h[2] >> 4, (h[2] >> 2) & 3, (h[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = _BITRATES_KBPS[(mpeg1, layer)][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    mono = (h[3] >> 6) == 3
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate, 0
    samples = 1152 if (layer == 2 or mpeg1) else 576
    length = (144 if samples == 1152 else 72) * bitrate // rate + padding
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return length, samples, rate, 4 + side_info


def _id3_end(head: bytes) -> int:
    if len(head) >= 10 and head[:3] == b"ID3":
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
        return 10 + size + (10 if head[5] & 0x10 else 0)
    return 0


def walk_frames(f: BinaryIO, size: int) -> FrameWalk | None:
    """Walk an MP3's frames; None if no MPEG frame is found near the start (not an MP3)."""
    f.seek(0)
    pos = _id3_end(f.read(10))
    f.seek(pos)
    head = f.read(_SYNC_SEARCH)
    start = next((i for i in range(len(head) - 3) if _header(head[i:i + 4])), None)
    if start is None:
        return None
    pos += start
    frames, declared, cut, rate, samples = 0, None, False, 0, 0
    buf, buf_start = b"", pos
    while pos + 4 <= size:
        if pos + 64 > buf_start + len(buf):
            f.seek(pos)
            buf, buf_start = f.read(_BLOCK), pos
        info = _header(buf[pos - buf_start: pos - buf_start + 4])
        if info is None:
            break  # a tag (ID3v1, APE) or junk after the audio
        length, samples, rate, xing = info
        if frames == 0 and declared is None and xing:
            tag = buf[pos - buf_start + xing: pos - buf_start + xing + 12]
            if tag[:4] in (b"Xing", b"Info"):
                declared = int.from_bytes(tag[8:12], "big") if tag[7] & 1 else None
                pos += length
                continue  # the tag frame holds no audio
        if pos + length > size:
            cut = True
            break
        frames += 1
        pos += length
    return FrameWalk(frames=frames, declared_frames=declared, cut_frame=cut, sample_rate=rate,
                     samples_per_frame=samples)
