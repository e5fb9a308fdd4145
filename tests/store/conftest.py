"""Store fixtures: a fresh PostgreSQL database per test, and either backend opened on demand.

PostgreSQL comes from OMNICORD_TEST_POSTGRES (default: the local server, database ``test``).
When it cannot be reached the PostgreSQL tests skip, except under CI=true, where they fail:
CI must run them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from omnicord.store import SqliteStore, Store

T = TypeVar("T")

POSTGRES = os.environ.get("OMNICORD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
LEASE_SECONDS = 1.0  # the PostgreSQL stores' lease time in tests: takeovers within a second


def run_in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a loop of its own, from sync or async code alike."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work()).result()


async def admin(statement: str, url: str = POSTGRES) -> Any:
    """Run one statement on its own connection (CREATE/DROP DATABASE cannot share one)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return await conn.execute(statement)
    finally:
        await conn.close()


@functools.cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run, or None: checked once per session (per worker)."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return 'asyncpg is not installed: pip install -e ".[test]" in the checkout'
    try:
        run_in_thread(lambda: admin("SELECT 1"))
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        return (f"PostgreSQL not reachable at {POSTGRES} ({reason}); "
                "set OMNICORD_TEST_POSTGRES")
    return None


def require_postgres() -> None:
    """Skip the test when PostgreSQL is unreachable, or fail it under CI=true."""
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(problem)


def with_database(url: str, name: str) -> str:
    """``url`` naming another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def fresh_database() -> tuple[str, Callable[[], None]]:
    """A new empty database's URL, and the function that drops it."""
    require_postgres()
    name = f"omnicord_t_{uuid.uuid4().hex[:16]}"
    run_in_thread(lambda: admin(f"CREATE DATABASE {name}"))
    return with_database(POSTGRES, name), lambda: run_in_thread(
        lambda: admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    url, drop = fresh_database()
    try:
        yield url
    finally:
        drop()


StoreFactory = Callable[..., Awaitable[Store]]


@pytest.fixture
async def make_store(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Open a new, empty store of a backend (a new file or database each call); all are
    closed (and their databases dropped) after the test."""
    async with AsyncExitStack() as stack:
        count = 0

        async def make(backend: str, *, migrate: bool = True) -> Store:
            nonlocal count
            count += 1
            store: Store
            if backend == "sqlite":
                store = SqliteStore(tmp_path / f"store-{count}.db")
            else:
                from omnicord.store.postgres.store import PostgresStore

                url, drop = await asyncio.to_thread(fresh_database)
                stack.callback(drop)
                store = PostgresStore(url, lease_seconds=LEASE_SECONDS)
            await store.open(migrate=migrate)
            stack.push_async_callback(store.close)
            return store

        yield make


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, make_store: StoreFactory) -> Store:
    """An open, migrated, empty store of each backend in turn."""
    if request.param == "postgresql":
        require_postgres()
    return await make_store(request.param)
