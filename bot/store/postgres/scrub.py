"""Erased rows made physically gone from PostgreSQL's table files.

A DELETE only marks rows dead; their bytes stay in the table's pages. A plain VACUUM frees
the space, but leaves the bytes of a row that lay at the edge of a page's free space until a
new row overwrites them; VACUUM FULL rewrites the table into new files, with nothing of the
dead rows. So erasures mark the tables they touched, and a scrub soon after rewrites them —
batched, so a thousand deletions in a minute cost one rewrite — with VACUUM FULL where the
table is small enough to rewrite in about a second, and a plain VACUUM (logged) above that.

VACUUM FULL locks its table while it runs; the scrub waits at most ``LOCK_TIMEOUT`` for the
lock (so it never queues replies behind a long transaction) and otherwise tries again later.
It also copies dead rows that a snapshot still open in the same database might see ("dead row
versions cannot be removed yet", as its VERBOSE report says): a table rewritten with any such
row is rewritten again a moment later. Scrubs run on a connection of their own: the pool's
connections keep no session settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

#: How soon after an erasure its tables are scrubbed (the erasures of that window share it).
SCRUB_DELAY = 10.0
#: Tables up to this size are rewritten (VACUUM FULL); larger ones get a plain VACUUM.
FULL_LIMIT_BYTES = 256 * 1024 * 1024
#: How long a scrub waits for a table's lock before leaving it to the next try.
LOCK_TIMEOUT = "5s"
#: How often, and how far apart, ``flush`` rewrites a table again that kept dead rows.
AGAIN_TRIES, AGAIN_PAUSE = 6, 0.5
_STILL_VISIBLE = re.compile(r"(\d+) dead row versions cannot be removed yet")
#: Statement names go into SQL: only these tables are ever scrubbed.
SCRUBBABLE = frozenset({"turns", "turn_refs", "conversations", "member_settings", "usage",
                        "cooldowns", "erasures"})


class Scrubber:
    """The tables erasures touched, vacuumed within ``delay`` seconds of the first."""

    def __init__(self, url: str, *, delay: float = SCRUB_DELAY,
                 full_limit: int = FULL_LIMIT_BYTES) -> None:
        self.url = url
        self.delay = delay
        self.full_limit = full_limit
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def touched(self, tables: Iterable[str]) -> None:
        """Note tables that now hold erased rows; scrub them soon."""
        unknown = set(tables) - SCRUBBABLE
        if unknown:
            raise ValueError(f"not a table erasures touch: {sorted(unknown)}")
        self._pending.update(tables)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._later(), name="omnicord-scrub")

    async def flush(self) -> None:
        """Scrub every table noted so far, now."""
        async with self._lock:
            tables, self._pending = sorted(self._pending), set()
            for attempt in range(AGAIN_TRIES):
                if not tables:
                    return
                if attempt:
                    await asyncio.sleep(AGAIN_PAUSE)
                tables = await _scrub(self.url, tables, self.full_limit)
            self._pending.update(tables)

    async def close(self) -> None:
        """Scrub what is pending (a CLI erasure is scrubbed before the command exits)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.flush()
        except Exception as error:  # closing must go on; the data is deleted, only not vacuumed
            log.warning("could not vacuum erased rows: %s", type(error).__name__)

    async def _later(self) -> None:
        await asyncio.sleep(self.delay)
        try:
            await self.flush()
        except Exception as error:
            log.warning("could not vacuum erased rows (%s); trying again later",
                        type(error).__name__)
        if self._pending:
            self._task = asyncio.create_task(self._later(), name="omnicord-scrub")


async def _scrub(url: str, tables: list[str], full_limit: int) -> list[str]:
    """Vacuum each table (FULL when small enough); the tables left for a later try (busy, or
    rewritten with dead rows an open snapshot could still see)."""
    conn = await asyncpg.connect(url, server_settings={"lock_timeout": LOCK_TIMEOUT})
    still_visible: list[int] = []

    def listen(_: Any, message: Any) -> None:
        found = _STILL_VISIBLE.search(getattr(message, "detail", None) or "")
        if found:
            still_visible.append(int(found.group(1)))

    conn.add_log_listener(listen)
    left = []
    try:
        for table in tables:
            size = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
            if size > full_limit:
                await conn.execute(f"VACUUM {table}")
                log.warning("vacuumed %s (%d MiB) without rewriting it: erased rows' bytes may "
                            "stay in its free space until new rows overwrite them",
                            table, size // (1024 * 1024))
                continue
            still_visible.clear()
            try:
                await conn.execute(f"VACUUM (FULL, VERBOSE) {table}")
                await conn.execute("SELECT 1")  # its report has arrived before this answer
            except asyncpg.exceptions.LockNotAvailableError:
                log.info("could not rewrite %s now (in use past %s); trying again later",
                         table, LOCK_TIMEOUT)
                left.append(table)  # busy now: the next scrub rewrites it
                continue
            if any(still_visible):
                left.append(table)
    finally:
        await conn.close()
    return left
