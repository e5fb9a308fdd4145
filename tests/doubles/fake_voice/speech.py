"""Speech-like test audio: voiced bursts (a fundamental with harmonics under a syllable
envelope) separated by pauses, as PCM16. Deterministic, no files."""

from __future__ import annotations

import math
from array import array


def voiced(seconds: float, *, rate: int = 48_000, channels: int = 2, pitch: float = 140.0,
           level: float = 0.3, syllable_ms: int = 240, pause_ms: int = 80) -> bytes:
    """``seconds`` of syllables: ``pitch`` Hz and four harmonics (falling in strength) under
    a raised-cosine envelope ``syllable_ms`` long, then ``pause_ms`` of silence, repeated.
    ``level`` is the peak as a fraction of full scale."""
    total = int(seconds * rate)
    period = int((syllable_ms + pause_ms) * rate / 1000)
    voiced_len = int(syllable_ms * rate / 1000)
    out = array("h")
    for n in range(total):
        position = n % period
        if position >= voiced_len:
            value = 0
        else:
            envelope = 0.5 - 0.5 * math.cos(2 * math.pi * position / voiced_len)
            t = n / rate
            wave = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in range(1, 6)) / 2.3
            value = int(32767 * level * envelope * wave)
        out.extend([value] * channels)
    return out.tobytes()


def tone(seconds: float, *, freq: float = 440.0, rate: int = 48_000, channels: int = 2,
         level: float = 0.25) -> bytes:
    """A steady sine at ``freq`` Hz."""
    out = array("h")
    for n in range(int(seconds * rate)):
        out.extend([int(32767 * level * math.sin(2 * math.pi * freq * n / rate))] * channels)
    return out.tobytes()


def frames(pcm: bytes, frame_bytes: int = 3840) -> list[bytes]:
    """``pcm`` cut into whole frames (the last one padded with silence)."""
    if len(pcm) % frame_bytes:
        pcm += bytes(frame_bytes - len(pcm) % frame_bytes)
    return [pcm[i:i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]


def correlation(a: bytes, b: bytes) -> float:
    """Pearson correlation of two PCM16 signals over their common length."""
    x, y = array("h"), array("h")
    x.frombytes(a[: len(a) - len(a) % 2])
    y.frombytes(b[: len(b) - len(b) % 2])
    n = min(len(x), len(y))
    if n == 0:
        return 0.0
    mx, my = sum(x[:n]) / n, sum(y[:n]) / n
    sxy = sum((x[i] - mx) * (y[i] - my) for i in range(n))
    sxx = sum((x[i] - mx) ** 2 for i in range(n))
    syy = sum((y[i] - my) ** 2 for i in range(n))
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def best_correlation(reference: bytes, decoded: bytes, *, max_shift_samples: int,
                     channels: int = 2, step: int = 8) -> float:
    """The best correlation of ``decoded`` against ``reference`` over codec delays up to
    ``max_shift_samples`` (per channel), tried every ``step`` samples then refined."""
    stride = 2 * channels

    def at(shift: int) -> float:
        return correlation(reference, decoded[shift * stride:])

    coarse = max(range(0, max_shift_samples, step), key=at)
    return max(at(s) for s in range(max(coarse - step, 0), coarse + step))
