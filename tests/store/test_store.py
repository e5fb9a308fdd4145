"""The SQLite conversation store: migrations, atomic turns, persistence across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from omnicord.store import MediaRef, SqliteStore, Turn
from omnicord.store.sqlite.migrate import load_migrations


def turn(text: str, reply: str = "ok") -> Turn:
    return Turn(speaker_id="42", speaker_name="Ada", text=text, reply_text=reply,
                model="qwen3-omni-flash",
                media=(MediaRef(kind="image", name="cat.png", size_bytes=10, tokens=6),),
                usage={"prompt_tokens": 5})


async def test_turns_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "omni.db"
    async with SqliteStore(path) as store:
        await store.add_turn("cli:a", turn("first"))
        await store.add_turn("cli:a", turn("second"))
        await store.add_turn("cli:b", turn("elsewhere"))
    async with SqliteStore(path) as store:
        history = await store.history("cli:a")
        assert [t.text for t in history] == ["first", "second"]
        assert history[0].media[0] == MediaRef(kind="image", name="cat.png", size_bytes=10,
                                                tokens=6)
        assert history[0].usage == {"prompt_tokens": 5}
        assert [t.text for t in await store.history("cli:a", limit=1)] == ["second"]
        assert await store.reset("cli:a") == 2
        assert await store.history("cli:a") == []
        assert len(await store.history("cli:b")) == 1


async def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "omni.db"
    async with SqliteStore(path) as store:
        assert await store.schema_version() == load_migrations()[-1].version
        assert await store.migrate() == []
    tables = {row[0] for row in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"conversations", "turns", "schema_migrations"} <= tables


async def test_a_failed_write_leaves_no_half_turn(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "omni.db") as store:
        await store.write(lambda db: db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON turns "
            "WHEN NEW.text = 'bad' BEGIN SELECT RAISE(ABORT, 'boom'); END"))
        try:
            await store.add_turn("cli:x", turn("bad"))
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError("the trigger should have aborted the insert")
        await store.add_turn("cli:x", turn("good"))
        assert [t.text for t in await store.history("cli:x")] == ["good"]


async def test_the_unused_kind_column_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "omni.db"
    async with SqliteStore(path):
        pass
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(conversations)")}
    assert "kind" not in columns and {"scope", "system_prompt"} <= columns
