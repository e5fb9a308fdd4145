"""The media pipeline's one entry point: any attachment in, parts the model accepts out.

``prepare_media`` hashes and size-checks the input (streams and bytes are spooled to a private
temp folder; a local file is read where it is), recognises it by the first bytes read on the
way, probes it once, and hands it to the converter for its kind. The temp folder is removed
on success, error and cancellation alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable
from pathlib import Path

from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.audio import prepare_caption_audio, prepare_chat_audio
from omnicord.media.ogg import probe_ogg
from omnicord.media.probe import MediaInfo, Sniffed, probe, sniff
from omnicord.media.tempfiles import (
    INPUT_NAME,
    Spooled,
    bytes_chunks,
    fingerprint,
    link_in,
    spool,
    too_large,
    work_dir,
)
from omnicord.media.text import DEFAULT_TEXT_LIMIT, is_text_name, prepare_text
from omnicord.media.types import AudioDescriber, MediaTarget, PreparedMedia
from omnicord.media.video import prepare_video

#: Largest input accepted, checked before download and while spooling.
DEFAULT_MAX_INPUT_BYTES = 500 * 1024 * 1024

Source = Path | bytes | AsyncIterable[bytes]


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """Limits of the pipeline itself (as opposed to the model's)."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    text_limit: int = DEFAULT_TEXT_LIMIT


def check_declared_size(size: int | None, options: PrepareOptions) -> None:
    """Refuse an attachment by its announced size, before downloading it."""
    if size is not None and size > options.max_input_bytes:
        raise MediaError(too_large(options.max_input_bytes, size))


async def prepare_media(
    source: Source,
    *,
    name: str,
    target: MediaTarget,
    content_type: str | None = None,
    declared_size: int | None = None,
    describe_audio: AudioDescriber | None = None,
    options: PrepareOptions | None = None,
) -> PreparedMedia:
    """Convert one attachment for ``target``; MediaError with a member-readable reason if not."""
    options = options or PrepareOptions()
    check_declared_size(declared_size, options)
    async with work_dir() as workdir:
        spooled = await _take_in(source, workdir, options.max_input_bytes)
        if spooled.size == 0:
            raise MediaError(text("errors.file_empty"))
        path = spooled.path
        if path.parent != workdir:
            path = await link_in(path, workdir)  # a local file keeps its name out of ffmpeg
        kind = sniff(spooled.head)
        prepared = await _convert(
            path, kind, name=name, target=target, content_type=content_type,
            workdir=workdir, describe_audio=describe_audio, options=options,
        )
    return dataclasses.replace(
        prepared, content_hash=spooled.sha256, source_bytes=spooled.size
    )


async def _take_in(source: Source, workdir: Path, max_bytes: int) -> Spooled:
    """A local file is used where it is; bytes and streams are written to the work folder."""
    if isinstance(source, Path):
        return await fingerprint(source, max_bytes=max_bytes)
    chunks = bytes_chunks(source) if isinstance(source, bytes) else source
    return await spool(chunks, workdir / INPUT_NAME, max_bytes=max_bytes)


async def _convert(
    path: Path, kind: Sniffed, *, name: str, target: MediaTarget, content_type: str | None,
    workdir: Path, describe_audio: AudioDescriber | None, options: PrepareOptions,
) -> PreparedMedia:
    if kind.family == "image":
        _require_chat(target)
        # Pillow loads only for images (40 ms a start for the CLI's other files).
        from omnicord.media.image import prepare_image

        return await prepare_image(path, name=name, fmt=kind.format, target=target)
    if kind.family == "text":
        _require_chat(target)
        return await prepare_text(path, name=name, target=target, limit=options.text_limit)
    if kind.family == "unknown" and not _declared_media(content_type):
        if is_text_name(name, content_type):
            raise MediaError(text("errors.not_utf8"))
        raise MediaError(text("errors.file_type_unsupported"))
    info = await _probe_once(path, kind)
    return await _convert_media(path, info, name=name, target=target, workdir=workdir,
                                describe_audio=describe_audio)


async def _probe_once(path: Path, kind: Sniffed) -> MediaInfo:
    """Ogg audio (every Discord voice message) is read directly; the rest by ffmpeg."""
    if kind.format == "ogg":
        info = await asyncio.to_thread(probe_ogg, path)
        if info is not None:
            return info
    return await probe(path)


def _require_chat(target: MediaTarget) -> None:
    """Captions and transcripts are made of sound: pictures and text are refused."""
    if target.purpose != "chat":
        raise MediaError(_ONLY_SOUND[target.purpose])


#: The refusal of a picture or text, per purpose.
_ONLY_SOUND = {"caption": text("errors.only_av_captioned"),
               "transcript": text("errors.only_av_transcribed"),
               "chat": text("errors.only_av_used")}


def _declared_media(content_type: str | None) -> bool:
    return (content_type or "").lower().startswith(("audio/", "video/"))


async def _convert_media(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path,
    describe_audio: AudioDescriber | None,
) -> PreparedMedia:
    if target.purpose != "chat":
        if not info.has_audio:
            raise MediaError(text("errors.no_sound_to_caption") if target.purpose == "caption"
                             else text("errors.no_sound_to_transcribe"))
        return await prepare_caption_audio(path, info, name=name, target=target, workdir=workdir)
    if info.has_video:
        return await prepare_video(path, info, name=name, target=target, workdir=workdir,
                                   describe_audio=describe_audio)
    if not info.has_audio:
        raise MediaError(text("errors.nothing_usable"))
    return await prepare_chat_audio(path, info, name=name, target=target, workdir=workdir)
