"""Fairness: member cooldowns and limits on replies under way."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from omnicord.errors import InputError

Clock = Callable[[], float]


class Busy(InputError):
    """A member is cooling down, or their server has too many replies under way."""


class Cooldown:
    """A minimum interval between one member's requests."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: dict[int | str, float] = {}

    def hit(self, key: int | str) -> None:
        """Record a request, or raise Busy if it came too soon."""
        now = self._clock()
        last = self._last.get(key)
        if self.seconds and last is not None and now - last < self.seconds:
            wait = self.seconds - (now - last)
            raise Busy(f"please wait {wait:.0f} s before asking again")
        self._last[key] = now


class ConcurrencyLimit:
    """At most ``limit`` replies under way per key (a server) at once; extra ones are refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active: dict[int | str, int] = {}

    @asynccontextmanager
    async def slot(self, key: int | str) -> AsyncIterator[None]:
        """Hold one of the key's slots, or raise Busy."""
        if self.limit and self._active.get(key, 0) >= self.limit:
            raise Busy("Omnicord is answering many messages here right now; try again shortly")
        self._active[key] = self._active.get(key, 0) + 1
        try:
            yield
        finally:
            self._active[key] -= 1
            if not self._active[key]:
                del self._active[key]

