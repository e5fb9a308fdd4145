"""One reply at a time per conversation in SQLite, within a process and across processes.

Inside a process each scope has a FIFO ``asyncio.Lock``. Across processes sharing a database
file, the scope also holds a POSIX record lock on one byte of a lock file beside the database
(the byte is chosen by a hash of the scope). The kernel drops such locks when a process dies,
so a crashed process never leaves a conversation locked. Where record locks are unavailable
(Windows), ordering holds within the process only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from omnicord.store.locks import ScopeLocks

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_POLL_START, _POLL_MAX = 0.005, 0.1
_OFFSET_BITS = 40  # collisions between scopes only serialize them; at 2**40 they don't happen


def scope_offset(scope: str) -> int:
    """The byte of the lock file that stands for ``scope``."""
    digest = hashlib.sha256(scope.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _OFFSET_BITS)


class _LockFile:
    """The lock file of one database, shared by every store of this process that opens it.

    Record locks belong to the process, and closing any descriptor of the file releases all of
    them, so the process keeps one descriptor per file and one set of in-process locks.
    """

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.scopes = ScopeLocks()
        self.users = 0


_lock_files: dict[str, _LockFile] = {}


class FileScopeLocks:
    """Scope locks that also hold across processes through record locks on ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = os.path.realpath(path)
        self._file: _LockFile | None = None

    def _open(self) -> _LockFile:
        if self._file is None:
            shared = _lock_files.get(self.path)
            if shared is None:
                shared = _lock_files[self.path] = _LockFile(self.path)
            shared.users += 1
            self._file = shared
        return self._file

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        """Wait for, then hold, the scope's lock in this process and then across processes."""
        shared = self._open()
        async with shared.scopes.hold(scope):
            if fcntl is None:
                yield
                return
            offset = scope_offset(scope)
            await _acquire(shared.fd, offset)
            try:
                yield
            finally:
                fcntl.lockf(shared.fd, fcntl.LOCK_UN, 1, offset)

    def busy(self, scope: str) -> bool:
        """Whether a reply is under way in ``scope`` in this process."""
        return self._file is not None and self._file.scopes.busy(scope)

    def close(self) -> None:
        """Stop using the lock file; the last user in the process closes it."""
        shared, self._file = self._file, None
        if shared is None:
            return
        shared.users -= 1
        if shared.users == 0:
            del _lock_files[self.path]
            os.close(shared.fd)


async def _acquire(fd: int, offset: int) -> None:
    """Poll for the byte's lock: a blocking call could not be cancelled."""
    delay = _POLL_START
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            return
        except (BlockingIOError, PermissionError):
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
