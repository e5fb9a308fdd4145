"""Audio (and the sound of videos) converted for the chat models and the captioner.

Chat models take WAV or MP3: short clips go as 16 kHz mono PCM WAV (no loss); longer ones as
16 kHz mono MP3 at the highest bitrate that fits the request's inline-media budget. Audio past
the model's duration limit is trimmed, and the member is told.

The captioner takes one file of up to 40 minutes per request (never OGG); longer recordings are
cut into equal segments in a single ffmpeg pass, each small enough for one request. Transcripts
are cut the same way, within the chat model's audio limit (flash 20 min, turbo 3 min).

Headers lie (an Ogg file's last page can claim any length), so no decode trusts them: each
ffmpeg run reads at most the model's limit (``-t``) and writes at most the item's budget
(``-fs``). When the output disagrees with the header, the real length is measured by decoding
(again bounded) and the audio is encoded once more for it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.durations import limit_duration
from omnicord.media.ffmpeg import CONVERSION_FAILED, ffmpeg_process, run_ffmpeg
from omnicord.media.probe import MediaInfo
from omnicord.media.tempfiles import read_file
from omnicord.media.tokens import audio_tokens
from omnicord.media.types import MediaTarget, Notice, PreparedMedia, PreparedPart
from omnicord.model.parts import audio_part, base64_chars

SAMPLE_RATE = 16_000
WAV_BYTES_PER_SECOND = SAMPLE_RATE * 2
MP3_BITRATES_KBPS = (64, 56, 48, 40, 32, 24, 16)  # MPEG-2 layer III rates at 16 kHz
MIN_MP3_KBPS = MP3_BITRATES_KBPS[-1]
BUDGET_MARGIN = 0.97
#: Codec padding can make a clip of exactly the limit probe a few ms longer: it is cut to the
#: limit silently, and the member is told only when real content was left out.
TRIM_NOTICE_TOLERANCE = 0.5
MP3_OVERHEAD_SECONDS = 0.2  # encoder delay and padding frames, budgeted generously
#: The longest recording the captioner is given (in parts): past it, the rest is left out.
MAX_CAPTION_SECONDS = 8 * 3600.0
UNDECODABLE = text("errors.audio_undecodable")

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


def choose_encoding(seconds: float, budget_bytes: int) -> Encoding | None:
    """The best encoding whose base64 fits ``budget_bytes``, or None if nothing does."""
    room = budget_bytes * BUDGET_MARGIN
    if base64_chars(seconds * WAV_BYTES_PER_SECOND + 44) <= room:
        return Encoding("wav")
    for kbps in MP3_BITRATES_KBPS:
        if base64_chars((seconds + MP3_OVERHEAD_SECONDS) * kbps * 125 + 1024) <= room:
            return Encoding("mp3", kbps)
    return None


def source_name(info: MediaInfo) -> str:
    """A member-readable name for the source's audio format."""
    codec = (info.audio_codec or "").lower()
    return CODEC_NAMES.get(codec, codec.upper() or "an unknown format")


def _require_sound(info: MediaInfo) -> None:
    if not info.has_audio:
        raise MediaError(text("errors.no_sound"))


def _timeout(seconds: float) -> float:
    return 60.0 + seconds / 4


def raw_budget(budget_bytes: int) -> int:
    """Bytes of a file whose base64 fits ``budget_bytes``."""
    return budget_bytes // 4 * 3


async def encode_audio(
    source: Path, dest: Path, encoding: Encoding, *, seconds: float, max_bytes: int,
    start: float = 0.0, timeout: float = 120.0,
) -> bytes:
    """Decode at most ``seconds`` of the first sound track of ``source`` (from ``start``) and
    write it to ``dest`` as ``encoding``, stopping once about ``max_bytes`` are written."""
    window = (["-ss", f"{start:.3f}"] if start else []) + ["-t", f"{seconds:.3f}"]
    await run_ffmpeg(
        [*window, "-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
         "-map_metadata", "-1", *encoding.args(), "-fs", str(max_bytes), "-y", str(dest)],
        timeout=timeout, failure=UNDECODABLE,
    )
    data = await read_file(dest)
    if measured_seconds(data, encoding) <= 0:
        raise MediaError(UNDECODABLE)
    return data


async def decoded_seconds(source: Path, *, cap: float) -> float:
    """The real length of ``source``'s sound, found by decoding it (never past ``cap``)."""
    status, out, _ = await ffmpeg_process(
        ["-t", f"{cap:.3f}", "-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
         "-progress", "pipe:1", "-nostats", "-f", "null", "-"],
        timeout=_timeout(cap),
    )
    if status != 0:
        raise MediaError(UNDECODABLE)
    times = [line.partition("=")[2] for line in out.decode("ascii", "replace").splitlines()
             if line.startswith("out_time_us=")]
    micros = times[-1].strip() if times else ""
    seconds = int(micros) / 1e6 if micros.lstrip("-").isdigit() else 0.0
    if seconds <= 0:
        raise MediaError(UNDECODABLE)
    return min(seconds, cap)


def measured_seconds(data: bytes, encoding: Encoding) -> float:
    """Length of audio encoded as ``encoding`` (exact for WAV, from the bitrate for MP3)."""
    if encoding.format == "wav":
        return max(0, len(data) - _wav_header_bytes(data)) / WAV_BYTES_PER_SECOND
    frame = 1152 // 2 * encoding.kbps * 125 / SAMPLE_RATE  # one MPEG-2 layer III frame
    return max(0.0, len(data) - frame) / (encoding.kbps * 125)


def _wav_header_bytes(data: bytes) -> int:
    """Where the samples start: after the ``data`` chunk header (ffmpeg may add a LIST chunk)."""
    found = data.find(b"data", 12, 512)
    return found + 8 if found >= 0 else 44


@dataclass(frozen=True)
class _Clip:
    """Audio encoded within a limit and a budget."""

    data: bytes
    encoding: Encoding
    seconds: float  # length of the encoded audio
    trimmed: bool  # the source went on past the limit


def _planned(data: bytes, seconds: float, expected: float, budget: int) -> bool:
    """Whether an encode holds what was expected and fits the budget."""
    fits = base64_chars(len(data)) <= budget
    return fits and abs(seconds - expected) <= TRIM_NOTICE_TOLERANCE


async def encode_within(
    path: Path, dest_stem: Path, claimed: float | None, *, limit: float, budget: int
) -> _Clip:
    """At most ``limit`` seconds of ``path``'s sound, encoded within ``budget``.

    ``claimed`` is the header's length, used only to choose the encoding: decoding stops at
    ``limit`` and writing at the budget whatever it says, and a header found wrong is
    replaced by the decoded length.
    """
    if claimed is None:
        claimed = await decoded_seconds(path, cap=limit + 1)
    kept = min(claimed, limit)
    encoding = _encoding_for(kept, budget)
    data = await _encode_once(path, dest_stem, encoding, limit, budget)
    seconds = measured_seconds(data, encoding)
    if _planned(data, seconds, kept, budget):
        return _Clip(data, encoding, seconds, claimed > limit + TRIM_NOTICE_TOLERANCE)
    real = await decoded_seconds(path, cap=limit + 1)  # the header lied
    kept = min(real, limit)
    trimmed = real > limit + TRIM_NOTICE_TOLERANCE
    if _planned(data, seconds, kept, budget):
        return _Clip(data, encoding, seconds, trimmed)
    encoding = _encoding_for(kept, budget)
    data = await _encode_once(path, dest_stem, encoding, kept, budget)
    return _Clip(data, encoding, measured_seconds(data, encoding), trimmed)


def _encoding_for(seconds: float, budget: int) -> Encoding:
    encoding = choose_encoding(seconds, budget)
    if encoding is None:
        raise MediaError(text("errors.audio_too_long"))
    return encoding


async def _encode_once(
    path: Path, dest_stem: Path, encoding: Encoding, seconds: float, budget: int
) -> bytes:
    dest = dest_stem.with_suffix(f".{encoding.format}")
    return await encode_audio(path, dest, encoding, seconds=seconds,
                              max_bytes=raw_budget(budget) + 1, timeout=_timeout(seconds))


async def prepare_chat_audio(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path
) -> PreparedMedia:
    """One audio part for a chat model: trimmed to its limit, encoded to fit the budget."""
    _require_sound(info)
    limits = target.model.audio
    budget = min(target.budget_bytes, base64_chars(limits.max_bytes))
    clip = await encode_within(path, workdir / "audio", info.duration,
                               limit=limits.max_seconds, budget=budget)
    notices = []
    if clip.trimmed:
        limit = limit_duration(limits.max_seconds)
        notices.append(Notice(text("chat.notice_trimmed", limit=limit)))
    part = PreparedPart(
        part=audio_part(clip.data, clip.encoding.format), kind="audio",
        format=clip.encoding.format, tokens=audio_tokens(clip.seconds, limits),
        seconds=clip.seconds,
    )
    return PreparedMedia(name=name, kind="audio", parts=(part,),
                         notices=(*conversion_notice(info), *notices),
                         source_format=source_name(info))


def conversion_notice(info: MediaInfo) -> list[str]:
    """``converted from …`` unless the sound already was plain WAV or MP3 audio."""
    if source_name(info) in ("WAV", "MP3") and not info.has_video:
        return []
    return [Notice(text("chat.notice_converted", source=source_name(info)))]


def caption_segments(duration: float, max_seconds: float, budget_bytes: int) -> int:
    """How many equal segments a recording needs so each fits one captioner request."""
    count = max(1, math.ceil(duration / max_seconds))
    while choose_encoding(duration / count, budget_bytes) is None:
        count += 1
    return count


async def prepare_caption_audio(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path
) -> PreparedMedia:
    """Captioner or transcript input: one part per segment, each within the model's audio
    limit (a single part for recordings that fit)."""
    _require_sound(info)
    limits = target.model.audio
    budget = min(target.budget_bytes, base64_chars(limits.max_bytes))
    cap = MAX_CAPTION_SECONDS + 1
    duration = info.duration
    if duration is None:
        duration = await decoded_seconds(path, cap=cap)
    planned = await _caption_parts(path, workdir, duration, limits.max_seconds, budget)
    if planned is None:  # the header misstated the length: plan again on the decoded one
        duration = await decoded_seconds(path, cap=cap)
        planned = await _caption_parts(path, workdir, duration, limits.max_seconds, budget,
                                       trusted=True)
    if planned is None:  # a trusted length always plans; anything else is a damaged file
        raise MediaError(CONVERSION_FAILED)
    encoding, segments = planned
    parts = tuple(
        PreparedPart(part=audio_part(data, encoding.format), kind="audio",
                     format=encoding.format, tokens=audio_tokens(end - start, limits),
                     seconds=end - start, start=start, end=end)
        for start, end, data in segments
    )
    notices = conversion_notice(info)
    kept = min(duration, MAX_CAPTION_SECONDS)
    transcript = target.purpose == "transcript"
    if len(parts) > 1:
        length = limit_duration(kept / caption_segments(kept, limits.max_seconds, budget))
        notices.append(Notice(
            text("chat.notice_transcribed_in_parts", count=len(parts), length=length)
            if transcript else
            text("chat.notice_captioned_in_parts", count=len(parts), length=length)))
    if duration > MAX_CAPTION_SECONDS + TRIM_NOTICE_TOLERANCE:
        limit = limit_duration(MAX_CAPTION_SECONDS)
        notices.append(Notice(text("chat.notice_only_first_transcribed", limit=limit)
                              if transcript else
                              text("chat.notice_only_first_captioned", limit=limit)))
    return PreparedMedia(name=name, kind="audio", parts=parts, notices=tuple(notices),
                         source_format=source_name(info))


async def _caption_parts(
    path: Path, workdir: Path, duration: float, max_seconds: float, budget: int, *,
    trusted: bool = False,
) -> tuple[Encoding, list[tuple[float, float, bytes]]] | None:
    """The encoding and (start, end, data) segments; None when a single part came out other
    than ``duration`` said (unless ``trusted``: the length was measured by decoding)."""
    duration = min(duration, MAX_CAPTION_SECONDS)
    count = caption_segments(duration, max_seconds, budget)
    length = duration / count
    encoding = _encoding_for(length, budget)
    if count > 1:
        return encoding, await _split(path, workdir, encoding, length, duration, budget)
    window = duration if trusted else max_seconds
    data = await _encode_once(path, workdir / "caption", encoding, window, budget)
    seconds = measured_seconds(data, encoding)
    if not _planned(data, seconds, duration, budget):
        if not trusted:
            return None
        if base64_chars(len(data)) > budget:
            raise MediaError(text("errors.audio_too_long"))
    return encoding, [(0.0, seconds, data)]


def _segment_files(workdir: Path, fmt: str) -> list[Path]:
    return sorted(workdir.glob(f"segment-*.{fmt}"))


async def _split(
    path: Path, workdir: Path, encoding: Encoding, length: float, duration: float, budget: int
) -> list[tuple[float, float, bytes]]:
    """Cut the first ``duration`` seconds into segments of ``length`` in one decoding pass."""
    pattern = workdir / f"segment-%03d.{encoding.format}"
    await run_ffmpeg(
        ["-t", f"{duration:.3f}", "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
         "-map_metadata", "-1", *encoding.args()[:-2], "-f", "segment",
         "-segment_time", f"{length:.3f}", "-reset_timestamps", "1", "-y", str(pattern)],
        timeout=_timeout(duration), failure=UNDECODABLE,
    )
    files = await asyncio.to_thread(_segment_files, workdir, encoding.format)
    if not files:
        raise MediaError(UNDECODABLE)
    segments = []
    for index, file in enumerate(files):
        start = index * length
        end = min(duration, start + length)
        if end - start < 0.05:
            continue  # rounding can leave a sliver of a last segment
        data = await read_file(file)
        if base64_chars(len(data)) > budget:
            raise MediaError(text("errors.audio_unsplittable"))
        segments.append((start, end, data))
    return segments
