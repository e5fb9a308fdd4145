"""Local files through the media pipeline, and an account of what would be sent."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from omnicord.cli.output import note
from omnicord.errors import InputError
from omnicord.media.prepare import PrepareOptions, prepare_media
from omnicord.media.types import AudioDescriber, MediaTarget, PreparedMedia, PreparedPart
from omnicord.model.catalog import ModelSpec


async def prepare_file(
    path: Path, target: MediaTarget, *, describe: AudioDescriber | None = None,
    options: PrepareOptions | None = None, announce: bool = True,
) -> PreparedMedia:
    """Run the media pipeline on a local file, naming the file in any error (and, when
    ``announce``, printing its notices on stderr)."""
    try:
        info = await asyncio.to_thread(path.stat)
    except OSError:
        raise InputError(f"{path}: no such file") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a file")
    try:
        media = await prepare_media(path, name=path.name, target=target,
                                    declared_size=info.st_size, describe_audio=describe,
                                    options=options)
    except InputError as error:
        raise InputError(f"{path.name}: {error}") from None
    for notice in media.notices if announce else ():
        note(f"{path.name}: {notice}")
    return media


def describe_prepared(media: PreparedMedia, model: ModelSpec) -> str:
    """A readable account of what would be sent for one file."""
    lines = [f"{media.name}: {media.kind} for {model.name} "
             f"({media.source_bytes:,} bytes in, sha256 {media.content_hash[:12]})"]
    for index, part in enumerate(media.parts, 1):
        lines.append(f"  part {index}: {part.kind} as {part.format}, "
                     f"{_shape(part, len(media.parts))}, {part.inline_bytes:,} bytes inline, "
                     f"~{part.tokens:,} tokens")
    lines.append(f"  total: {media.inline_bytes:,} bytes inline, ~{media.tokens:,} tokens")
    lines.extend(f"  note: {notice}" for notice in media.notices)
    if media.extra_text:
        lines.append(f"  text added: {media.extra_text[:200]}")
    return "\n".join(lines)


def _shape(part: PreparedPart, parts: int) -> str:
    shape = []
    if part.seconds is not None:
        shape.append(f"{part.seconds:.1f} s")
    if part.start is not None and part.end is not None and parts > 1:
        shape.append(f"from {part.start:.1f} s to {part.end:.1f} s")
    if part.width and part.height:
        shape.append(f"{part.width}×{part.height}")
    if part.frames:
        shape.append(f"{part.frames} frames")
    return ", ".join(shape) or "-"
