"""The waveform Discord shows on a voice message: up to 256 loudness points, one byte each."""

from __future__ import annotations

import array
import base64
import math
import sys

MAX_POINTS = 256


def waveform_from_pcm(pcm: bytes, points: int = MAX_POINTS) -> bytes:
    """Peak loudness of ``points`` equal slices of 16-bit mono PCM, scaled to 0–255."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return bytes(1)
    count = max(1, min(points, MAX_POINTS, len(samples)))
    step = len(samples) / count
    peaks = [
        max((abs(s) for s in samples[int(i * step): max(int((i + 1) * step), int(i * step) + 1)]),
            default=0)
        for i in range(count)
    ]
    loudest = max(peaks) or 1
    return bytes(min(255, round(255 * math.sqrt(p / loudest))) for p in peaks)


def waveform_base64(pcm: bytes) -> str:
    """The waveform as Discord's attachment field wants it."""
    return base64.b64encode(waveform_from_pcm(pcm)).decode("ascii")

