"""A pool of connections to one PostgreSQL database, and the one-line errors of reaching it.

asyncpg is an optional dependency (the ``postgresql`` extra): importing this module without it
raises ConfigError saying what to install, in a form that works wherever Omnicord came from
(``omnicord`` is not published on a package index, so ``omnicord[postgresql]`` resolves nowhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from omnicord.errors import ConfigError
from omnicord.secrets import URL_MASK, mask_url, url_password, url_secrets
from omnicord.store.errors import StoreUnavailable

try:
    import asyncpg
except ImportError:
    raise ConfigError(
        'OMNICORD_DB is a PostgreSQL URL, which needs asyncpg: pip install "asyncpg>=0.30" '
        '(in an Omnicord checkout, pip install -e ".[postgresql]")') from None

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0
CLOSE_TIMEOUT = 10.0
#: Pauses before each new try of work whose connection was lost (a server restart, a killed
#: backend, a failover): about 7 s in all, then StoreUnavailable.
RETRY_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0, 3.0)

T = TypeVar("T")
Work = Callable[[Any], Awaitable[T]]  # given an asyncpg connection

#: What reaching or preparing the database can raise: the driver's errors, the socket's, and
#: ValueError for a URL it cannot parse.
_FAILURES = (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)

#: What a lost connection (or a transaction the server rolled back to break a deadlock)
#: raises: the work was not done, or done exactly as a retry would do it again.
_LOST = (
    OSError,  # reset, refused while the server restarts
    asyncpg.PostgresConnectionError,  # 08…
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_terminate_backend, fast shutdown
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TransactionRollbackError,  # 40…: deadlock, serialization
    asyncpg.exceptions.InternalClientError,  # the protocol state broken by a dying socket
)


class ConnectionClosed(Exception):
    """asyncpg's InterfaceError on a connection found closed (its other InterfaceErrors, such
    as an argument it cannot encode, are not retried)."""


class PostgresDatabase:
    """A connection pool (``min_size`` 1, ``max_size`` ``pool_size``) opened and closed with its
    store."""

    def __init__(self, url: str, *, pool_size: int = 10,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool: Any = None

    @property
    def pool(self) -> Any:
        """The open pool (``asyncpg.Pool``); RuntimeError before ``open``."""
        if self._pool is None:
            raise RuntimeError("the database is not open")
        return self._pool

    async def open(self, prepare: Work[object] | None = None) -> None:
        """Connect, then run ``prepare`` (migrations) on one connection.

        Any failure closes the pool and becomes one ``StoreUnavailable`` line naming the URL
        without its password.
        """
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size, timeout=self.connect_timeout,
                reset=_keep_session)
        except _FAILURES as error:
            raise StoreUnavailable(self._unavailable("cannot connect to", error)) from None
        if prepare is None:
            return
        try:
            await self.run(prepare, "cannot migrate")
        except BaseException:
            await self.close()
            raise

    async def run(self, work: Work[T], failing: str = "cannot use") -> T:
        """Run ``work`` (such as migrating) on one connection, again on a new one if the
        connection is lost; a failure is one StoreUnavailable line:
        "OMNICORD_DB: {failing} {url}: {why}"."""
        try:
            return await self.retrying(work)
        except _FAILURES as error:
            raise StoreUnavailable(self._unavailable(failing, error)) from None

    async def retrying(self, work: Work[T]) -> T:
        """Run ``work`` on a pooled connection; if the connection is lost, on a fresh one after
        a pause (``RETRY_PAUSES``). ``work`` must be idempotent: it may have been done before
        the connection died. StoreUnavailable once every try lost its connection."""
        for pause in (*RETRY_PAUSES, None):
            try:
                return await self._once(work)
            except (*_LOST, ConnectionClosed) as error:
                if pause is None:
                    raise StoreUnavailable(self._unavailable(
                        f"lost the connection {len(RETRY_PAUSES) + 1} times to", error)
                    ) from None
                # The driver's words, not its class names: a CLI prints this line on stderr.
                log.warning("%s; trying again in %.2fs",
                            self._unavailable("lost the connection to", error), pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _once(self, work: Work[T]) -> T:
        conn = await self._acquire()
        try:
            return await work(conn)
        except _LOST:
            _discard(conn)
            raise
        except asyncpg.InterfaceError as error:
            if type(error) is not asyncpg.InterfaceError or not _closed(conn):
                raise
            _discard(conn)
            raise ConnectionClosed(describe(error)) from error
        finally:
            # A connection that dies while being reset is terminated by the pool: the work's
            # outcome stands.
            with contextlib.suppress(*_LOST, asyncpg.InterfaceError):
                await self.pool.release(conn)

    async def _acquire(self) -> Any:
        """A pooled connection (a new one if needed); what refuses it for good, such as a
        database not accepting connections, is StoreUnavailable."""
        try:
            return await self.pool.acquire()
        except _LOST:
            raise
        except _FAILURES as error:
            raise StoreUnavailable(self._unavailable("cannot connect to", error)) from None

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """The rows of an idempotent query, retried on a lost connection."""
        rows: list[Any] = await self.retrying(lambda conn: conn.fetch(query, *args))
        return rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """The first row (or None) of an idempotent query, retried on a lost connection."""
        return await self.retrying(lambda conn: conn.fetchrow(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first value (or None) of an idempotent query, retried on a lost connection."""
        return await self.retrying(lambda conn: conn.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        """Run an idempotent statement, retried on a lost connection; its status."""
        status: str = await self.retrying(lambda conn: conn.execute(query, *args))
        return status

    async def transaction(self, work: Work[T]) -> T:
        """Run ``work`` in one transaction, all of it again on a new connection if the
        connection is lost (so ``work`` must be idempotent as a whole)."""

        async def run(conn: Any) -> T:
            async with conn.transaction():
                return await work(conn)

        return await self.retrying(run)

    async def close(self) -> None:
        """Close every connection of the pool: gracefully, or at once if a query is still
        running after ``CLOSE_TIMEOUT`` seconds."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await pool.close()
        except TimeoutError:
            pool.terminate()

    def _unavailable(self, action: str, error: BaseException) -> str:
        if _unparsable(self.url):  # the driver's words would quote pieces of the password
            reason = ("not a valid PostgreSQL URL (percent-encode the password's special "
                      "characters: %40 for @, %2F for /, %3F for ?, %23 for #)")
        else:
            reason = describe(error)
        for secret in url_secrets(self.url):
            reason = reason.replace(secret, URL_MASK)
        return f"OMNICORD_DB: {action} {printable(self.url)}: {reason}"


def _closed(conn: Any) -> bool:
    """Whether a pooled connection is closed (asyncpg hands one it saw die back to the pool,
    detached from its proxy)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # released: asyncpg saw it close
        return True


def _discard(conn: Any) -> None:
    """Close a broken connection for good, so the pool opens a new one instead."""
    with contextlib.suppress(asyncpg.InterfaceError):  # already released as closed
        conn.terminate()


async def _keep_session(conn: Any) -> None:
    """Nothing to reset when a connection returns to the pool: the store never changes session
    state (no SET, LISTEN or session advisory locks; its locks are transaction-level), and an
    open transaction is still rolled back by asyncpg. The default reset costs a round trip
    per statement."""


def describe(error: BaseException) -> str:
    """Why the database could not be used, in a few words on one line."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is PostgreSQL running and listening there?)"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, TimeoutError):
        return "no answer from the server in time"
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ValueError) and not isinstance(error, asyncpg.PostgresError):
        return f"not a valid PostgreSQL URL ({text})"
    return text


def printable(url: str) -> str:
    """The URL with any password, token or key replaced by ``***``, even a URL too broken to
    parse."""
    return mask_url(url)


def _unparsable(url: str) -> bool:
    """Whether the password holds an unencoded ``@``, ``/``, ``?`` or ``#``: the driver then
    reads another host, port or database out of the URL."""
    password = url_password(url)
    return password is not None and any(char in password for char in "@/?#")
