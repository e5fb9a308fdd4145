"""Files that hold members' data are the owner's alone (0600, folders 0700) whatever the umask:
the SQLite database with its -wal, -shm and lock file, backups, the media cache, usage charts.
And ``db backup`` and ``db copy`` never write through a link or invent a source."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from omnicord.media.cache import MediaCache
from omnicord.media.types import MediaTarget, PreparedMedia
from omnicord.model.catalog import find_model
from omnicord.store import SqliteStore

from tests.cli.test_db import fill
from tests.conftest import run_cli


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Umask 0 for the test (and the processes it starts): only Omnicord limits the modes."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


async def test_the_database_its_companions_and_lock_file_are_private(
        open_umask: None, tmp_path: Path) -> None:
    database = tmp_path / "new" / "deeper" / "omnicord.db"
    async with SqliteStore(database) as store:
        async with store.hold("channel:1"):
            await fill_one(store)
        for suffix in ("", "-wal", "-shm", "-locks"):
            assert mode(database.with_name(database.name + suffix)) == 0o600, suffix
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "deeper") == 0o700


async def fill_one(store: SqliteStore) -> None:
    from tests.cli.test_db import turn

    await store.add_turn("channel:1", turn("hello"))


async def test_a_database_readable_by_others_is_tightened_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "old.db"
    await fill(database)
    database.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="omnicord.files"):
        async with SqliteStore(database):
            pass
        async with SqliteStore(database):
            pass
    assert mode(database) == 0o600
    said = [r.getMessage() for r in caplog.records if r.name == "omnicord.files"]
    assert said == [f"{database} could be read by other accounts: made owner-only (0600)"]


async def test_media_cache_entries_and_folders_are_private(open_umask: None,
                                                           tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "cache" / "media")
    target = MediaTarget(model=find_model("qwen3-omni-flash", "chat"), purpose="chat")
    media = PreparedMedia(name="voice.ogg", kind="audio", content_hash="a" * 64,
                          source_bytes=3, parts=(), notices=())
    assert await cache.put(media, target)
    [entry] = (tmp_path / "cache" / "media").iterdir()
    assert mode(entry) == 0o600
    assert mode(tmp_path / "cache") == mode(tmp_path / "cache" / "media") == 0o700


async def test_backup_is_private_and_never_follows_a_link(
        cli_env: dict[str, str], tmp_path: Path, open_umask: None) -> None:
    await fill(tmp_path / "live.db")
    env = cli_env | {"OMNICORD_DB": str(tmp_path / "live.db")}
    done = run_cli(["db", "backup", "snap.db"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "snap.db") == 0o600
    with sqlite3.connect(tmp_path / "snap.db") as snap:
        assert snap.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 25
    elsewhere = tmp_path / "elsewhere.db"
    (tmp_path / "dangling.db").symlink_to(elsewhere)
    refused = run_cli(["db", "backup", "dangling.db"], env, tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "already exists" in refused.stderr
    assert not elsewhere.exists() and (tmp_path / "dangling.db").is_symlink()
    (tmp_path / "link.db").symlink_to(tmp_path / "live.db")
    before = (tmp_path / "live.db").read_bytes()
    assert run_cli(["db", "backup", "link.db"], env, tmp_path).returncode == 2
    assert (tmp_path / "live.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    nowhere = run_cli(["db", "backup", "no/such/folder.db"], env, tmp_path)
    assert nowhere.returncode == 2 and nowhere.stderr.count("\n") == 1


def test_usage_chart_is_private(cli_env: dict[str, str], tmp_path: Path,
                                open_umask: None) -> None:
    assert run_cli(["db", "migrate"], cli_env, tmp_path).returncode == 0
    (tmp_path / "chart.png").write_bytes(b"old")
    (tmp_path / "chart.png").chmod(0o644)
    done = run_cli(["usage", "--days", "3", "--png", "chart.png"], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "chart.png") == 0o600
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


async def test_copy_from_a_missing_or_foreign_sqlite_file_is_refused(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "target.db"
    for source, why in (("sqlite:///typo.db", "there is no SQLite database at typo.db"),
                        ("typo.db", "there is no SQLite database at typo.db")):
        refused = run_cli(["db", "copy", "--from", source, "--to", str(target)],
                          cli_env, tmp_path)
        assert refused.returncode == 2
        assert refused.stderr == f"omnicord: error: --from: {why}\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created
    with sqlite3.connect(tmp_path / "foreign.db") as foreign:
        foreign.execute("CREATE TABLE notes (text TEXT)")
    foreign.close()
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    for name in ("foreign.db", "junk.db"):  # private already: the refusal is the one line
        (tmp_path / name).chmod(0o600)
    for name in ("foreign.db", "junk.db"):
        refused = run_cli(["db", "copy", "--from", name, "--to", str(target)], cli_env,
                          tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1
        assert "not an Omnicord database" in refused.stderr
        assert not target.exists()
