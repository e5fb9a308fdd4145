"""Real media made by the tests themselves: tones, noise, speech-like audio, test patterns.

Everything is generated with ffmpeg, so nothing binary is committed. The media is made with the
imageio-ffmpeg wheel's static build (``TOOL``), never the host's: a system ffmpeg may lack
encoders or options the tests use (Debian 12's 5.1 has no AMR encoder nor -display_rotation),
while the pipeline under test still picks its own binary as it would in production.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

#: The ffmpeg that makes and checks test media.
TOOL = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    """Run the media-making ffmpeg synchronously, failing the test on error."""
    subprocess.run(
        [TOOL, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=300,
    )


@lru_cache(maxsize=1)
def encoders() -> str:
    """The media-making ffmpeg's encoder listing."""
    return subprocess.run([TOOL, "-hide_banner", "-encoders"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def require_encoder(name: str) -> None:
    """Skip the test, saying why, when the media-making ffmpeg lacks encoder ``name``."""
    if f" {name} " not in encoders():
        pytest.skip(f"{TOOL} has no {name} encoder to make this test's media")


def tone(path: Path, seconds: float, *, freq: int = 440, rate: int = 16_000,
         codec: list[str] | None = None) -> Path:
    """A sine tone; format by extension unless ``codec`` gives encoder options."""
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}",
           "-ac", "1", *(codec or []), str(path))
    return path


def noise(path: Path, seconds: float, *, rate: int = 16_000) -> Path:
    """Pink noise."""
    ffmpeg("-f", "lavfi", "-i", f"anoisesrc=color=pink:sample_rate={rate}:duration={seconds}",
           "-ac", "1", str(path))
    return path


def voice_note(path: Path, seconds: float) -> Path:
    """A Discord-style voice message: speech-like modulated tone, OGG/Opus 48 kHz mono."""
    source = (f"sine=frequency=220:sample_rate=48000:duration={seconds},"
              "tremolo=f=4:d=0.8,vibrato=f=6:d=0.5")
    ffmpeg("-f", "lavfi", "-i", source, "-ac", "1", "-c:a", "libopus", "-b:a", "32k",
           str(path))
    return path


def test_pattern_video(path: Path, seconds: float, *, size: str = "320x240", rate: int = 10,
                       sound: bool = True) -> Path:
    """A test-pattern video, H.264 (+ AAC tone when ``sound``)."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                 "-c:a", "aac", "-shortest"]
    ffmpeg(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def image(path: Path, width: int, height: int, color: str = "orange") -> Path:
    """A solid image with a diagonal line, format by extension."""
    picture = Image.new("RGB", (width, height), color)
    for i in range(min(width, height)):
        picture.putpixel((i, i), (0, 0, 255))
    picture.save(path)
    return path


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says about a file."""

    seconds: float
    audio_codec: str | None
    sample_rate: int | None
    channels: str | None
    video_codec: str | None


def probe(path: Path) -> Probe:
    """Decode ``path`` fully with ffmpeg and report its real duration and streams."""
    result = subprocess.run(
        [TOOL, "-hide_banner", "-nostdin", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=300,
    )
    log = result.stderr
    if result.returncode != 0:
        raise AssertionError(f"ffmpeg could not decode {path}: {log[-500:]}")
    times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", log)
    hours, minutes, secs = times[-1]
    audio = re.search(r"Audio: (\w+).*?, (\d+) Hz, (\w+)", log)
    video = re.search(r"Video: (\w+)", log)
    return Probe(
        seconds=int(hours) * 3600 + int(minutes) * 60 + float(secs),
        audio_codec=audio.group(1) if audio else None,
        sample_rate=int(audio.group(2)) if audio else None,
        channels=audio.group(3) if audio else None,
        video_codec=video.group(1) if video else None,
    )


test_pattern_video.__test__ = False  # a media maker, not a test


def hold_memory(pid_file: str, megabytes: int) -> None:
    """A stand-in for a runaway native job: note our pid, hold ``megabytes``, never finish."""
    Path(pid_file).write_text(str(os.getpid()))
    held = bytearray(megabytes << 20)
    for offset in range(0, len(held), 4096):
        held[offset] = 1  # touch every page, so the memory is really taken
    while True:
        time.sleep(1)
