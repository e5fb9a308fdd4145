"""The command line on PostgreSQL, as an operator would use it: ``db migrate``/``status``,
``db copy`` from SQLite and back, and ``ask`` processes sharing one conversation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from omnicord.store import SqliteStore
from omnicord.store.postgres.migrate import load_migrations

from tests.cli.test_db import fill
from tests.conftest import run_cli
from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.store.conftest import postgres_url  # noqa: F401  (a fixture)

LATEST = load_migrations()[-1].version
SCOPES = ("guild:1:channel:0", "guild:1:channel:1", "guild:1:channel:2")


def test_migrate_and_status_on_postgresql(cli_env: dict[str, str], tmp_path: Path,
                                          postgres_url: str) -> None:  # noqa: F811
    env = cli_env | {"OMNICORD_DB": postgres_url}
    fresh = run_cli(["db", "status"], env, tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert "(postgresql)" in fresh.stdout and "schema version: 0" in fresh.stdout
    assert "pending migrations: 0001_" in fresh.stdout
    migrated = run_cli(["db", "migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"(schema version 0 → {LATEST})" in migrated.stderr
    again = run_cli(["db", "migrate"], env, tmp_path)
    assert f"up to date (schema version {LATEST})" in again.stderr
    status = run_cli(["db", "status"], env, tmp_path)
    assert "pending migrations: none" in status.stdout and "turns: 0 rows" in status.stdout


async def test_copy_to_postgresql_and_back_loses_nothing(
        cli_env: dict[str, str], tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    await fill(tmp_path / "server.db")
    there = run_cli(["db", "copy", "--from", f"sqlite:///{tmp_path / 'server.db'}",
                     "--to", postgres_url], cli_env, tmp_path)
    assert there.returncode == 0, there.stderr
    assert "turns: 25 of 25 rows copied" in there.stdout
    assert "every table's count matches" in there.stderr
    back = run_cli(["db", "copy", "--from", postgres_url, "--to", str(tmp_path / "back.db")],
                   cli_env, tmp_path)
    assert back.returncode == 0, back.stderr
    async with SqliteStore(tmp_path / "server.db") as source, \
            SqliteStore(tmp_path / "back.db") as target:
        for scope in SCOPES:
            assert await target.recall(scope) == await source.recall(scope)
        assert await target.preferences.guild("1") == await source.preferences.guild("1")
        assert await target.preferences.member("1", "7") == await source.preferences.member(
            "1", "7")
        since = {"since_day": "2000-01-01"}
        assert await target.usage_by_model(**since) == await source.usage_by_model(**since)
    asked = run_cli(["ask", "still there?", "--session", "s", "--text-only"],
                    cli_env | {"OMNICORD_DB": postgres_url}, tmp_path)
    assert asked.returncode == 0, asked.stderr  # the copied database serves the bot


def test_two_processes_on_postgresql_keep_a_conversations_order(
        dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
        postgres_url: str) -> None:  # noqa: F811
    env = cli_env | {"OMNICORD_DB": postgres_url}
    assert run_cli(["db", "migrate"], env, tmp_path).returncode == 0
    dashscope.add_fault(Fault(first_token_delay=1.0, times=2))
    processes = [subprocess.Popen(
        [sys.executable, "-m", "omnicord", "ask", f"message from process {i}", "--session", "s",
         "--text-only"], env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE) for i in range(2)]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors
    first, second = dashscope.accepted
    asked_first = first["messages"][-1]["content"][-1]["text"]
    assert asked_first in str(second["messages"][:-1])  # the second saw the first turn
    history = run_cli(["history", "s"], env, tmp_path)
    assert history.stdout.count("**You**") == 2  # both turns stored, once each
