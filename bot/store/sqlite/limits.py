"""Cooldowns, concurrency slots and the upstream request rate, counted in this process.

The SQLite store uses these: a SQLite bot is one process. The PostgreSQL store counts the same
things in the database so they hold across processes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from omnicord.store.records import UPSTREAM_WINDOW_SECONDS as WINDOW_SECONDS
from omnicord.store.records import Expired, SlotsFull

Clock = Callable[[], float]


class MemoryLimits:
    """The ``Limits`` of one process."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}
        self._active: dict[str, int] = {}
        self._upstream: deque[float] = deque()

    async def try_cooldown(self, key: str, seconds: float) -> float:
        """Record a request under ``key`` unless the last came under ``seconds`` ago."""
        now = self._clock()
        last = self._last.get(key)
        if seconds and last is not None and now - last < seconds:
            return seconds - (now - last)
        self._last[key] = now
        return 0.0

    @asynccontextmanager
    async def slot(self, key: str, limit: int) -> AsyncIterator[None]:
        """Hold one of ``key``'s ``limit`` slots, or raise SlotsFull."""
        if self._active.get(key, 0) >= limit:
            raise SlotsFull(key)
        self._active[key] = self._active.get(key, 0) + 1
        try:
            yield
        finally:
            self._active[key] -= 1
            if not self._active[key]:
                del self._active[key]

    async def try_upstream(self, per_minute: int) -> float:
        """Record a request if fewer than ``per_minute`` were made in the last minute."""
        now = self._clock()
        self._trim_upstream(now)
        if len(self._upstream) < per_minute:
            self._upstream.append(now)
            return 0.0
        return self._upstream[0] + WINDOW_SECONDS - now

    async def prune(self, *, cooldowns_older_than: float) -> Expired:
        """Forget cooldown times older than ``cooldowns_older_than`` seconds and upstream
        requests outside the window (slots go as they are released)."""
        now = self._clock()
        old = [key for key, last in self._last.items() if now - last > cooldowns_older_than]
        for key in old:
            del self._last[key]
        return Expired(cooldowns=len(old), upstream=self._trim_upstream(now))

    def _trim_upstream(self, now: float) -> int:
        """Drop requests that left the window; how many."""
        count = 0
        while self._upstream and self._upstream[0] <= now - WINDOW_SECONDS:
            self._upstream.popleft()
            count += 1
        return count
