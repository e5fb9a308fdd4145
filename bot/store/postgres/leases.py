"""Leases: rows in PostgreSQL that say a process holds something until they expire.

A lease is taken by one short statement and renewed by one heartbeat task per store while
held, so a held conversation or slot pins no pooled connection (a reply takes seconds; N
replies under way must not need N connections). A process that dies stops renewing, and its
leases free themselves within their time to live. Each acquisition has its own token, never
reused, so a late release can only ever delete the lease it was meant for.

``ScopeHolds`` builds the conversation lock on them: FIFO within the process, then a lease.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Literal

from omnicord.store.locks import ScopeLocks
from omnicord.store.postgres.database import PostgresDatabase

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # a crashed process's leases are free again within this
POLL_START, POLL_MAX = 0.005, 0.1

LeaseTable = Literal["scope_leases", "slot_leases"]

# Free, expired, already ours (a retry after a lost connection), or left by this process
# (whose own lock in memory says nobody here holds it: a release that failed) — then taken.
_TAKE_SCOPE = """
    INSERT INTO scope_leases AS lease (scope, holder, expires_at)
    VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
    ON CONFLICT (scope) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE lease.expires_at < clock_timestamp() OR lease.holder = excluded.holder
       OR starts_with(lease.holder, $4)
    RETURNING true"""


class Leases:
    """The leases one store holds: tokens, the heartbeat that renews them, their release."""

    def __init__(self, database: PostgresDatabase, *, seconds: float = LEASE_SECONDS) -> None:
        self.database = database
        self.seconds = float(seconds)
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}/"
        self._counter = itertools.count(1)
        self._held: dict[str, LeaseTable] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def prefix(self) -> str:
        """What every token of this store begins with."""
        return self._prefix

    def token(self) -> str:
        """A new acquisition's token: which process took it, unique in the database."""
        return f"{self._prefix}{next(self._counter)}"

    def keep(self, table: LeaseTable, token: str) -> None:
        """Renew this lease until it is released."""
        self._held[token] = table

    async def release(self, table: LeaseTable, token: str) -> None:
        """Delete the lease. Runs to the end even if the caller is cancelled meanwhile; a
        failure is logged and leaves the lease to expire."""
        self._held.pop(token, None)
        await _finish(self._delete(table, token), f"releasing lease {token}")

    async def _delete(self, table: LeaseTable, token: str) -> None:
        await self.database.execute(f"DELETE FROM {table} WHERE holder = $1", token)

    def start(self) -> None:
        """Start renewing held leases (every third of their time to live)."""
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="omnicord-lease-heartbeat")

    async def stop(self) -> None:
        """Stop renewing, and release whatever is still held."""
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        for token, table in list(self._held.items()):
            await self.release(table, token)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                await self.renew()
            except Exception as error:  # the next beat tries again; the leases last till then
                log.warning("could not renew %d leases: %s", len(self._held), error)

    async def renew(self) -> None:
        """Push back the expiry of every lease held."""
        for table in ("scope_leases", "slot_leases"):
            tokens = [token for token, held in self._held.items() if held == table]
            if tokens:
                await self.database.execute(
                    f"UPDATE {table} SET expires_at = clock_timestamp() + make_interval(secs"
                    " => $2) WHERE holder = ANY($1::text[])", tokens, self.seconds)


class ScopeHolds:
    """One reply at a time per conversation: FIFO in this process, a lease across processes."""

    def __init__(self, leases: Leases) -> None:
        self._leases = leases
        self._local = ScopeLocks()

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        """Wait for, then hold, the scope's lock in this process and then across processes."""
        async with self._local.hold(scope):
            token = await self._take(scope)
            try:
                yield
            finally:
                await self._leases.release("scope_leases", token)

    async def _take(self, scope: str) -> str:
        """Poll for the scope's lease (5 ms doubling to 100 ms) until it is free or expired."""
        leases = self._leases
        token = leases.token()
        delay = POLL_START
        while True:
            try:
                taken = await leases.database.fetchval(
                    _TAKE_SCOPE, scope, token, leases.seconds, leases.prefix)
            except BaseException:
                # Cancelled mid-statement, the lease may be ours without our knowing.
                await leases.release("scope_leases", token)
                raise
            if taken:
                leases.keep("scope_leases", token)
                return token
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)


async def _finish(work: Awaitable[None], what: str) -> None:
    """Run ``work`` to the end even if the caller is cancelled; log (not raise) its failure."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            task.add_done_callback(lambda done: _log_failure(done, what))
        raise
    except Exception as error:
        log.warning("%s failed: %s", what, error)


def _log_failure(task: asyncio.Future[None], what: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s failed: %s", what, task.exception())
