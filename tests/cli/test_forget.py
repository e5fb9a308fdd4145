"""``omnicord forget USER_ID`` and ``omnicord db prune``, run as an operator would."""

from __future__ import annotations

from pathlib import Path

from omnicord.store import MediaRef, SqliteStore, Turn
from omnicord.store.records import MemberPreferences, UsageRow

from tests.conftest import run_cli

MODEL = "qwen3-omni-flash"
DIGEST = "c" * 64


def turn(text: str, speaker: str, created_at: str = "2999-01-01T00:00:00.000Z") -> Turn:
    return Turn(speaker_id=speaker, speaker_name=speaker, text=text, reply_text="ok",
                model=MODEL, created_at=created_at,
                media=(MediaRef(kind="audio", name="n.ogg", content_hash=DIGEST),))


async def fill(path: Path) -> None:
    """User 7 in two servers and a DM, user 8 beside them."""
    async with SqliteStore(path) as store:
        for scope in ("channel:1", "channel:2"):
            await store.add_turn(scope, turn(f"7 in {scope}", "7"),
                                 UsageRow(user_id="7", model=MODEL, prompt_tokens=3,
                                          completion_tokens=1, guild_id=scope[-1]))
            await store.add_turn(scope, turn(f"8 in {scope}", "8",
                                             created_at="2020-01-01T00:00:00.000Z"))
        await store.add_turn("dm:7", turn("7 in a DM", "7"))
        for guild in ("1", "2", ""):
            await store.preferences.save_member(guild, "7", MemberPreferences(voice="Ethan"))


async def test_forget_asks_for_confirmation_then_erases_the_user(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    database = tmp_path / "omnicord.db"
    await fill(database)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{DIGEST}-{'0' * 16}.json").write_text("{}")
    env = cli_env | {"OMNICORD_CACHE_DIR": str(cache)}
    unconfirmed = run_cli(["forget", "7"], env, tmp_path, stdin="yes\n")  # not a terminal
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    bad = run_cli(["forget", "<@7>", "--yes"], env, tmp_path)
    assert bad.returncode == 2 and "digits only" in bad.stderr
    async with SqliteStore(database) as store:
        assert await store.count_rows("turns") == 5  # nothing erased yet
    done = run_cli(["forget", "7", "--yes"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "forgot user 7: 3 turns, 3 preference rows, 2 usage rows" in done.stderr
    async with SqliteStore(database) as store:
        assert [t.speaker_id for t in await store.history("channel:1")] == ["8"]
        assert await store.history("dm:7") == []
        assert await store.usage_by_model(since_day="2000-01-01", user_id="7") == []
        assert await store.preferences.member("", "7") == MemberPreferences()
    assert (cache / f"{DIGEST}-{'0' * 16}.json").exists()  # user 8's turns still use it


async def test_db_prune_deletes_turns_past_the_retention(cli_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    await fill(tmp_path / "omnicord.db")
    refused = run_cli(["db", "prune"], cli_env, tmp_path)
    assert refused.returncode == 2 and "OMNICORD_RETENTION_DAYS" in refused.stderr
    done = run_cli(["db", "prune"], cli_env | {"OMNICORD_RETENTION_DAYS": "30"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pruned 2 turns older than 30 days" in done.stderr
    async with SqliteStore(tmp_path / "omnicord.db") as store:
        assert [t.speaker_id for t in await store.history("channel:2")] == ["7"]


async def test_forget_refuses_what_is_not_a_discord_id(cli_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    await fill(tmp_path / "omnicord.db")
    for wrong in ("１２３４５６７８９", "٧", "007", "1" * 21, str(2**64), "7 8", ""):
        refused = run_cli(["forget", wrong, "--yes"], cli_env, tmp_path)
        assert refused.returncode == 2, (wrong, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "digits only" in refused.stderr
        assert "forgot" not in refused.stderr
    async with SqliteStore(tmp_path / "omnicord.db") as store:
        assert await store.count_rows("turns") == 5  # nothing erased
    largest = run_cli(["forget", str(2**64 - 1), "--yes"], cli_env, tmp_path)
    assert largest.returncode == 0, largest.stderr


async def test_db_prune_refuses_days_out_of_range(cli_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    await fill(tmp_path / "omnicord.db")
    for days in ("1000000", str(10**30), "36501", "0", "-5"):
        refused = run_cli(["db", "prune", "--days", days], cli_env, tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr == (f"omnicord: error: --days must be between 1 and 36,500 (a "
                                  f"hundred years), not {days}\n")
    kept = run_cli(["db", "prune", "--days", "36500"], cli_env, tmp_path)
    assert kept.returncode == 0 and "pruned 0 turns older than 36500 days" in kept.stderr
    usage = run_cli(["usage", "--days", str(10**30)], cli_env, tmp_path)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    member = run_cli(["usage", "--member", "１２３"], cli_env, tmp_path)
    assert member.returncode == 2 and "digits only" in member.stderr
