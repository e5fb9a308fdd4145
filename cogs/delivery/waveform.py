"""The waveform Discord shows on a voice message: up to 256 loudness points, one byte each."""

from __future__ import annotations

import math
import sys

from omnicord.media.ffmpeg import pydub_segment
from omnicord.model.catalog import SPEECH_CHANNELS, SPEECH_SAMPLE_RATE, SPEECH_SAMPLE_WIDTH

MAX_POINTS = 256


def waveform_from_pcm(pcm: bytes, points: int = MAX_POINTS) -> bytes:
    """Peak loudness of ``points`` equal slices of model speech PCM, scaled to 0–255."""
    whole = len(pcm) - len(pcm) % SPEECH_SAMPLE_WIDTH
    if not whole:
        return bytes(1)
    if sys.byteorder == "big":  # the model sends little-endian; pydub reads native order
        pcm = bytes(b for pair in zip(pcm[1:whole:2], pcm[0:whole:2], strict=True) for b in pair)
    audio = pydub_segment()(data=pcm[:whole], sample_width=SPEECH_SAMPLE_WIDTH,
                            frame_rate=SPEECH_SAMPLE_RATE, channels=SPEECH_CHANNELS)
    samples = int(audio.frame_count())
    count = max(1, min(points, MAX_POINTS, samples))
    step = samples / count
    peaks = [
        audio.get_sample_slice(int(i * step), max(int((i + 1) * step), int(i * step) + 1)).max
        for i in range(count)
    ]
    loudest = max(peaks) or 1
    return bytes(min(255, round(255 * math.sqrt(peak / loudest))) for peak in peaks)
