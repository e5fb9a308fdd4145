"""Reading an Ogg audio file's duration and format without starting ffmpeg.

Discord voice messages are Ogg/Opus, by far the most common attachment, so their probe is done
here in microseconds: the codec header gives channels and rates, and the granule position of
the last page gives the length. Anything unusual returns None and ffmpeg probes instead.

That length is the file's own claim and can be forged: it only guides planning, and every
decode is bounded by the model's limit whatever it says (see ``omnicord.media.audio``).
"""

from __future__ import annotations

import struct
from pathlib import Path

from omnicord.media.probe import MediaInfo

_PAGE = b"OggS"
_TAIL_BYTES = 65_536 + 282  # a page is at most 65,307 bytes: its header is within this
OPUS_RATE = 48_000


def _first_packet(head: bytes) -> bytes | None:
    """The first packet of the first page (Ogg's codec identification header)."""
    if len(head) < 27 or not head.startswith(_PAGE):
        return None
    segments = head[26]
    table = head[27:27 + segments]
    start = 27 + segments
    return head[start:start + sum(table)]


def _last_granule(tail: bytes) -> int | None:
    position = tail.rfind(_PAGE)
    while position >= 0:
        header = tail[position:position + 14]
        if len(header) == 14 and header[4] == 0:  # stream structure version 0
            granule = struct.unpack_from("<q", header, 6)[0]
            if granule >= 0:
                return granule
        position = tail.rfind(_PAGE, 0, position)
    return None


def _codec(packet: bytes) -> tuple[str, int, int, int] | None:
    """(codec, channels, sample rate of the granule clock, samples to skip) or None."""
    if packet.startswith(b"OpusHead") and len(packet) >= 19:
        channels = packet[9]
        pre_skip = struct.unpack_from("<H", packet, 10)[0]
        return "opus", channels, OPUS_RATE, pre_skip
    if packet.startswith(b"\x01vorbis") and len(packet) >= 16:
        channels = packet[11]
        rate = struct.unpack_from("<I", packet, 12)[0]
        return ("vorbis", channels, rate, 0) if rate else None
    return None


def probe_ogg(path: Path) -> MediaInfo | None:
    """Duration and format of a single-stream Ogg Opus or Vorbis file, or None (use ffmpeg)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return None
    packet = _first_packet(head)
    codec = _codec(packet) if packet else None
    granule = _last_granule(tail)
    if codec is None or granule is None:
        return None
    name, channels, rate, skip = codec
    seconds = max(0, granule - skip) / rate
    return MediaInfo(container="ogg", duration=seconds, audio_codec=name,
                     sample_rate=OPUS_RATE if name == "opus" else rate, channels=channels)
