"""Small pure helpers over PCM16 (signed 16-bit little-endian) audio."""

from __future__ import annotations

import math
import sys
from array import array

#: Sample width of PCM16, in bytes.
SAMPLE_BYTES = 2


def samples(pcm: bytes) -> array[int]:
    """``pcm`` as signed 16-bit samples (a trailing odd byte is ignored)."""
    values = array("h")
    values.frombytes(pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES])
    if sys.byteorder == "big":
        values.byteswap()
    return values


def to_bytes(values: array[int]) -> bytes:
    """Signed 16-bit samples as little-endian PCM16."""
    if sys.byteorder == "big":
        values = array("h", values)
        values.byteswap()
    return values.tobytes()


def rms(pcm: bytes) -> float:
    """Root mean square of PCM16 samples (0.0 for no samples); full scale is 32767."""
    values = samples(pcm)
    if not values:
        return 0.0
    return math.sqrt(sum(v * v for v in values) / len(values))


def dbfs(pcm: bytes) -> float:
    """RMS level in dB relative to full scale (``-inf`` for digital silence)."""
    level = rms(pcm)
    return 20 * math.log10(level / 32767) if level > 0 else -math.inf


def duration_ms(pcm: bytes, rate: int, channels: int) -> float:
    """How long ``pcm`` lasts, in milliseconds."""
    return len(pcm) / (rate * channels * SAMPLE_BYTES) * 1000
