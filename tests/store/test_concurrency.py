"""Nothing lost under concurrency: coroutines sharing one store, processes sharing one database,
and many members talking to the bot at the same moment."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from omnicord.conversation.compose import NewMessage
from omnicord.conversation.respond import Conversations, Payer, ReplyOptions
from omnicord.media.cache import MediaCache
from omnicord.media.types import MediaTarget
from omnicord.model.catalog import find_model
from omnicord.model.omni import OmniClient
from omnicord.store import SqliteStore, Turn
from omnicord.store.records import Kept, UsageRow
from omnicord.store.sqlite.migrate import load_migrations

from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.media import tone
from tests.doubles.omnicord_bot import running_world

FLASH = find_model("qwen3-omni-flash")


def turn(text: str, speaker: str = "1") -> Turn:
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text="ok",
                model=FLASH.name)


def usage(user: str = "1") -> UsageRow:
    return UsageRow(user_id=user, model=FLASH.name, prompt_tokens=10, completion_tokens=5)


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# --- one process, many coroutines -------------------------------------------------------------

async def test_concurrent_turns_usage_and_settings_are_all_stored(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with SqliteStore(path) as store:
        prefs = store.preferences
        writes = [store.add_turn(f"channel:{i % 8}", turn(f"t{i}", str(i)), usage(str(i)))
                  for i in range(64)]
        writes += [prefs.set_channel_role("g", str(i), "chat", True) for i in range(16)]
        reads = [store.history(f"channel:{i}") for i in range(8)]
        await asyncio.gather(*writes, *reads)
        assert sum([len(await store.history(f"channel:{i}")) for i in range(8)]) == 64
        assert len(await prefs.channels_with("g", "chat")) == 16
    assert count(path, "turns") == count(path, "usage") == 64


async def _while_busy(run: Callable[[Callable[[sqlite3.Connection], None]], Awaitable[None]],
                      calls: list[Awaitable[object]]) -> list[object]:
    """Start ``calls`` while a job holds the database thread, so they queue up together."""
    busy, release = threading.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        busy.set()
        assert release.wait(10)

    holder = asyncio.ensure_future(run(hold))
    assert await asyncio.to_thread(busy.wait, 10)
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0.05)  # every call is queued behind the holder
    release.set()
    await holder
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("one_burst", [False, True], ids=["concurrent", "one-burst"])
async def test_a_failing_write_takes_no_other_write_with_it(tmp_path: Path, one_burst: bool
                                                           ) -> None:
    path = tmp_path / "boom.db"
    async with SqliteStore(path) as store:
        await store.write(lambda db: db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON turns WHEN NEW.text = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'boom'); END"))
        writes = [store.add_turn(f"s:{i}", turn("bad" if i % 4 == 0 else "good"), usage())
                  for i in range(24)]
        results = (await _while_busy(store.write, writes) if one_burst  # one combined INSERT
                   else await asyncio.gather(*writes, return_exceptions=True))
    assert [isinstance(r, sqlite3.IntegrityError) for r in results] == [
        i % 4 == 0 for i in range(24)]
    assert count(path, "turns") == count(path, "usage") == 18


async def test_turns_queued_together_are_written_by_one_statement(tmp_path: Path) -> None:
    path = tmp_path / "burst.db"
    async with SqliteStore(path) as store:
        statements: list[str] = []
        await store.write(lambda db: db.set_trace_callback(statements.append))
        results = await _while_busy(store.write, [
            store.add_turn(f"s:{i % 4}", turn(f"t{i}", str(i)), usage(str(i)))
            for i in range(40)])
        assert results == [Kept.STORED] * 40
        # (the trace repeats a statement once per trigger step it runs)
        assert len({s for s in statements if s.startswith("INSERT INTO turn_writes")}) == 1
        for scope in range(4):
            assert [t.text for t in await store.history(f"s:{scope}")] == [
                f"t{i}" for i in range(scope, 40, 4)]  # each conversation keeps its order
    assert count(path, "turns") == count(path, "usage") == 40


async def test_recalls_queued_together_each_get_their_own_conversation(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "recall.db") as store:
        for i in range(12):
            await store.add_turn(f"s:{i % 3}", turn(f"t{i}"))
        await store.set_system_prompt("s:1", "a pirate")
        scopes = ["s:0", "s:1", "s:2", "s:none", "s:1"]
        results = await _while_busy(store.read, [store.recall(s, limit=2) for s in scopes])
    recalled = [([t.text for t in turns], persona) for turns, persona in results]  # type: ignore[misc]
    assert recalled == [(["t6", "t9"], None), (["t7", "t10"], "a pirate"), (["t8", "t11"], None),
                        ([], None), (["t7", "t10"], "a pirate")]


async def test_a_turn_and_its_usage_are_stored_together_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "both.db"
    async with SqliteStore(path) as store:
        await store.write(lambda db: db.execute(
            "CREATE TRIGGER no_usage BEFORE INSERT ON usage WHEN NEW.user_id = 'mallory'"
            " BEGIN SELECT RAISE(ABORT, 'ledger full'); END"))
        with pytest.raises(sqlite3.IntegrityError):
            await store.add_turn("s:x", turn("paid?"), usage("mallory"))
        await store.add_turn("s:x", turn("paid"), usage("ada"))
        assert [t.text for t in await store.history("s:x")] == ["paid"]
    assert count(path, "usage") == 1


async def test_reads_never_wait_behind_a_long_write(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "wal.db") as store:
        await store.add_turn("s:r", turn("before"))
        writing, release = threading.Event(), threading.Event()

        def long_write(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO conversations (scope) VALUES ('s:slow')")
            writing.set()
            assert release.wait(10), "the read never finished while the write was open"

        write = asyncio.create_task(store.write(long_write))
        assert await asyncio.to_thread(writing.wait, 10)
        history = await asyncio.wait_for(store.history("s:r"), 5)  # the write is still open
        assert [t.text for t in history] == ["before"] and not write.done()
        release.set()
        await write


async def test_a_cancelled_writer_leaves_no_open_transaction(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "cancel.db") as store:
        started = threading.Event()

        def slow(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO conversations (scope) VALUES ('s:c')")
            started.set()
            threading.Event().wait(0.3)

        task = asyncio.create_task(store.write(slow))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.add_turn("s:after", turn("still works"))
        assert len(await store.history("s:after")) == 1


async def test_eight_members_answered_at_once_lose_nothing(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(first_token_delay=0.2, times=8))
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    try:
        async with SqliteStore(tmp_path / "eight.db") as store:
            conversations = Conversations(store, client, MediaCache(tmp_path / "cache"))
            options = ReplyOptions(model=FLASH, model_name=FLASH.name)
            await asyncio.gather(*(
                conversations.respond(
                    f"channel:{i}", speaker_id=str(i), new=NewMessage(f"m{i}", f"hello {i}"),
                    options=options, target=MediaTarget(FLASH), payer=Payer(str(i), "g", str(i)))
                for i in range(8)))
            for i in range(8):
                (stored,) = await store.history(f"channel:{i}")
                assert stored.text == f"hello {i}"
            assert sum(row[1] for row in await store.usage_by_model(since_day="2000-01-01")) > 0
    finally:
        await client.aclose()
    assert count(tmp_path / "eight.db", "usage") == 8


# --- several omnicord processes on one database ---------------------------------------------

def start_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "omnicord", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    return results


def test_eight_processes_sending_the_same_file_keep_every_turn(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    clip = tone(tmp_path / "same.mp3", 2.0)
    results = finish([
        start_cli(["ask", f"question {i}", "--attach", str(clip), "--session", "s",
                   "--text-only"], cli_env, tmp_path)
        for i in range(8)])
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    assert count(Path(cli_env["OMNICORD_DB"]), "turns") == 8
    leftovers = [p.name for p in (tmp_path / "omnicord-media").iterdir() if p.suffix != ".json"]
    assert leftovers == []


def test_an_unusable_cache_folder_never_costs_the_turn(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    env = cli_env | {"OMNICORD_CACHE_DIR": str(blocker)}
    clip = tone(tmp_path / "a.mp3", 1.0)
    code, out, err = finish([start_cli(["ask", "hi", "--attach", str(clip), "--session", "c",
                                        "--text-only"], env, tmp_path)])[0]
    assert code == 0, err
    assert out.startswith("Echo: hi") and "Traceback" not in err
    assert count(Path(env["OMNICORD_DB"]), "turns") == 1


def test_six_processes_on_a_fresh_database_migrate_it_once(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    for round_ in range(3):  # the race is timing-dependent: try it on several fresh files
        db = tmp_path / f"fresh-{round_}.db"
        env = cli_env | {"OMNICORD_DB": str(db)}
        results = finish([start_cli(["history", "x"], env, tmp_path) for _ in range(6)])
        assert [code for code, _, _ in results] == [0] * 6, [err for _, _, err in results]
        assert all(err == "" for _, _, err in results)
        with sqlite3.connect(db) as conn:
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in load_migrations()]


@pytest.mark.parametrize("kind", ["text file", "folder"])
def test_an_unusable_database_is_one_line_and_a_prompt_exit(
    cli_env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "omnicord.db"
    if kind == "folder":
        db.mkdir()
    else:
        db.write_text("these are my notes, not a database\n" * 20)
    db.chmod(0o755 if kind == "folder" else 0o644)
    env = cli_env | {"OMNICORD_DB": str(db)}
    result = subprocess.run([sys.executable, "-m", "omnicord", "history", "x"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "OMNICORD_DB" in line and "Traceback" not in result.stderr
    # Not a database: not Omnicord's to change (a folder made 0600 would be unusable).
    assert db.stat().st_mode & 0o777 == (0o755 if kind == "folder" else 0o644)


def test_replies_in_one_session_keep_their_order_across_processes(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(first_token_delay=1.0, times=2))
    results = finish([
        start_cli(["ask", f"message from process {i}", "--session", "s", "--text-only"],
                  cli_env, tmp_path)
        for i in range(2)])
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    first, second = dashscope.accepted
    asked_first = first["messages"][-1]["content"][-1]["text"]
    assert asked_first in str(second["messages"][:-1])  # the second saw the first turn
    assert count(Path(cli_env["OMNICORD_DB"]), "turns") == 2


# --- many members through Discord -----------------------------------------------------------

async def test_eight_members_in_eight_channels_at_once(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(first_token_delay=0.3, times=8))
    async with running_world(dashscope, tmp_path, OMNICORD_GUILD_CONCURRENCY=8) as world:
        guild = world.h.add_guild("Busy", channels=tuple(f"c{i}" for i in range(8)))
        members = [world.h.add_member(guild, f"member{i}") for i in range(8)]
        for channel, member in zip(guild.text_channels, members, strict=True):
            world.h.message_create(channel, member, "hello", mention_bot=True)
        await world.h.settle(timeout=30)
        for channel in guild.text_channels:
            (text,) = world.texts(channel.id)
            assert text.startswith("Echo:") and "⚠️" not in text
        path = tmp_path / "omnicord.db"
        assert count(path, "turns") == count(path, "usage") == 8


async def test_one_members_slow_dms_do_not_hold_up_anothers(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_GUILD_CONCURRENCY=1) as world:
        dashscope.add_fault(Fault(first_token_delay=2.0, times=1))
        slow, quick = world.member, world.admin
        slow_dm, quick_dm = world.h.dm_channel(slow), world.h.dm_channel(quick)
        world.h.message_create(slow_dm, slow, "a slow question")
        await asyncio.sleep(0.5)  # the slow reply is under way
        world.h.message_create(quick_dm, quick, "a quick question")
        await world.h.settle(timeout=20)
        assert world.texts(quick_dm.id) == ["Echo: a quick question"]
        assert world.texts(slow_dm.id) == ["Echo: a slow question"]


async def test_the_bot_wide_daily_cap_holds_in_dms(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_DAILY_TOKEN_CAP=1) as world:
        dm = world.h.dm_channel(world.member)
        world.h.message_create(dm, world.member, "first")
        await world.h.settle(timeout=20)
        world.h.message_create(dm, world.member, "second")
        await world.h.settle(timeout=20)
        first, refusal = world.texts(dm.id)
        assert first == "Echo: first"
        assert "used your 1 tokens for today" in refusal
        assert len(dashscope.accepted) == 1


async def test_auto_captions_pass_the_same_gate(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    from tests.doubles.omnicord_bot import ogg_voice_note

    note = ogg_voice_note(tmp_path, 2)
    async with running_world(dashscope, tmp_path, OMNICORD_COOLDOWN_SECONDS=600) as world:
        world.h.slash(world.channel, world.admin, "omni-admin caption-channel",
                      {"enabled": True})
        await world.h.settle()
        for _ in range(5):  # in cooldown after the first
            world.h.voice_message(world.channel, world.member, note, duration=2.0)
        await world.h.settle(timeout=30)
        assert len(dashscope.accepted) == 1
        path = tmp_path / "omnicord.db"
        assert count(path, "usage") == 1
    async with running_world(dashscope, tmp_path / "capped",
                             OMNICORD_DAILY_TOKEN_CAP=1) as world:
        world.h.slash(world.channel, world.admin, "omni-admin caption-channel",
                      {"enabled": True})
        await world.h.settle()
        for _ in range(5):  # over the cap after the first
            world.h.voice_message(world.channel, world.member, note, duration=2.0)
            await world.h.settle(timeout=20)
        assert len(dashscope.accepted) == 2
