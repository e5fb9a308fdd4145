"""Turning the model's speech (raw 24 kHz 16-bit mono PCM) into a file a person can play.

OGG/Opus at 48 kHz is the form Discord voice messages use; WAV and MP3 are offered for the
command line. The format follows the file extension.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

from omnicord.errors import InputError
from omnicord.media.ffmpeg import run_ffmpeg
from omnicord.model.catalog import SPEECH_CHANNELS, SPEECH_SAMPLE_RATE, SPEECH_SAMPLE_WIDTH

#: Opus runs at 48 kHz; Discord plays voice messages at that rate.
OPUS_SAMPLE_RATE = 48_000

_ENCODERS: dict[str, list[str]] = {
    "ogg": ["-ar", str(OPUS_SAMPLE_RATE), "-c:a", "libopus", "-b:a", "48k", "-f", "ogg"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
}
_EXTENSIONS = {".ogg": "ogg", ".opus": "ogg", ".oga": "ogg", ".wav": "wav", ".mp3": "mp3"}


@dataclass(frozen=True)
class SpeechFile:
    """A written speech file."""

    path: Path
    format: str
    seconds: float


def pcm_seconds(pcm: bytes, rate: int = SPEECH_SAMPLE_RATE) -> float:
    """Duration of model speech PCM (at ``rate`` Hz) in seconds."""
    return len(pcm) / (rate * SPEECH_SAMPLE_WIDTH * SPEECH_CHANNELS)


def speech_format(path: Path) -> str:
    """The output format for ``path`` by its extension; InputError for an unsupported one."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"Cannot write speech as {path.suffix or 'a file without extension'}: "
            "use .ogg, .wav or .mp3"
        )
    return fmt


def pcm_to_wav(pcm: bytes, rate: int = SPEECH_SAMPLE_RATE) -> bytes:
    """Model speech PCM (mono PCM16 at ``rate``) wrapped in a WAV header (no re-encoding)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(SPEECH_CHANNELS)
        writer.setsampwidth(SPEECH_SAMPLE_WIDTH)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


async def encode_speech(pcm: bytes, fmt: str = "ogg", *, timeout: float = 120.0,
                        rate: int = SPEECH_SAMPLE_RATE) -> bytes:
    """Encode model speech PCM (at ``rate`` Hz) as ``ogg`` (Opus, 48 kHz), ``wav`` or ``mp3``
    bytes."""
    if fmt == "wav":
        return pcm_to_wav(pcm, rate)
    args = [
        "-f", "s16le",
        "-ar", str(rate),
        "-ac", str(SPEECH_CHANNELS),
        "-i", "pipe:0",
        *_ENCODERS[fmt],
        "pipe:1",
    ]  # fmt: skip
    return await run_ffmpeg(args, stdin=pcm, timeout=timeout)


async def write_speech(pcm: bytes, path: Path, rate: int = SPEECH_SAMPLE_RATE) -> SpeechFile:
    """Encode ``pcm`` (at ``rate`` Hz) in the format ``path``'s extension names and write it
    there."""
    fmt = speech_format(path)
    data = await encode_speech(pcm, fmt, rate=rate)
    await _write(path, data)
    return SpeechFile(path=path, format=fmt, seconds=pcm_seconds(pcm, rate))


async def _write(path: Path, data: bytes) -> None:
    import aiofiles

    async with aiofiles.open(path, "wb") as handle:
        await handle.write(data)
