"""Fairness: member cooldowns, limits on replies under way, and the upstream request rate.

The counting is the store's (``Limits``): in this process with SQLite, across every process
sharing a PostgreSQL database. The decisions and the words members read are here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from omnicord.errors import InputError, RateLimited
from omnicord.i18n import text
from omnicord.i18n.text import Duration
from omnicord.store.interface import Limits
from omnicord.store.records import Expired, SlotsFull
from omnicord.store.sqlite.limits import MemoryLimits

#: Cooldown times are kept at least this long (longer if OMNICORD_COOLDOWN_SECONDS is): a
#: margin over any cooldown, so a process started with a longer one still finds its times.
COOLDOWN_KEEP_SECONDS = 24 * 3600.0


async def forget_expired(limits: Limits, cooldown_seconds: float) -> Expired:
    """Forget what can no longer refuse a request: cooldown times older than the cooldown
    (and a day), expired leases, upstream requests outside the window. Not data retention:
    done daily whatever OMNICORD_RETENTION_DAYS says."""
    keep = max(COOLDOWN_KEEP_SECONDS, cooldown_seconds)
    return await limits.prune(cooldowns_older_than=keep)


class Busy(InputError):
    """A member is cooling down, or their server has too many replies under way."""


class Cooldown:
    """A minimum interval between one member's requests."""

    def __init__(self, seconds: float, limits: Limits | None = None) -> None:
        self.seconds = seconds
        self._limits = limits or MemoryLimits()

    async def hit(self, key: str) -> None:
        """Record a request, or raise Busy if it came too soon."""
        if not self.seconds:
            return
        wait = await self._limits.try_cooldown(f"cooldown:{key}", self.seconds)
        if wait:
            raise Busy(text("errors_access.cooldown", wait=Duration(max(wait, 1))))


class ConcurrencyLimit:
    """At most ``limit`` replies under way per key (a server) at once; extra ones are refused."""

    def __init__(self, limit: int, limits: Limits | None = None) -> None:
        self.limit = limit
        self._limits = limits or MemoryLimits()

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold one of the key's slots, or raise Busy."""
        if not self.limit:
            yield
            return
        try:
            async with self._limits.slot(f"slots:{key}", self.limit):
                yield
        except SlotsFull:  # only the slot refuses so: nothing in a reply takes a slot
            raise Busy(text("errors_access.busy")) from None


class UpstreamPace:
    """At most ``per_minute`` requests to the model service a minute, bot-wide.

    A request over the rate waits for a free moment, up to ``max_wait`` seconds; past that it
    is refused, so a queue never grows without bound behind a busy account.
    """

    def __init__(self, per_minute: int, limits: Limits | None = None, *,
                 max_wait: float = 30.0) -> None:
        self.per_minute = per_minute
        self.max_wait = max_wait
        self._limits = limits or MemoryLimits()

    async def __call__(self) -> None:
        """Wait until one more request fits the rate, or raise RateLimited."""
        if not self.per_minute:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while wait := await self._limits.try_upstream(self.per_minute):
            if loop.time() + wait > deadline:
                raise RateLimited("Omnicord is at its limit of requests to the model service "
                                  "right now; try again in a minute")
            await asyncio.sleep(wait)
