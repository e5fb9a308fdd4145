"""PostgreSQL under faults: backends killed while replies stream (nothing lost, nothing
twice), a conversation lease whose release failed (this process takes it back at once,
another's is still respected), a database that stays away (one clean StoreUnavailable line),
text with NUL characters in preferences, and a ``db copy`` that fails part-way (undone)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from omnicord.conversation.compose import NewMessage
from omnicord.conversation.respond import Conversations, Payer, ReplyOptions
from omnicord.model.catalog import find_model
from omnicord.model.omni import OmniClient
from omnicord.store import SqliteStore
from omnicord.store.copy import COPY_TABLES, CopyRefused, copy_store
from omnicord.store.errors import StoreUnavailable
from omnicord.store.records import GuildPreferences, MemberPreferences, Turn

from tests.doubles.fake_dashscope import FakeDashScope
from tests.store.conftest import POSTGRES, admin, postgres_url  # noqa: F401  (a fixture)

asyncpg = pytest.importorskip("asyncpg")
from omnicord.store.postgres.store import PostgresStore  # noqa: E402  (needs asyncpg)

FLASH = find_model("qwen3-omni-flash")
KILL_EVERY = 0.3
SCOPES, TURNS = 16, 4


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@asynccontextmanager
async def killing(url: str, limit: float = 60.0) -> AsyncIterator[list[int]]:
    """Terminate every other backend of the database every ``KILL_EVERY`` seconds while the
    block runs (at most ``limit`` seconds); yields [backends killed]."""
    killed = [0]
    conn = await asyncpg.connect(url, timeout=5)

    async def kill() -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            killed[0] += await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                " FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                database_of(url))
            await asyncio.sleep(KILL_EVERY)

    killer = asyncio.create_task(kill())
    try:
        yield killed
    finally:
        killer.cancel()
        await asyncio.gather(killer, return_exceptions=True)
        await conn.close()


def retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum("trying again" in record.getMessage() for record in caplog.records)


# --- replies streaming while backends die -----------------------------------------------------

async def test_replies_streaming_while_backends_are_killed_lose_nothing(
        dashscope: FakeDashScope, postgres_url: str,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "omnicord.store")
    dashscope.token_delay = 0.02  # replies overlap the kills
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    options = ReplyOptions(model=FLASH, model_name=FLASH.name)

    async def talk(conversations: Conversations, scope: int) -> None:
        for n in range(TURNS):
            await conversations.respond(
                f"channel:{scope}", speaker_id=str(scope), options=options,
                new=NewMessage("Ada", f"question {scope}.{n} " + "with words " * 8),
                payer=Payer(str(scope), "g", str(scope)))

    try:
        async with PostgresStore(postgres_url) as store:
            conversations = Conversations(store, client)
            # Backends die every 0.3 s for the first 5 s, the busiest part; a machine slow
            # enough to lose every try inside a retry window would test the machine.
            async with killing(postgres_url, limit=5.0) as killed:
                await asyncio.wait_for(asyncio.gather(
                    *(talk(conversations, scope) for scope in range(SCOPES))), 60)
            for scope in range(SCOPES):
                assert [t.text for t in await store.history(f"channel:{scope}")] == [
                    f"question {scope}.{n} " + "with words " * 8 for n in range(TURNS)]
            assert await store.count_rows("turns") == SCOPES * TURNS
            assert await store.count_rows("usage") == SCOPES * TURNS
    finally:
        await client.aclose()
    print(f"{killed[0]} backends killed, {retries(caplog)} statements retried")
    assert killed[0] >= 3 and retries(caplog) >= 1  # the faults really happened


# --- a lease whose release failed -------------------------------------------------------------

@asynccontextmanager
async def database_away(url: str) -> AsyncIterator[None]:
    """The database refuses new connections and has lost every open one, until the block
    ends."""
    name = database_of(url)
    await admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false", POSTGRES)
    try:
        for _ in range(50):  # until the killed backends are gone (bounded: 5 s)
            alive = await admin_value(
                "SELECT count(*) FILTER (WHERE NOT pg_terminate_backend(pid)) + count(*)"
                f" FROM pg_stat_activity WHERE datname = '{name}'")
            if not alive:
                break
            await asyncio.sleep(0.1)
        yield
    finally:
        await admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true", POSTGRES)


async def admin_value(query: str) -> int:
    conn = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def held_within(store: PostgresStore, scope: str, seconds: float) -> None:
    """Take and release the scope's conversation lock, failing after ``seconds``."""
    async with asyncio.timeout(seconds), store.hold(scope):
        pass


async def test_a_lease_left_by_a_failed_release_is_taken_back_at_once(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    # Leases live a minute here: only taking back its own lets a process hold again soon.
    async with PostgresStore(postgres_url) as ours, PostgresStore(postgres_url) as theirs:
        hold = ours.hold("channel:1")
        await hold.__aenter__()
        async with database_away(postgres_url):
            await hold.__aexit__(None, None, None)  # the release fails, and is logged
        assert any("releasing lease" in r.getMessage() for r in caplog.records)
        left = await theirs.database.fetchval(
            "SELECT holder FROM scope_leases WHERE scope = 'channel:1'")
        assert left.startswith(ours.leases.prefix)
        await held_within(ours, "channel:1", 5)
        async with theirs.hold("channel:2"):  # another process's lease is respected
            with pytest.raises(TimeoutError):
                await held_within(ours, "channel:2", 3)
        await held_within(ours, "channel:2", 5)  # and free once released


async def test_a_database_that_stays_away_is_one_clean_line(postgres_url: str  # noqa: F811
                                                           ) -> None:
    url = postgres_url.replace("postgres@", "postgres:s3cret-pw@")  # trust: never sent
    async with PostgresStore(url) as store:
        await store.add_turn("channel:1", turn("before"))
        async with database_away(url):
            with pytest.raises(StoreUnavailable) as caught:
                await store.recall("channel:1")
        (line,) = str(caught.value).splitlines()
        assert line.startswith("OMNICORD_DB: ") and "s3cret-pw" not in line
        assert "asyncpg" not in line
        assert [t.text for t in await store.history("channel:1")] == ["before"]  # recovers


def turn(text: str) -> Turn:
    return Turn(speaker_id="7", speaker_name="Ada", text=text, reply_text="ok",
                model=FLASH.name)


# --- NUL characters in preferences ------------------------------------------------------------

async def test_preferences_with_nul_characters_are_stored_without_them(
        postgres_url: str) -> None:  # noqa: F811
    async with PostgresStore(postgres_url) as store:
        prefs = store.preferences
        await prefs.save_guild("1", GuildPreferences(system_prompt="be\x00 brief",
                                                     caption_language="Fr\x00ench"))
        await prefs.save_member("1", "7", MemberPreferences(caption_language="Ger\x00man"))
        guild = await prefs.guild("1")
        assert (guild.system_prompt, guild.caption_language) == ("be brief", "French")
        assert (await prefs.member("1", "7")).caption_language == "German"


# --- a copy that fails part-way ---------------------------------------------------------------

async def test_a_copy_that_fails_part_way_leaves_the_target_empty(
        postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    from tests.cli.test_db import fill

    await fill(tmp_path / "server.db")
    async with SqliteStore(tmp_path / "server.db") as source, \
            PostgresStore(postgres_url) as target:
        # A row SQLite took but PostgreSQL refuses, after conversations and turns are in.
        await source.write(lambda db: db.execute(
            "UPDATE usage SET prompt_tokens = 'lots' WHERE user_id = '8'"))
        with pytest.raises(CopyRefused) as caught:
            await copy_store(source, target, batch=10)
        (line,) = str(caught.value).splitlines()
        assert line.startswith("copying usage failed: ") and "target is empty again" in line
        assert [await target.count_rows(table) for table in COPY_TABLES] == [0] * len(
            COPY_TABLES)
        await source.write(lambda db: db.execute(
            "UPDATE usage SET prompt_tokens = 4 WHERE user_id = '8'"))
        copied = await copy_store(source, target, batch=10)  # the same copy, run again
        assert [c.target_rows for c in copied] == [c.source_rows for c in copied]
        assert await target.recall("guild:1:channel:0") == await source.recall(
            "guild:1:channel:0")
