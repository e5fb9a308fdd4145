"""Temporary work folders that are always removed: on success, on error and on cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiofiles
from omnicord.errors import MediaError

PREFIX = "omnicord-"
CHUNK_BYTES = 1 << 20
#: The one name every file gets inside a work folder, so a member's file name never reaches
#: ffmpeg (whose report would echo it) or a message.
INPUT_NAME = "input"
_UNITS = (("MiB", 1 << 20), ("KiB", 1 << 10), ("bytes", 1))


def size_text(size: int, like: int | None = None) -> str:
    """``1.5 MiB``, ``500 MiB``, ``12 KiB``: binary units (those limits are set in), chosen
    for ``like`` when given so that two sizes read in the same unit."""
    unit, scale = next((u, s) for u, s in _UNITS if (like or size) >= s or s == 1)
    return f"{size / scale:,.1f}".removesuffix(".0") + f" {unit}"


def too_large(max_bytes: int, size: int | None = None) -> str:
    """The member-facing refusal of a file over ``max_bytes`` (of ``size`` bytes, if known)."""
    limit = size_text(max_bytes)
    if size is None or size_text(size, like=max_bytes) == limit:
        return f"the file is over the {limit} Omnicord accepts"
    return f"the file is {size_text(size, like=max_bytes)}; Omnicord accepts up to {limit}"


@asynccontextmanager
async def work_dir() -> AsyncIterator[Path]:
    """A fresh private folder, deleted with everything in it when the block exits."""
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=PREFIX))
    try:
        yield path
    finally:
        # Removal must finish even when the caller is being cancelled.
        await asyncio.shield(asyncio.to_thread(shutil.rmtree, path, True))


@dataclass(frozen=True)
class Spooled:
    """A file written to disk, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str


async def spool(chunks: AsyncIterable[bytes], dest: Path, *, max_bytes: int) -> Spooled:
    """Stream ``chunks`` into ``dest``, hashing as it goes; MediaError past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    async with aiofiles.open(dest, "wb") as handle:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise MediaError(too_large(max_bytes))
            digest.update(chunk)
            await handle.write(chunk)
    return Spooled(dest, size, digest.hexdigest())


async def fingerprint(path: Path, *, max_bytes: int) -> Spooled:
    """Size and SHA-256 of a local file, read in place (no copy); MediaError past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in file_chunks(path):
            size += len(chunk)
            if size > max_bytes:
                raise MediaError(too_large(max_bytes))
            digest.update(chunk)
    except OSError as error:
        raise MediaError(f"the file could not be read ({error.strerror or 'unreadable'})") from None
    return Spooled(path, size, digest.hexdigest())


async def link_in(path: Path, workdir: Path) -> Path:
    """``path`` under the fixed name in ``workdir``: a symbolic link, or a copy where links fail."""
    return await asyncio.to_thread(_link_in, path, workdir / INPUT_NAME)


def _link_in(path: Path, link: Path) -> Path:
    try:
        os.symlink(path.resolve(), link)
    except OSError:
        shutil.copyfile(path, link)
    return link


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's content in 1 MiB pieces."""
    async with aiofiles.open(path, "rb") as handle:
        while chunk := await handle.read(CHUNK_BYTES):
            yield chunk


async def bytes_chunks(data: bytes) -> AsyncIterator[bytes]:
    """In-memory bytes as one piece, so they can be spooled like a stream."""
    yield data
