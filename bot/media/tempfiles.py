"""Temporary work folders that are always removed: on success, on error and on cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiofiles
from omnicord.errors import MediaError
from omnicord.i18n import Text, text
from omnicord.i18n.formatting import format_size
from omnicord.i18n.text import Size

PREFIX = "omnicord-"
CHUNK_BYTES = 1 << 20
#: Bytes kept from a file's start, enough to recognise it (``omnicord.media.probe.sniff``).
HEAD_BYTES = 64
#: The one name every file gets inside a work folder, so a member's file name never reaches
#: ffmpeg (whose report would echo it) or a message.
INPUT_NAME = "input"


def too_large(max_bytes: int, size: int | None = None) -> Text:
    """The member-facing refusal of a file over ``max_bytes`` (of ``size`` bytes, if known)."""
    limit = Size(max_bytes)
    # Sizes that read the same as the limit (37.5 MiB of a 37.5 MiB limit) are not repeated.
    if size is None or format_size("en", size, max_bytes) == format_size("en", max_bytes):
        return text("errors.file_over_limit", limit=limit)
    return text("errors.file_size_over_limit", size=Size(size, like=max_bytes), limit=limit)


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
    """A file on disk, with its size, SHA-256 and first bytes (read on the way)."""

    path: Path
    size: int
    sha256: str
    head: bytes


async def spool(chunks: AsyncIterable[bytes], dest: Path, *, max_bytes: int) -> Spooled:
    """Stream ``chunks`` into ``dest``, hashing as it goes; MediaError past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    async with aiofiles.open(dest, "wb") as handle:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise MediaError(too_large(max_bytes))
            digest.update(chunk)
            head = _head(head, chunk)
            await handle.write(chunk)
    return Spooled(dest, size, digest.hexdigest(), head)


async def fingerprint(path: Path, *, max_bytes: int) -> Spooled:
    """Size, SHA-256 and first bytes of a local file, read in place (no copy) in one thread;
    MediaError past ``max_bytes``."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(_fingerprint, path, max_bytes, stop)
    finally:
        stop.set()  # a cancelled caller's read ends at its next chunk


def _fingerprint(path: Path, max_bytes: int, stop: threading.Event) -> Spooled:
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with path.open("rb") as handle:
            while not stop.is_set() and (chunk := handle.read(CHUNK_BYTES)):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaError(too_large(max_bytes))
                digest.update(chunk)
                head = _head(head, chunk)
    except OSError as error:
        raise MediaError(text("errors.file_unreadable",
                              reason=error.strerror or "unreadable")) from None
    return Spooled(path, size, digest.hexdigest(), head)


def _head(head: bytes, chunk: bytes) -> bytes:
    """The first ``HEAD_BYTES`` of a file, from what was read so far and the next chunk."""
    return head if len(head) >= HEAD_BYTES else (head + chunk)[:HEAD_BYTES]


async def read_file(path: Path) -> bytes:
    """The whole of a file ffmpeg wrote within a size bound, read in one go off the loop."""
    return await asyncio.to_thread(path.read_bytes)


async def link_in(path: Path, workdir: Path) -> Path:
    """``path`` under the fixed name in ``workdir``: a symbolic link, or a copy where links fail."""
    return await asyncio.to_thread(_link_in, path, workdir / INPUT_NAME)


def _link_in(path: Path, link: Path) -> Path:
    try:
        os.symlink(path.resolve(), link)
    except OSError:
        shutil.copyfile(path, link)
    return link


async def bytes_chunks(data: bytes) -> AsyncIterator[bytes]:
    """In-memory bytes as one piece, so they can be spooled like a stream."""
    yield data
