"""Recognising a file by its content, and reading its streams with one quick ffmpeg call.

The file's first bytes decide what it is (names and content types lie); ffmpeg's input report
(no ffprobe needed) gives duration, codecs, sample rate, size and rotation of audio and video.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.ffmpeg import ffmpeg_process

PROBE_TIMEOUT = 30.0

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_CONTAINER_MAGIC = (
    (b"OggS", "ogg"),
    (b"fLaC", "flac"),
    (b"#!AMR", "amr"),
    (b"\x1a\x45\xdf\xa3", "matroska"),
    (b"ID3", "mp3"),
)


@dataclass(frozen=True)
class Sniffed:
    """What a file's first bytes say it is: ``family`` is image, media (audio/video) or text."""

    family: str  # "image", "media", "text", "unknown"
    format: str  # "png", "gif", "ogg", "mp4", "wav", "text" ...


def sniff(head: bytes) -> Sniffed:
    """Recognise a file from its first 64 bytes."""
    for magic, fmt in _IMAGE_MAGIC:
        if head.startswith(magic):
            return Sniffed("image", fmt)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("media", "wav")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("media", "avi")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return Sniffed("image", "heif")
        return Sniffed("media", "3gp" if brand.startswith(b"3g") else "mp4")
    for magic, fmt in _CONTAINER_MAGIC:
        if head.startswith(magic):
            return Sniffed("media", fmt)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return Sniffed("media", "aac")  # ADTS
    if _mpeg_audio_frame(head):
        return Sniffed("media", "mp3")
    if _looks_like_text(head):
        return Sniffed("text", "text")
    return Sniffed("unknown", "")


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: sync bits, and no reserved layer, bitrate or rate."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 3
    return layer != 0 and bitrate not in (0, 15) and rate != 3


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a multi-byte character cut at the end
    return True


@dataclass(frozen=True)
class MediaInfo:
    """An audio or video file's streams, as ffmpeg reports them."""

    container: str
    duration: float | None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    rotation: int = 0

    @property
    def has_audio(self) -> bool:
        """Whether there is a sound track."""
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        """Whether there is a moving picture (cover art does not count)."""
        return self.video_codec is not None

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown, after rotation."""
        if self.width is None or self.height is None:
            return None
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


# Each pattern matches a whole report line of its own, never text inside the input's name
# (which ffmpeg echoes); the pipeline also only ever names its inputs "input".
_DURATION = re.compile(r"^ {2}Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", re.M)
_INPUT = re.compile(r"^Input #0, ([^,]+(?:,[^,\s]+)*), from", re.M)
_AUDIO = re.compile(r"^ +Stream #0:\d+[^\n]*?: Audio: (\w+)[^\n]*?(\d+) Hz(?:, ([^,\n]+))?",
                    re.M)
_VIDEO = re.compile(r"^ +Stream #0:\d+[^\n]*?: Video: (\w+)[^\n]*?, (\d{1,5})x(\d{1,5})[^\n]*",
                    re.M)
_FPS = re.compile(r"(\d+(?:\.\d+)?) (?:fps|tbr)")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_STILL_CODECS = {"mjpeg", "png", "bmp", "gif", "webp", "tiff"}
_CHANNELS = {"mono": 1, "stereo": 2}


def parse_probe(report: str) -> MediaInfo:
    """Read ffmpeg's input report (``ffmpeg -i FILE``)."""
    container = (_INPUT.search(report) or _missing()).group(1)
    duration = None
    if match := _DURATION.search(report):
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    audio = _AUDIO.search(report)
    video = _moving_picture(report)
    fps = None
    if video and (rate := _FPS.search(video.group(0))):
        fps = float(rate.group(1))
    rotation = 0
    if video and (turn := _ROTATION.search(report[video.end():video.end() + 400])):
        rotation = round(float(turn.group(1))) % 360
    return MediaInfo(
        container=container,
        duration=duration,
        audio_codec=audio.group(1) if audio else None,
        sample_rate=int(audio.group(2)) if audio else None,
        channels=_channel_count(audio.group(3)) if audio and audio.group(3) else None,
        video_codec=video.group(1) if video else None,
        width=int(video.group(2)) if video else None,
        height=int(video.group(3)) if video else None,
        fps=fps,
        rotation=rotation,
    )


def _missing() -> re.Match[str]:
    raise MediaError(text("errors.unreadable_media"))


def _moving_picture(report: str) -> re.Match[str] | None:
    for match in _VIDEO.finditer(report):
        line = match.group(0)
        if match.group(1) in _STILL_CODECS and "attached pic" in line:
            continue  # cover art of an audio file
        return match
    return None


def _channel_count(layout: str) -> int | None:
    layout = layout.strip()
    if layout in _CHANNELS:
        return _CHANNELS[layout]
    if match := re.match(r"(\d+) channels", layout):
        return int(match.group(1))
    if match := re.match(r"(\d+)\.(\d+)", layout):
        return int(match.group(1)) + int(match.group(2))
    return None


async def probe(path: Path) -> MediaInfo:
    """Read the streams of an audio or video file; MediaError if ffmpeg cannot open it."""
    _, _, report = await ffmpeg_process(["-i", str(path)], loglevel="info", timeout=PROBE_TIMEOUT)
    said = report.decode("utf-8", "replace")
    if "Input #0" not in said:
        raise MediaError(text("errors.damaged_or_unknown"))
    return parse_probe(said)
