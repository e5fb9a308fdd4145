"""One reply at a time per conversation within a process: FIFO locks per scope.

Both stores use them: SQLite under its record locks across processes (``sqlite.locks``),
PostgreSQL to keep a process's turns to one scope in call order.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ScopeLocks:
    """FIFO locks per scope in this process, forgotten when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        """Wait for, then hold, the scope's lock."""
        lock = self._locks.get(scope)
        if lock is None:
            lock = self._locks[scope] = asyncio.Lock()
        async with lock:
            yield

    def busy(self, scope: str) -> bool:
        """Whether a reply is under way in ``scope`` in this process."""
        lock = self._locks.get(scope)
        return lock is not None and lock.locked()
