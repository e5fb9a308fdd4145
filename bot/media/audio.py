"""Audio (and the sound of videos) converted for the chat models and the captioner.

Chat models take WAV or MP3: short clips go as 16 kHz mono PCM WAV (no loss); longer ones as
16 kHz mono MP3 at the highest bitrate that fits the request's inline-media budget. Audio past
the model's duration limit is trimmed, and the member is told.

The captioner takes one file of up to 40 minutes per request (never OGG); longer recordings are
cut into equal segments in a single ffmpeg pass, each small enough for one request.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

import aiofiles

from bot.errors import MediaError
from bot.media.ffmpeg import run_ffmpeg
from bot.media.probe import MediaInfo
from bot.media.tokens import audio_tokens
from bot.media.types import MediaTarget, PreparedMedia, PreparedPart
from bot.parts import audio_part

SAMPLE_RATE = 16_000
WAV_BYTES_PER_SECOND = SAMPLE_RATE * 2
MP3_BITRATES_KBPS = (64, 56, 48, 40, 32, 24, 16)  # MPEG-2 layer III rates at 16 kHz
MIN_MP3_KBPS = MP3_BITRATES_KBPS[-1]
BUDGET_MARGIN = 0.97
#: Codec padding can make a clip of exactly the limit probe a few ms longer: it is cut to the
#: limit silently, and the member is told only when real content was left out.
TRIM_NOTICE_TOLERANCE = 0.5
MP3_OVERHEAD_SECONDS = 0.2  # encoder delay and padding frames, budgeted generously

CODEC_NAMES = {
    "opus": "OGG/Opus", "vorbis": "OGG/Vorbis", "aac": "AAC", "flac": "FLAC", "mp3": "MP3",
    "amr_nb": "AMR", "amrnb": "AMR", "amr_wb": "AMR-WB", "amrwb": "AMR-WB", "alac": "ALAC",
    "pcm_s16le": "WAV", "pcm_s24le": "WAV", "pcm_f32le": "WAV", "pcm_u8": "WAV",
    "pcm_mulaw": "WAV", "pcm_alaw": "WAV", "wmav2": "WMA",
}


@dataclass(frozen=True)
class Encoding:
    """How one stretch of audio is written: ``wav``, or ``mp3`` at ``kbps``."""

    format: str
    kbps: int = 0

    def args(self) -> list[str]:
        """ffmpeg output options."""
        common = ["-ac", "1", "-ar", str(SAMPLE_RATE)]
        if self.format == "wav":
            return [*common, "-c:a", "pcm_s16le", "-f", "wav"]
        return [*common, "-c:a", "libmp3lame", "-b:a", f"{self.kbps}k", "-f", "mp3"]


def base64_size(raw_bytes: float) -> int:
    """Characters of the base64 form of ``raw_bytes`` bytes."""
    return math.ceil(raw_bytes / 3) * 4


def choose_encoding(seconds: float, budget_bytes: int) -> Encoding | None:
    """The best encoding whose base64 fits ``budget_bytes``, or None if nothing does."""
    room = budget_bytes * BUDGET_MARGIN
    if base64_size(seconds * WAV_BYTES_PER_SECOND + 44) <= room:
        return Encoding("wav")
    for kbps in MP3_BITRATES_KBPS:
        if base64_size((seconds + MP3_OVERHEAD_SECONDS) * kbps * 125 + 1024) <= room:
            return Encoding("mp3", kbps)
    return None


def describe_duration(seconds: float) -> str:
    """``150 s``, ``3 min``, ``1 h 5 min``: how a member reads a limit."""
    if seconds < 180 and seconds != 60:
        return f"{seconds:g} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def source_name(info: MediaInfo) -> str:
    """A member-readable name for the source's audio format."""
    codec = (info.audio_codec or "").lower()
    return CODEC_NAMES.get(codec, codec.upper() or "an unknown format")


def _require_sound(info: MediaInfo) -> float:
    if not info.has_audio:
        raise MediaError("there is no sound in this file")
    if info.duration is not None and info.duration <= 0:
        raise MediaError("the audio is empty")
    return info.duration or 0.0


async def _read(path: Path) -> bytes:
    async with aiofiles.open(path, "rb") as handle:
        return await handle.read()


def _timeout(seconds: float) -> float:
    return 60.0 + seconds / 4


async def encode_audio(
    source: Path, dest: Path, encoding: Encoding, *, start: float = 0.0,
    seconds: float | None = None, timeout: float = 120.0,
) -> bytes:
    """Decode the first sound track of ``source`` and write it to ``dest`` as ``encoding``."""
    window = (["-ss", f"{start:.3f}"] if start else []) + (
        ["-t", f"{seconds:.3f}"] if seconds is not None else []
    )
    await run_ffmpeg(
        [*window, "-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
         "-map_metadata", "-1", *encoding.args(), "-y", str(dest)],
        timeout=timeout,
    )
    data = await _read(dest)
    if len(data) <= 44:
        raise MediaError("the audio is empty")
    return data


def _measured_seconds(data: bytes, encoding: Encoding, fallback: float) -> float:
    if encoding.format == "wav":
        return (len(data) - 44) / WAV_BYTES_PER_SECOND
    return fallback


async def prepare_chat_audio(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path
) -> PreparedMedia:
    """One audio part for a chat model: trimmed to its limit, encoded to fit the budget."""
    duration = _require_sound(info)
    limits = target.model.audio
    notices = []
    kept = min(duration, limits.max_seconds)
    if duration > limits.max_seconds + TRIM_NOTICE_TOLERANCE:
        notices.append(f"trimmed to the first {describe_duration(kept)}")
    budget = min(target.budget_bytes, base64_size(limits.max_bytes))
    encoding = choose_encoding(kept, budget)
    if encoding is None:
        raise MediaError("the audio is too long to send")
    data = await encode_audio(
        path, workdir / f"audio.{encoding.format}", encoding,
        seconds=kept if kept < duration else None, timeout=_timeout(kept),
    )
    seconds = _measured_seconds(data, encoding, kept)
    part = PreparedPart(
        part=audio_part(data, encoding.format), kind="audio", format=encoding.format,
        tokens=audio_tokens(seconds, limits), seconds=seconds,
    )
    return PreparedMedia(name=name, kind="audio", parts=(part,),
                         notices=(*conversion_notice(info), *notices),
                         source_format=source_name(info))


def conversion_notice(info: MediaInfo) -> list[str]:
    """``converted from …`` unless the sound already was plain WAV or MP3 audio."""
    if source_name(info) in ("WAV", "MP3") and not info.has_video:
        return []
    return [f"converted from {source_name(info)}"]


def caption_segments(duration: float, max_seconds: float, budget_bytes: int) -> int:
    """How many equal segments a recording needs so each fits one captioner request."""
    count = max(1, math.ceil(duration / max_seconds))
    while choose_encoding(duration / count, budget_bytes) is None:
        count += 1
    return count


async def prepare_caption_audio(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path
) -> PreparedMedia:
    """Captioner input: one part per segment (a single part for recordings that fit)."""
    duration = _require_sound(info)
    limits = target.model.audio
    count = caption_segments(duration, limits.max_seconds, target.budget_bytes)
    length = duration / count
    encoding = choose_encoding(length, target.budget_bytes)
    assert encoding is not None
    if count == 1:
        data = await encode_audio(path, workdir / f"caption.{encoding.format}", encoding,
                                  timeout=_timeout(duration))
        segments = [(0.0, duration, data)]
    else:
        segments = await _split(path, workdir, encoding, length, count, duration)
    parts = tuple(
        PreparedPart(part=audio_part(data, encoding.format), kind="audio",
                     format=encoding.format, tokens=audio_tokens(end - start, limits),
                     seconds=end - start, start=start, end=end)
        for start, end, data in segments
    )
    notices = conversion_notice(info)
    if count > 1:
        notices.append(f"captioned in {count} parts of about {describe_duration(length)}")
    return PreparedMedia(name=name, kind="audio", parts=parts, notices=tuple(notices),
                         source_format=source_name(info))


def _segment_files(workdir: Path, fmt: str) -> list[Path]:
    return sorted(workdir.glob(f"segment-*.{fmt}"))


async def _split(
    path: Path, workdir: Path, encoding: Encoding, length: float, count: int, duration: float
) -> list[tuple[float, float, bytes]]:
    """Cut the recording into ``count`` segments in one decoding pass."""
    pattern = workdir / f"segment-%03d.{encoding.format}"
    await run_ffmpeg(
        ["-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1",
         *encoding.args()[:-2], "-f", "segment", "-segment_time", f"{length:.3f}",
         "-reset_timestamps", "1", "-y", str(pattern)],
        timeout=_timeout(duration),
    )
    files = await asyncio.to_thread(_segment_files, workdir, encoding.format)
    if not files:
        raise MediaError("the audio could not be split")
    segments = []
    for index, file in enumerate(files):
        start = index * length
        end = min(duration, start + length)
        if end - start < 0.05:
            continue  # rounding can leave a sliver of a last segment
        segments.append((start, end, await _read(file)))
    return segments
