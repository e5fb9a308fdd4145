"""Telling a silent stretch of sound without asking the model, so it costs no request.

ffmpeg's ``volumedetect`` filter measures the loudest sample of a prepared audio part (WAV or
MP3, already cut to the model's limit). A part whose peak stays under ``SILENCE_DB`` holds no
speech: even a whisper peaks far above it, so only near-digital silence counts. The check is
an optimisation: when ffmpeg fails or runs out of time, the part is treated as sound and the
model is asked as before.
"""

from __future__ import annotations

import base64
import logging
import math
import re

from omnicord.errors import MediaError
from omnicord.media.ffmpeg import ffmpeg_process
from omnicord.media.types import PreparedPart
from omnicord.model.parts import inline_items

#: A part whose loudest sample is quieter than this (dBFS) holds no speech.
SILENCE_DB = -50.0
_PEAK = re.compile(rb"max_volume: (-?[\d.]+|-inf) dB")

log = logging.getLogger(__name__)


def _timeout(seconds: float | None) -> float:
    return 30.0 + (seconds or 0) / 20  # decoding runs hundreds of times faster than real time


async def peak_db(data: bytes, audio_format: str, *, timeout: float = 30.0) -> float | None:
    """The loudest sample of ``data`` (``wav`` or ``mp3``) in dBFS, -inf for digital silence;
    None when ffmpeg cannot tell. Killed at ``timeout`` seconds or on cancellation."""
    try:
        status, _, report = await ffmpeg_process(
            ["-f", audio_format, "-i", "pipe:0", "-map", "0:a:0", "-af", "volumedetect",
             "-f", "null", "-"], stdin=data, timeout=timeout, loglevel="info")
    except MediaError:  # over its time
        return None
    found = _PEAK.search(report)
    if status != 0 or found is None:
        return None
    return -math.inf if found.group(1) == b"-inf" else float(found.group(1))


async def is_silent(part: PreparedPart) -> bool:
    """Whether an audio part certainly holds no speech (False when unsure)."""
    items = inline_items(part.part)
    if part.kind != "audio" or part.format not in ("wav", "mp3") or len(items) != 1:
        return False
    data = base64.b64decode(items[0].partition(",")[2])
    peak = await peak_db(data, part.format, timeout=_timeout(part.seconds))
    if peak is None:
        log.debug("could not measure a %s part's loudness; asking the model", part.format)
        return False
    return peak < SILENCE_DB
