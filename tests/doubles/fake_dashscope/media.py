"""Media decoding for the fake DashScope: Pillow for images, real ffmpeg (the ``imageio_ffmpeg``
binary) for audio and video durations and loudness, cached by content hash, and a sniffer for
audio containers."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

import imageio_ffmpeg
from PIL import Image

# --------------------------------------------------------------------------- media decoding


@dataclass(frozen=True)
class MediaProbe:
    """What ffmpeg found when it decoded a file."""

    duration: float
    has_audio: bool
    width: int | None = None
    height: int | None = None


class MediaError(Exception):
    """ffmpeg could not decode the file."""


_PROBE_CACHE: OrderedDict[str, MediaProbe] = OrderedDict()
_PROBE_LOCK = threading.Lock()
_TIME_RE = re.compile(r"time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO_RE = re.compile(r"Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})")


def _hms(match: tuple[str, str, str]) -> float:
    return int(match[0]) * 3600 + int(match[1]) * 60 + float(match[2])


def _parse_ffmpeg_log(log: str) -> MediaProbe:
    inputs = re.split(r"Stream mapping:|Output #0", log, maxsplit=1)[0]
    times = _TIME_RE.findall(log)
    durations = _DURATION_RE.findall(inputs)
    duration = _hms(times[-1]) if times else (_hms(durations[0]) if durations else 0.0)
    video = _VIDEO_RE.search(inputs)
    return MediaProbe(
        duration=duration,
        has_audio=re.search(r"Stream #\d+:\d+.*?: Audio:", inputs) is not None,
        width=int(video.group(1)) if video else None,
        height=int(video.group(2)) if video else None,
    )


def _run_ffmpeg(data: bytes) -> MediaProbe:
    with tempfile.TemporaryDirectory(prefix="fake-dashscope-") as tmp:
        path = os.path.join(tmp, "media")
        with open(path, "wb") as handle:
            handle.write(data)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path,
               "-f", "null", "-"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired as exc:
            raise MediaError("ffmpeg timed out") from exc
    if proc.returncode != 0:
        raise MediaError(proc.stderr.decode("utf-8", "replace")[-300:])
    return _parse_ffmpeg_log(proc.stderr.decode("utf-8", "replace"))


def probe_media(data: bytes) -> MediaProbe:
    """Decode ``data`` with ffmpeg (blocking; cached by content hash)."""
    key = hashlib.sha256(data).hexdigest()
    with _PROBE_LOCK:
        if key in _PROBE_CACHE:
            _PROBE_CACHE.move_to_end(key)
            return _PROBE_CACHE[key]
    probe = _run_ffmpeg(data)
    with _PROBE_LOCK:
        _PROBE_CACHE[key] = probe
        while len(_PROBE_CACHE) > 256:
            _PROBE_CACHE.popitem(last=False)
    return probe


def sniff_audio(data: bytes) -> str | None:
    """Guess an audio container from its first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3":
        return "mp3"
    if data[:4] == b"OggS":
        return "ogg"
    if data.startswith(b"#!AMR"):
        return "amr"
    if data[4:8] == b"ftyp":
        return "3gp" if data[8:11] == b"3gp" else "mp4"
    if data[:4] == b"ADIF":
        return "aac"
    if data[:4] == b"fLaC":
        return "flac"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "aac" if data[1] & 0x06 == 0 else "mp3"
    return None

def audio_peak_db(data: bytes) -> float:
    """The loudest sample of ``data``'s sound in dBFS (-inf for digital silence)."""
    with tempfile.TemporaryDirectory(prefix="fake-dashscope-") as tmp:
        path = os.path.join(tmp, "media")
        with open(path, "wb") as handle:
            handle.write(data)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path,
               "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    found = re.search(r"max_volume: (-?[\d.]+|-inf) dB", proc.stderr.decode("utf-8", "replace"))
    return float(found.group(1)) if found else -math.inf


def image_size(data: bytes, *, decode: bool = True) -> tuple[int, int]:
    """An image's width and height, from Pillow: decoded whole (``decode``), else read from its
    header (``MediaError`` if it cannot)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if decode:
                img.load()
            return img.size
    except Exception as exc:
        raise MediaError(f"Pillow could not decode the image: {exc}") from exc
