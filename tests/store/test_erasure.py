"""Erasures every process obeys: tombstones in the store keep a turn or usage row that arrives
after an erasure out of it, on both backends and across stores sharing one database; erased
text leaves the database's files; NUL characters are stored the same way everywhere."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from omnicord.store import SqliteStore, Store, Turn
from omnicord.store.records import Kept, UsageRow, utc_now

from tests.store.conftest import StoreFactory, require_postgres

MODEL = "qwen3-omni-flash"
BEFORE = "2020-01-01T00:00:00.000Z"  # a message that came in long before any erasure


def turn(text: str, speaker: str = "7", *, created_at: str = BEFORE,
         source: str | None = None) -> Turn:
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text=f"re {text}",
                model=MODEL, created_at=created_at, source_message_id=source)


def usage(user: str = "7", *, began_at: str = BEFORE) -> UsageRow:
    return UsageRow(user_id=user, model=MODEL, prompt_tokens=10, completion_tokens=5,
                    guild_id="", channel_id="c1", began_at=began_at)


async def rows_of(store: Store, user: str) -> tuple[int, int]:
    """(turns spoken by, usage rows of) a member."""
    turns = 0
    for scope in ("dm:7", "channel:1", "channel:2"):
        turns += sum(t.speaker_id == user for t in await store.history(scope))
    used = sum(n_in for _, n_in, _ in
               await store.usage_by_model(since_day="2000-01-01", user_id=user))
    return turns, used


async def test_a_turn_begun_before_its_member_was_forgotten_is_not_kept(store: Store) -> None:
    await store.forget_member("7", own_scopes=["dm:7"])
    assert await store.add_turn("dm:7", turn("late"), usage()) is Kept.FORGOTTEN
    assert await store.add_usage(usage()) is False
    assert await rows_of(store, "7") == (0, 0)
    assert await store.recall("dm:7") == ([], None)  # not even the conversation's row
    assert await store.count_rows("conversations") == 0
    # Another member, and the same member's later messages, are kept.
    assert await store.add_turn("channel:1", turn("other", speaker="8"), usage("8")) is Kept.STORED
    later = utc_now()
    await asyncio.sleep(0.01)
    assert await store.add_turn("dm:7", turn("new", created_at=later), usage(began_at=later)
                                ) is Kept.STORED
    assert await store.add_usage(usage(began_at=later)) is True
    assert await rows_of(store, "7") == (1, 20)


async def test_a_turn_whose_usage_payer_was_forgotten_is_not_kept(store: Store) -> None:
    await store.forget_member("9")
    assert await store.add_turn("channel:1", turn("paid by 9"), usage("9")) is Kept.FORGOTTEN
    assert await store.count_rows("turns") == await store.count_rows("usage") == 0


@pytest.mark.parametrize("why", [Kept.DELETED, Kept.EDITED])
async def test_a_turn_from_a_deleted_or_edited_message_is_not_kept(store: Store, why: Kept
                                                                   ) -> None:
    await store.forget_messages(["m1", "m2"], why=why)
    assert await store.add_turn("channel:1", turn("q", source="m1"), usage()) is why
    assert await store.add_turn("channel:1", turn("q", source="m3"), usage()) is Kept.STORED
    assert [t.source_message_id for t in await store.history("channel:1")] == ["m3"]
    assert await store.count_rows("usage") == 1


async def test_a_deletion_outranks_a_forgotten_member(store: Store) -> None:
    await store.forget_member("7")
    await store.forget_messages(["m1"])
    assert await store.add_turn("channel:1", turn("q", source="m1")) is Kept.DELETED


async def test_old_tombstones_are_forgotten(store: Store) -> None:
    await store.forget_member("7")
    await store.forget_messages(["m1"])
    assert await store.prune_erasures(older_than=BEFORE) == 0
    assert await store.prune_erasures(older_than="2999-01-01T00:00:00.000Z") == 2
    assert await store.add_turn("channel:1", turn("q", source="m1")) is Kept.STORED


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_writes_racing_an_erasure_from_another_store_keep_nothing_of_before(
        backend: str, make_store: StoreFactory, tmp_path: Path) -> None:
    """Two stores on one database stand for two processes: while one writes the member's
    turns (made before the erasure) as fast as it can, the other forgets the member. Whatever
    the interleaving, nothing from before the erasure survives it, and every write says
    truly whether it was kept."""
    if backend == "postgresql":
        require_postgres()
        writer = await make_store(backend)
        from omnicord.store.postgres.store import PostgresStore

        eraser: Store = PostgresStore(writer.database.url)  # type: ignore[attr-defined]
    else:
        path = tmp_path / "shared.db"
        writer, eraser = SqliteStore(path), SqliteStore(path)
        await writer.open()
    await eraser.open()
    try:
        for round_ in range(3):
            user = f"7{round_}"
            writes = [writer.add_turn(f"channel:{i % 2 + 1}", turn(f"t{i}", user), usage(user))
                      for i in range(40)]
            results = await asyncio.gather(*writes, eraser.forget_member(user))
            verdicts, removed = results[:-1], results[-1]
            kept = sum(v is Kept.STORED for v in verdicts)
            assert removed.turns == kept  # each kept turn was there to be erased
            assert {*verdicts} <= {Kept.STORED, Kept.FORGOTTEN}
            assert await rows_of(writer, user) == (0, 0)
    finally:
        await eraser.close()
        if backend == "sqlite":
            await writer.close()


# --- erased means gone from the files ---------------------------------------------------------

SECRET = "my password is hunter2-XYZZY"


def files_holding(paths: list[Path], marker: bytes) -> list[str]:
    return [p.name for p in paths if p.exists() and marker in p.read_bytes()]


async def test_sqlite_erasures_leave_no_text_in_the_database_or_its_log(tmp_path: Path) -> None:
    path = tmp_path / "omnicord.db"
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    async with SqliteStore(path) as store:
        for i in range(30):  # others' turns around it, so its page stays in use
            await store.add_turn("channel:1", turn(f"filler {i} " * 20, speaker="8"))
        await store.add_turn("channel:1", turn(SECRET, source="m1"))
        await store.add_turn("dm:7", turn(f"dm {SECRET}"))
        await store.add_turn("channel:2", turn(f"reset {SECRET}", speaker="9"))
        assert files_holding(files, b"hunter2-XYZZY")  # the check can see it
        await store.forget_messages(["m1"])
        await store.forget_member("7", own_scopes=["dm:7"])
        await store.reset("channel:2")
        assert files_holding(files, b"hunter2-XYZZY") == []
        assert len(await store.history("channel:1")) == 30


async def pg_files_hold(store: Store, marker: bytes) -> list[str]:
    """The tables (and their TOAST tables) whose files hold ``marker``, read by the server
    after a checkpoint wrote every page out (needs a superuser, as the test server's is)."""
    async def read(conn: object) -> list[str]:
        await conn.execute("CHECKPOINT")  # type: ignore[attr-defined]
        return [row[0] for row in await conn.fetch(  # type: ignore[attr-defined]
            "SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 't')"
            " AND c.relfilenode <> 0 AND pg_relation_filepath(c.oid) IS NOT NULL"
            " AND c.relnamespace IN ('public'::regnamespace, 'pg_toast'::regnamespace)"
            " AND position($1::bytea IN pg_read_binary_file(pg_relation_filepath(c.oid))) > 0",
            marker)]
    return await store.database.run(read)  # type: ignore[attr-defined,no-any-return]


async def test_postgresql_erasures_leave_no_text_in_the_table_files(
        make_store: StoreFactory) -> None:
    require_postgres()
    store = await make_store("postgresql")
    for i in range(30):
        await store.add_turn("channel:1", turn(f"filler {i} " * 20, speaker="8"))
    # The secret rows are the newest: at the edge of their page's free space, where a plain
    # VACUUM leaves a dead row's bytes behind.
    await store.add_turn("channel:2", turn(f"reset {SECRET}", speaker="9"))
    await store.add_turn("dm:7", turn(f"dm {SECRET}"))
    await store.add_turn("channel:1", turn(SECRET, source="m1"))
    assert await pg_files_hold(store, b"hunter2-XYZZY")
    await store.forget_messages(["m1"])
    await store.forget_member("7", own_scopes=["dm:7"])
    await store.reset("channel:2")
    await store.scrub()
    assert await pg_files_hold(store, b"hunter2-XYZZY") == []
    assert len(await store.history("channel:1")) == 30


async def test_postgresql_rewrites_again_once_an_open_snapshot_lets_the_rows_go(
        make_store: StoreFactory) -> None:
    """A snapshot still open in the database (another process's long read) makes VACUUM FULL
    keep dead rows it might see: the scrub tries again until they can go."""
    require_postgres()
    import asyncpg

    store = await make_store("postgresql")
    await store.add_turn("dm:7", turn(SECRET))
    reader = await asyncpg.connect(store.database.url)  # type: ignore[attr-defined]
    try:
        snapshot = reader.transaction(isolation="repeatable_read")
        await snapshot.start()
        await reader.fetchval("SELECT count(*) FROM erasures")  # holds its snapshot open
        await store.forget_member("7", own_scopes=["dm:7"])
        scrub = asyncio.create_task(store.scrub())
        await asyncio.sleep(1.0)
        assert await pg_files_hold(store, b"hunter2-XYZZY")  # the rewrite had to keep it
        await snapshot.rollback()
        await asyncio.wait_for(scrub, 30)
    finally:
        await reader.close()
    assert await pg_files_hold(store, b"hunter2-XYZZY") == []


async def test_postgresql_scrubs_by_itself_soon_after_an_erasure(
        make_store: StoreFactory) -> None:
    require_postgres()
    store = await make_store("postgresql")
    store.scrubber.delay = 0.2  # type: ignore[attr-defined]
    await store.add_turn("dm:7", turn(SECRET))
    await store.forget_member("7", own_scopes=["dm:7"])
    for _ in range(100):  # generous: the scrub runs 0.2 s after the erasure
        if not await pg_files_hold(store, b"hunter2-XYZZY"):
            break
        await asyncio.sleep(0.1)
    assert await pg_files_hold(store, b"hunter2-XYZZY") == []


async def test_postgresql_erasures_in_one_window_share_one_scrub(
        make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hundred deletions, forgets and resets within the scrub's delay rewrite each table
    they touched once, not once per erasure."""
    require_postgres()
    from omnicord.store.postgres import scrub

    rewrites: list[list[str]] = []
    real_scrub = scrub._scrub

    async def counted(url: str, tables: list[str], full_limit: int) -> list[str]:
        rewrites.append(list(tables))
        return await real_scrub(url, tables, full_limit)

    monkeypatch.setattr(scrub, "_scrub", counted)
    store = await make_store("postgresql")
    # Far longer than the erasures take even on a loaded machine (about 0.3 s idle).
    store.scrubber.delay = 5.0  # type: ignore[attr-defined]
    for i in range(200):
        await store.add_turn("channel:1", turn(f"{SECRET} {i}", source=f"m{i}"))
    await asyncio.gather(*(store.forget_messages([f"m{i}"]) for i in range(198)),
                         store.forget_member("7", own_scopes=["dm:7"]),
                         store.reset("channel:1"))
    for _ in range(300):
        if rewrites:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # room for a second scrub, had the erasures not shared one
    assert len(rewrites) == 1
    assert len(rewrites[0]) == len(set(rewrites[0]))
    assert "turns" in rewrites[0]
    assert await pg_files_hold(store, b"hunter2-XYZZY") == []


# --- NUL characters ---------------------------------------------------------------------------

async def test_nul_characters_are_dropped_alike_on_both_backends(store: Store) -> None:
    nul = Turn(speaker_id="7", speaker_name="A\x00da", text="a\x00b", reply_text="c\x00d",
               model=MODEL)
    assert await store.add_turn("channel:1", nul) is Kept.STORED
    await store.set_system_prompt("channel:1", "be\x00 brief")
    turns, persona = await store.recall("channel:1")
    assert [(t.speaker_name, t.text, t.reply_text) for t in turns] == [("Ada", "ab", "cd")]
    assert persona == "be brief"


async def test_a_sqlite_history_with_nul_characters_copies_to_postgresql(
        make_store: StoreFactory, tmp_path: Path) -> None:
    require_postgres()
    from omnicord.store.copy import copy_store

    source = await make_store("sqlite")
    await source.add_turn("channel:1", turn("fine"))
    # A row written before NULs were dropped.
    await source.write(lambda db: db.execute(  # type: ignore[attr-defined]
        "UPDATE turns SET text = 'x' || char(0) || 'y'"))
    target = await make_store("postgresql")
    await copy_store(source, target)
    assert [t.text for t in await target.history("channel:1")] == ["xy"]


def test_the_sqlite_writer_zeroes_deleted_content(tmp_path: Path) -> None:
    path = tmp_path / "secure.db"

    async def open_and_check() -> int:
        async with SqliteStore(path) as store:
            return int(await store.write(lambda db: db.execute(
                "PRAGMA secure_delete").fetchone()[0]))

    assert asyncio.run(open_and_check()) == 1
    with sqlite3.connect(path) as conn:  # the file is an ordinary SQLite database
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_recent_sources_name_the_newest_turns_from_discord_messages(store: Store) -> None:
    await store.add_turn("channel:1", turn("old", source="m0"))
    for i in range(1, 5):
        await store.add_turn(f"channel:{i % 2}", turn(f"t{i}", source=f"m{i}",
                                                      created_at=f"2026-01-0{i}T00:00:00.000Z"))
    await store.add_turn("cli:x", turn("no message", created_at="2026-01-05T00:00:00.000Z"))
    assert await store.recent_sources(since="2025-01-01T00:00:00.000Z", limit=3) == [
        ("channel:0", "m4"), ("channel:1", "m3"), ("channel:0", "m2")]


async def test_preferences_drop_nul_characters_alike_on_both_backends(store: Store) -> None:
    from omnicord.store.records import GuildPreferences, MemberPreferences

    prefs = store.preferences
    await prefs.save_guild("1", GuildPreferences(system_prompt="be\x00 brief"))
    await prefs.save_member("1", "7", MemberPreferences(caption_language="Ger\x00man"))
    assert (await prefs.guild("1")).system_prompt == "be brief"
    assert (await prefs.member("1", "7")).caption_language == "German"
