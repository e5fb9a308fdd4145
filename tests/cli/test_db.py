"""``omnicord db``: migrate, status and copy, run as a user would."""

from __future__ import annotations

from pathlib import Path

from omnicord.store import MediaRef, SqliteStore, Turn
from omnicord.store.records import GuildPreferences, MemberPreferences, ReplyMode, UsageRow
from omnicord.store.sqlite.migrate import load_migrations

from tests.conftest import run_cli

LATEST = load_migrations()[-1].version


def turn(text: str) -> Turn:
    return Turn(speaker_id="7", speaker_name="Ada", text=text, reply_text=f"re {text}",
                model="qwen3-omni-flash", usage={"prompt_tokens": 3},
                media=(MediaRef(kind="audio", name="n.ogg", size_bytes=9, tokens=25),),
                source_message_id="m1", reply_message_ids=("r1", "r2"))


async def fill(path: Path) -> None:
    """A server's worth of everything the store keeps."""
    async with SqliteStore(path) as store:
        for n in range(25):
            await store.add_turn(f"guild:1:channel:{n % 3}", turn(f"t{n}"),
                                 UsageRow(user_id="7", model="qwen3-omni-flash",
                                          prompt_tokens=n, completion_tokens=1, guild_id="1"))
        await store.set_system_prompt("guild:1:channel:0", "be brief")
        await store.preferences.save_guild("1", GuildPreferences(voice="Ethan",
                                                                 daily_token_cap=500))
        await store.preferences.save_member("1", "7", MemberPreferences(
            reply_mode=ReplyMode.TEXT))
        await store.preferences.set_channel_role("1", "55", "auto_caption", True)
        await store.add_usage(UsageRow(user_id="8", model="qwen3-omni-flash",
                                       prompt_tokens=4, completion_tokens=2))


def test_migrate_then_status(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = cli_env | {"OMNICORD_DB": str(tmp_path / "fresh.db")}
    absent = run_cli(["db", "status"], env, tmp_path)
    assert absent.returncode == 0 and "no database at" in absent.stderr
    assert not (tmp_path / "fresh.db").exists()  # status never creates one
    first = run_cli(["db", "migrate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"schema version 0 → {LATEST}" in first.stderr
    again = run_cli(["db", "migrate"], env, tmp_path)
    assert f"up to date (schema version {LATEST})" in again.stderr
    status = run_cli(["db", "status"], env, tmp_path)
    assert status.returncode == 0
    assert f"schema version: {LATEST}" in status.stdout
    assert "pending migrations: none" in status.stdout and "turns: 0 rows" in status.stdout


async def test_copy_moves_everything_and_refuses_a_filled_target(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    await fill(tmp_path / "src.db")
    copy = ["db", "copy", "--from", f"sqlite:///{tmp_path / 'src.db'}",
            "--to", str(tmp_path / "dst.db")]
    done = run_cli(copy, cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "turns: 25 of 25 rows copied" in done.stdout
    assert "usage: 26 of 26 rows copied" in done.stdout
    assert "every table's count matches" in done.stderr
    async with SqliteStore(tmp_path / "src.db") as source, \
            SqliteStore(tmp_path / "dst.db") as target:
        for scope in ("guild:1:channel:0", "guild:1:channel:1", "guild:1:channel:2"):
            assert await target.recall(scope) == await source.recall(scope)
        assert await target.preferences.guild("1") == await source.preferences.guild("1")
        assert (await target.preferences.member("1", "7")).reply_mode is ReplyMode.TEXT
        assert await target.preferences.channels_with("1", "auto_caption") == ["55"]
        since = {"since_day": "2000-01-01"}
        assert await target.usage_by_model(**since) == await source.usage_by_model(**since)
        await target.add_turn("guild:1:channel:0", turn("after the copy"))  # ids continue
        assert (await target.history("guild:1:channel:0"))[-1].text == "after the copy"
    refused = run_cli(copy, cli_env, tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "already holds data" in refused.stderr


async def test_backup_is_a_consistent_sqlite_snapshot(cli_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    await fill(tmp_path / "live.db")
    env = cli_env | {"OMNICORD_DB": str(tmp_path / "live.db")}
    done = run_cli(["db", "backup", "snap.db"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    async with SqliteStore(tmp_path / "live.db") as live, \
            SqliteStore(tmp_path / "snap.db") as snap:
        assert await snap.recall("guild:1:channel:0") == await live.recall("guild:1:channel:0")
        assert await snap.count_rows("usage") == 26
    again = run_cli(["db", "backup", "snap.db"], env, tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    postgres = run_cli(["db", "backup", "x.db"], env | {
        "OMNICORD_DB": "postgresql://postgres@127.0.0.1:1/none"}, tmp_path)
    assert postgres.returncode == 2 and "pg_dump" in postgres.stderr
