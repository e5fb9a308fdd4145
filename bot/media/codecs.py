"""What an ffmpeg build can do, read from its own ``-encoders`` and ``-decoders`` listings,
against what the media pipeline needs (for ``omnicord doctor``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from omnicord.media.ffmpeg import REQUIRED_ENCODERS

#: Every encoder the pipeline runs: Opus voice replies, MP3 audio, MP4 video (H.264 + AAC),
#: JPEG video frames and WAV audio.
ENCODERS = (*REQUIRED_ENCODERS, "aac", "mjpeg", "pcm_s16le")
#: What members post, by label, with the decoders (any one will do) that read it.
DECODERS: dict[str, tuple[str, ...]] = {
    "opus": ("opus", "libopus"),
    "vorbis": ("vorbis", "libvorbis"),
    "mp3": ("mp3float", "mp3"),
    "aac": ("aac", "aac_fixed", "libfdk_aac"),
    "flac": ("flac",),
    "pcm": ("pcm_s16le",),
    "amr": ("amrnb", "libopencore_amrnb"),
    "h264": ("h264",),
    "hevc": ("hevc",),
    "vp8": ("vp8", "libvpx"),
    "vp9": ("vp9", "libvpx-vp9"),
    "mpeg4": ("mpeg4",),
    "mjpeg": ("mjpeg",),
}
LISTING_TIMEOUT = 10.0


@dataclass(frozen=True)
class Capabilities:
    """An ffmpeg build's version and codec names."""

    version: str
    encoders: frozenset[str]
    decoders: frozenset[str]

    def missing_encoders(self) -> list[str]:
        """Needed encoders this build lacks."""
        return [name for name in ENCODERS if name not in self.encoders]

    def missing_decoders(self) -> list[str]:
        """Labels of needed formats this build cannot decode."""
        return [label for label, names in DECODERS.items()
                if not any(name in self.decoders for name in names)]


def codec_names(listing: str) -> frozenset[str]:
    """The codec names of an ``ffmpeg -encoders``/``-decoders`` listing (legend skipped)."""
    names = set()
    in_table = False
    for line in listing.splitlines():
        fields = line.split()
        if fields and set(fields[0]) == {"-"}:
            in_table = True  # the legend ends with a line of dashes
        elif in_table and len(fields) >= 2 and len(fields[0]) == 6:
            names.add(fields[1])
    return frozenset(names)


def version_of(banner: str) -> str:
    """``5.1.6`` from ``ffmpeg version 5.1.6-0+deb12u1 Copyright ...`` (or ``n9.0.2-17-g…``)."""
    words = banner.split()
    if len(words) < 3 or words[:2] != ["ffmpeg", "version"]:
        return "unknown version"
    return words[2].removeprefix("n").split("-")[0]


def inspect_ffmpeg(exe: str) -> Capabilities:
    """Run ``exe`` for its version and codec listings; OSError or SubprocessError on failure."""
    return Capabilities(
        version=version_of(_output(exe, "-version")),
        encoders=codec_names(_output(exe, "-hide_banner", "-encoders")),
        decoders=codec_names(_output(exe, "-hide_banner", "-decoders")),
    )


def _output(exe: str, *args: str) -> str:
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True,
                          timeout=LISTING_TIMEOUT, errors="replace").stdout
