"""Temporary work folders that are always removed: on success, on error and on cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiofiles

from bot.errors import MediaError

PREFIX = "omnicord-"
CHUNK_BYTES = 1 << 20


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
                raise MediaError(f"the file is over the {max_bytes / 1e6:.0f} MB Omnicord accepts")
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
                raise MediaError(
                    f"the file is over the {max_bytes / 1e6:.0f} MB Omnicord accepts"
                )
            digest.update(chunk)
    except OSError as error:
        raise MediaError(f"the file could not be read ({error.strerror or error})") from None
    return Spooled(path, size, digest.hexdigest())


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's content in 1 MiB pieces."""
    async with aiofiles.open(path, "rb") as handle:
        while chunk := await handle.read(CHUNK_BYTES):
            yield chunk


async def bytes_chunks(data: bytes) -> AsyncIterator[bytes]:
    """In-memory bytes as one piece, so they can be spooled like a stream."""
    yield data
