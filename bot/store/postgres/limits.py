"""Cooldowns, concurrency slots and the upstream request rate, counted in PostgreSQL so they
hold across every process sharing the database (``MemoryLimits`` semantics, the database's
clock).

- A cooldown is one upsert that only moves the key's last hit if it is old enough.
- A slot is a lease; taking one counts the key's live leases and adds one under an advisory
  lock on the key, so two processes never both take the last slot.
- The upstream window keeps the last minute's requests as rows, counted and added under one
  advisory lock.

``prune`` deletes what can no longer refuse anything: old cooldown times, expired leases (a
crashed process's), and request rows outside the window. Each delete re-checks its condition
on rows another statement changes meanwhile (READ COMMITTED), so a cooldown just hit or a
lease just taken or renewed is never deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from omnicord.store.postgres.database import PostgresDatabase
from omnicord.store.postgres.leases import Leases
from omnicord.store.records import UPSTREAM_WINDOW_SECONDS as WINDOW_SECONDS
from omnicord.store.records import Expired, SlotsFull

# Advisory lock namespaces (the first of two int4 keys): "OMN" and a number.
_SLOTS_LOCK = 0x4F4D4E01
_UPSTREAM_LOCK = 0x4F4D4E02
_MIN_WAIT = 0.001  # a refusal never says 0, which means "recorded"

# ``hit`` is the request's own token: recorded twice (retried), it still counts once.
_COOLDOWN_HIT = """
    INSERT INTO cooldowns AS c (key, last_at, hit) VALUES ($1, clock_timestamp(), $3)
    ON CONFLICT (key) DO UPDATE SET last_at = excluded.last_at, hit = excluded.hit
    WHERE c.last_at <= excluded.last_at - make_interval(secs => $2::float8)
       OR c.hit = excluded.hit
    RETURNING true"""

_COOLDOWN_LEFT = """
    SELECT $2::float8 - extract(epoch FROM clock_timestamp() - last_at)::float8
    FROM cooldowns WHERE key = $1"""

# Taking a slot already taken with this token (a retry) finds it taken.
_TAKE_SLOT = """
    WITH expired AS (DELETE FROM slot_leases WHERE key = $1 AND expires_at < clock_timestamp()),
    mine AS (SELECT true AS taken FROM slot_leases WHERE holder = $2),
    added AS (
        INSERT INTO slot_leases (holder, key, expires_at)
        SELECT $2, $1, clock_timestamp() + make_interval(secs => $4)
        WHERE NOT EXISTS (SELECT FROM mine)
          AND (SELECT count(*) FROM slot_leases
               WHERE key = $1 AND expires_at >= clock_timestamp()) < $3
        RETURNING true AS taken)
    SELECT taken FROM mine UNION ALL SELECT taken FROM added"""

_UPSTREAM = f"""
    WITH now AS MATERIALIZED (SELECT clock_timestamp() AS t),
    window_start AS MATERIALIZED (SELECT t - interval '{WINDOW_SECONDS:g} seconds' AS t
                                  FROM now),
    pruned AS (DELETE FROM upstream_requests WHERE at <= (SELECT t FROM window_start)),
    recent AS MATERIALIZED (SELECT count(*) AS n, min(at) AS oldest FROM upstream_requests
                            WHERE at > (SELECT t FROM window_start)),
    added AS (INSERT INTO upstream_requests (at) SELECT t FROM now, recent WHERE n < $1
              RETURNING at)
    SELECT EXISTS (SELECT FROM added),
           ({WINDOW_SECONDS:g} - extract(epoch FROM now.t - recent.oldest))::float8
    FROM now, recent"""


_PRUNE_COOLDOWNS = """
    DELETE FROM cooldowns WHERE last_at < clock_timestamp() - make_interval(secs => $1::float8)"""

_PRUNE_LEASES = ("DELETE FROM scope_leases WHERE expires_at < clock_timestamp()",
                 "DELETE FROM slot_leases WHERE expires_at < clock_timestamp()")

_PRUNE_UPSTREAM = f"""
    DELETE FROM upstream_requests
    WHERE at <= clock_timestamp() - interval '{WINDOW_SECONDS:g} seconds'"""


class PostgresLimits:
    """The ``Limits`` of every process using one PostgreSQL database."""

    def __init__(self, database: PostgresDatabase, leases: Leases) -> None:
        self._database = database
        self._leases = leases

    async def try_cooldown(self, key: str, seconds: float) -> float:
        """Record a request under ``key`` unless the last came under ``seconds`` ago; 0 when
        recorded, else the seconds left."""
        database = self._database
        hit = uuid.uuid4().hex
        while True:
            if await database.fetchval(_COOLDOWN_HIT, key, float(seconds), hit):
                return 0.0
            left = await database.fetchval(_COOLDOWN_LEFT, key, float(seconds))
            if left is not None and left > 0:
                return float(min(left, seconds))
            # The last hit aged out between the two statements: try again.

    @asynccontextmanager
    async def slot(self, key: str, limit: int) -> AsyncIterator[None]:
        """Hold one of ``key``'s ``limit`` slots across processes, or raise SlotsFull."""
        token = await self._take_slot(key, limit)
        try:
            yield
        finally:
            await self._leases.release("slot_leases", token)

    async def _take_slot(self, key: str, limit: int) -> str:
        token = self._leases.token()

        async def take(conn: Any) -> bool:
            # Serializes check-and-take per key; the count below sees every slot committed
            # before this lock was granted (each statement reads afresh).
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                               _SLOTS_LOCK, key)
            return bool(await conn.fetchval(_TAKE_SLOT, key, token, limit,
                                            self._leases.seconds))

        try:
            taken = await self._database.transaction(take)
        except BaseException:
            await self._leases.release("slot_leases", token)  # it may have committed
            raise
        if not taken:
            raise SlotsFull(key)
        self._leases.keep("slot_leases", token)
        return token

    async def try_upstream(self, per_minute: int) -> float:
        """Record one request to the model service if fewer than ``per_minute`` were made in
        the last 60 s (by any process); 0 then, else the seconds until one is free."""

        async def record(conn: Any) -> Any:
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", _UPSTREAM_LOCK)
            return await conn.fetchrow(_UPSTREAM, per_minute)

        # A retry after a lost commit may count one request twice: the window then admits
        # one request fewer for a minute, never one more.
        added, wait = await self._database.transaction(record)
        if added:
            return 0.0
        return WINDOW_SECONDS if wait is None else max(float(wait), _MIN_WAIT)

    async def prune(self, *, cooldowns_older_than: float) -> Expired:
        """Delete cooldown times older than ``cooldowns_older_than`` seconds, expired leases
        and request rows outside the window, each by one statement of its own."""
        database = self._database
        cooldowns = _count(await database.execute(_PRUNE_COOLDOWNS,
                                                  float(cooldowns_older_than)))
        leases = sum([_count(await database.execute(statement)) for statement in _PRUNE_LEASES])
        upstream = _count(await database.execute(_PRUNE_UPSTREAM))
        return Expired(cooldowns=cooldowns, leases=leases, upstream=upstream)


def _count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3``."""
    return int(status.split()[-1])
