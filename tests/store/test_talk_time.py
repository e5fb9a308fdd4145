"""Live talk's settings and talk time: the same on both backends, and no second lost when
sessions in several stores add to one server's day at once."""

from __future__ import annotations

import asyncio

import pytest
from omnicord.store import SqliteStore
from omnicord.store.interface import Store
from omnicord.store.records import TalkSettings


async def test_talk_is_off_until_a_server_enables_it(store: Store) -> None:
    assert await store.talk.settings("g1") == TalkSettings()
    chosen = TalkSettings(enabled=True, minutes_per_day=15, idle_minutes=2,
                          caption_members=True, roles=frozenset({"11", "22"}))
    await store.talk.save("g1", chosen)
    assert await store.talk.settings("g1") == chosen
    assert await store.talk.settings("g2") == TalkSettings()
    await store.talk.save("g1", TalkSettings(enabled=False, minutes_per_day=15))
    assert (await store.talk.settings("g1")).roles == frozenset()


async def test_talk_time_adds_up_per_server_and_day(store: Store) -> None:
    assert await store.talk.used("g1", "2026-12-07") == 0.0
    assert await store.talk.spend("g1", "2026-12-07", 12.5) == 12.5
    assert await store.talk.spend("g1", "2026-12-07", 0.0) == 12.5
    assert await store.talk.spend("g1", "2026-12-08", 3.0) == 3.0
    assert await store.talk.spend("g2", "2026-12-07", 1.0) == 1.0
    assert await store.talk.used("g1", "2026-12-07") == 12.5


async def test_concurrent_sessions_in_several_stores_lose_no_second(
    store: Store, request: pytest.FixtureRequest
) -> None:
    others = [_same_database(store) for _ in range(2)]
    for other in others:
        await other.open()
    try:
        stores = [store, *others]
        await asyncio.gather(*(stores[n % 3].talk.spend("g", "2026-12-07", 0.5)
                               for n in range(60)))
        assert await store.talk.used("g", "2026-12-07") == 30.0
    finally:
        for other in others:
            await other.close()


def _same_database(store: Store) -> Store:
    """Another store on ``store``'s database, as another process would open it."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.database.path)
    from omnicord.store.postgres.store import PostgresStore

    assert isinstance(store, PostgresStore)
    return PostgresStore(store.url)
