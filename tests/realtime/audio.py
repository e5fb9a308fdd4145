"""PCM16 16 kHz mono made in the tests: speech-like bursts and silence."""

from __future__ import annotations

import array
import math

RATE = 16_000


def speech(seconds: float, *, freq: float = 220.0, level: int = 6000) -> bytes:
    """A voiced burst: a tone with a syllable-like swell (loud enough for any VAD)."""
    count = round(seconds * RATE)
    return array.array("h", (
        round(level * (0.6 + 0.4 * math.sin(2 * math.pi * 4 * i / RATE))
              * math.sin(2 * math.pi * freq * i / RATE))
        for i in range(count))).tobytes()


def silence(seconds: float) -> bytes:
    """Digital silence."""
    return bytes(2 * round(seconds * RATE))


def chunks(pcm: bytes, size: int) -> list[bytes]:
    """``pcm`` in pieces of ``size`` bytes (the last may be shorter)."""
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]
