"""Monthly totals for budgets (``usage_months``) and the once-only notice claim, on both
backends: counted by the database with every usage row, exactly, never lowered by erasures or
pruning, and moved whole by ``omnicord db copy``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from omnicord.store import Store, Turn
from omnicord.store.copy import copy_store
from omnicord.store.records import GuildPreferences, UsageRow
from omnicord.store.sqlite.store import SqliteStore

from tests.store.conftest import StoreFactory, require_postgres
from tests.store.test_contract import migrate_to

MODEL = "qwen3-omni-flash"
OTHER = "qwen3-omni-flash-realtime"


def turn(text: str, speaker: str = "7") -> Turn:
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text=f"re {text}",
                model=MODEL)


def usage(user: str = "7", prompt: int = 10, completion: int = 5, *, guild: str = "g1",
          model: str = MODEL, day: str = "2026-12-01", channel: str = "c1") -> UsageRow:
    return UsageRow(user_id=user, model=model, prompt_tokens=prompt, completion_tokens=completion,
                    guild_id=guild, channel_id=channel, day=day)


@asynccontextmanager
async def twin(store: Store) -> AsyncIterator[Store]:
    """A second store on the same database: another process, as far as the data goes."""
    other: Store
    if isinstance(store, SqliteStore):
        other = SqliteStore(store.path)
    else:
        from omnicord.store.postgres.store import PostgresStore

        other = PostgresStore(store.url)  # type: ignore[attr-defined]
    await other.open()
    try:
        yield other
    finally:
        await other.close()


async def test_turns_and_other_usage_are_counted_per_server_and_for_the_bot(
        store: Store) -> None:
    await store.add_turn("channel:1", turn("a"), usage("7", 10, 5))
    await store.add_turn("channel:1", turn("b"), usage("8", 1, 2, model=OTHER))
    await store.add_turn("channel:2", turn("c"), None)  # no usage: nothing counted
    await store.add_usage(usage("7", 100, 0))  # a caption
    await store.add_usage(usage("7", 3, 4, guild="g2"))
    await store.add_usage(usage("9", 1, 1, guild=""))  # a DM: the bot's only
    await store.add_usage(usage("7", 50, 50, day="2026-11-30"))  # last month
    assert await store.month_usage("guild:g1", "2026-12") == [(MODEL, 110, 5), (OTHER, 1, 2)]
    assert await store.month_usage("guild:g2", "2026-12") == [(MODEL, 3, 4)]
    assert await store.month_usage("bot", "2026-12") == [(MODEL, 114, 10), (OTHER, 1, 2)]
    assert await store.month_usage("guild:g1", "2026-11") == [(MODEL, 50, 50)]
    assert await store.month_usage("guild:g3", "2026-12") == []


async def test_concurrent_writers_in_two_processes_are_counted_exactly(store: Store) -> None:
    async with twin(store) as other:
        writes = []
        for n in range(40):
            writer = (store, other)[n % 2]
            channel = f"9{n % 7:02d}"  # seven stripes, several writers in each
            if n % 4 < 2:
                writes.append(writer.add_turn(f"channel:{n % 3}", turn(f"t{n}", str(n)),
                                              usage(str(n), n, 1, channel=channel)))
            else:
                writes.append(writer.add_usage(usage(str(n), n, 1, guild=("g1", "")[n % 8 < 4],
                                                     channel=channel)))
        await asyncio.gather(*writes)
        on_server = sum(n for n in range(40) if n % 4 < 2 or n % 8 >= 4)
        servers = sum(1 for n in range(40) if n % 4 < 2 or n % 8 >= 4)
        for reader in (store, other):
            assert await reader.month_usage("guild:g1", "2026-12") == [(MODEL, on_server,
                                                                        servers)]
            assert await reader.month_usage("bot", "2026-12") == [(MODEL, sum(range(40)), 40)]


async def test_erasures_and_pruning_never_lower_the_totals(store: Store) -> None:
    await store.add_turn("channel:1", turn("mine", "7"), usage("7", 10, 5))
    await store.add_usage(usage("7", 20, 0))
    await store.add_usage(usage("8", 1, 1))
    await store.add_usage(usage("8", 2, 2, day="2026-11-01"))
    removed = await store.forget_member("7")
    assert removed.usage == 2
    assert (await store.prune(turns_before="2026-12-01T00:00:00.000Z",
                              usage_before="2026-12-01")).usage == 1
    assert await store.usage_by_model(since_day="2000-01-01") == [(MODEL, 1, 1)]
    assert await store.month_usage("guild:g1", "2026-12") == [(MODEL, 31, 6)]
    assert await store.month_usage("bot", "2026-11") == [(MODEL, 2, 2)]


async def test_an_erased_members_usage_written_late_is_not_counted(store: Store) -> None:
    before = usage("7", 10, 5)  # began now...
    await store.forget_member("7")  # ...and the member was erased since
    assert not await store.add_usage(before)
    assert await store.month_usage("guild:g1", "2026-12") == []


async def test_a_notice_is_claimed_once_of_many_callers_in_two_processes(store: Store) -> None:
    async with twin(store) as other:
        claims = await asyncio.gather(*(
            (store, other)[n % 2].claim_notice("budget-80:g1:2026-12") for n in range(20)))
        assert claims.count(True) == 1
        assert not await store.claim_notice("budget-80:g1:2026-12")
        assert await other.claim_notice("budget-80:bot:2026-12")  # another notice


async def test_budgets_are_kept_with_the_servers_preferences(store: Store) -> None:
    prefs = GuildPreferences(daily_token_cap=5, monthly_token_budget=1_000_000,
                             monthly_money_budget=12.5)
    await store.preferences.save_guild("g1", prefs)
    assert await store.preferences.guild("g1") == prefs
    assert await store.preferences.guild("g2") == GuildPreferences()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_upgrade_counts_the_usage_already_stored(backend: str,
                                                           make_store: StoreFactory) -> None:
    if backend == "postgresql":
        require_postgres()
    store = await make_store(backend, migrate=False)
    await migrate_to(store, 12)
    await store.add_usage(usage("7", 10, 5))
    await store.add_usage(usage("8", 1, 1, guild=""))
    await store.add_usage(usage("8", 2, 2, day="2026-11-30"))
    assert 13 in await store.migrate()
    assert await store.month_usage("guild:g1", "2026-12") == [(MODEL, 10, 5)]
    assert await store.month_usage("bot", "2026-12") == [(MODEL, 11, 6)]
    assert await store.month_usage("bot", "2026-11") == [(MODEL, 2, 2)]
    await store.add_usage(usage("7", 1, 1))  # counted from here on by the trigger
    assert await store.month_usage("guild:g1", "2026-12") == [(MODEL, 11, 6)]


@pytest.mark.parametrize(("source_backend", "target_backend"),
                         [("sqlite", "postgresql"), ("postgresql", "sqlite")])
async def test_a_copy_keeps_the_totals_erased_members_included(
        source_backend: str, target_backend: str, make_store: StoreFactory) -> None:
    require_postgres()
    source = await make_store(source_backend)
    target = await make_store(target_backend)
    for n in range(7):
        await source.add_turn("channel:1", turn(f"t{n}", str(n % 3)), usage(str(n % 3), n, 1))
        await source.add_usage(usage(str(n % 3), 1, n, guild=("g1", "g2", "")[n % 3]))
    await source.preferences.save_guild("g1", GuildPreferences(monthly_token_budget=500,
                                                               monthly_money_budget=2.5))
    await source.forget_member("1")  # their rows go; the totals stay
    await copy_store(source, target, batch=2)
    for key in ("bot", "guild:g1", "guild:g2"):
        assert await target.month_usage(key, "2026-12") == await source.month_usage(
            key, "2026-12"), key
    assert (await target.preferences.guild("g1")).monthly_money_budget == 2.5
    await target.add_usage(usage("5", 1000, 0))  # the target counts on from the copied totals
    bot = dict((m, (p, c)) for m, p, c in await target.month_usage("bot", "2026-12"))
    source_bot = dict((m, (p, c)) for m, p, c in await source.month_usage("bot", "2026-12"))
    assert bot[MODEL][0] == source_bot[MODEL][0] + 1000


@pytest.mark.parametrize(("backend", "other"), [("sqlite", "postgresql"),
                                                ("postgresql", "sqlite")])
async def test_the_striping_upgrade_keeps_every_total_and_copies_whole(
        backend: str, other: str, make_store: StoreFactory) -> None:
    """Migration 0016 spreads each total over stripes by channel: totals read the same before
    and after (erased members' spend included), and the upgraded store copies to the other
    backend row for row, counting on from there."""
    require_postgres()
    store = await make_store(backend, migrate=False)
    await migrate_to(store, 15)
    for n in range(12):
        channel = f"10{n % 4}"  # four stripes, and one DM channel below
        await store.add_usage(UsageRow(user_id=str(n % 3), model=(MODEL, OTHER)[n % 2],
                                       prompt_tokens=n, completion_tokens=1,
                                       guild_id=("g1", "g2", "")[n % 3], channel_id=channel,
                                       day="2026-12-01"))
    await store.forget_member("1")  # their rows go; the totals keep their spend
    keys = [("bot", "2026-12"), ("guild:g1", "2026-12"), ("guild:g2", "2026-12")]
    before = [await store.month_usage(key, month) for key, month in keys]
    assert 16 in await store.migrate()
    assert [await store.month_usage(key, month) for key, month in keys] == before
    await store.add_usage(usage("7", 5, 5))  # counted on, in its own stripe
    bot = dict((m, (p, c)) for m, p, c in await store.month_usage("bot", "2026-12"))
    assert bot[MODEL] == (dict((m, (p, c)) for m, p, c in before[0])[MODEL][0] + 5,
                          dict((m, (p, c)) for m, p, c in before[0])[MODEL][1] + 5)
    target = await make_store(other)
    copied = {c.table: c for c in await copy_store(store, target, batch=3)}
    assert copied["usage_months"].target_rows == copied["usage_months"].source_rows
    for key, month in keys:
        assert await target.month_usage(key, month) == await store.month_usage(key, month), key
