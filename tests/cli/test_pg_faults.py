"""``omnicord ask`` on PostgreSQL under faults, as an operator would meet them: a NUL
character in a question, and backend connections killed while eight processes talk."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from omnicord.store.postgres.store import PostgresStore

from tests.conftest import run_cli
from tests.doubles.fake_dashscope import FakeDashScope
from tests.store.conftest import postgres_url, run_in_thread  # noqa: F401  (a fixture)

PROCESSES, TURNS = 8, 2
KILL_EVERY = 0.3
#: What an escaped driver error would print: a traceback, its module, one of its class names.
DRIVER_WORDS = re.compile(r"Traceback|asyncpg|\b(" + "|".join(
    name for name in dir(asyncpg.exceptions) if name[0].isupper()) + r")\b")


def stored(url: str, session: str) -> list[str]:
    """The question texts stored in a CLI session, oldest first."""
    async def read() -> list[str]:
        async with PostgresStore(url) as store:
            return [turn.text for turn in await store.history(f"cli:{session}")]
    return run_in_thread(read)


def test_a_nul_character_in_a_question_is_stored_without_it(
        cli_env: dict[str, str], tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    env = cli_env | {"OMNICORD_DB": postgres_url}
    # (an argument cannot hold a NUL: the question comes on standard input, as piped text)
    asked = run_cli(["ask", "-", "--session", "s", "--text-only"], env, tmp_path,
                    stdin="a\x00b")
    assert asked.returncode == 0, asked.stderr
    assert "Traceback" not in asked.stderr
    assert stored(postgres_url, "s") == ["ab"]


class Killer:
    """Terminates every other backend of one database every ``KILL_EVERY`` seconds, on a
    thread of its own, until stopped or ``limit`` seconds after its first kill (on a busy
    machine the processes may take seconds to connect at all)."""

    def __init__(self, url: str, database: str, limit: float = 90.0) -> None:
        self.url, self.database, self.limit = url, database, limit
        self.killed = self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.url, timeout=5)
        deadline = float("inf")
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                killed = await conn.fetchval(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                    " FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.database)
                if killed and not self.killed:
                    deadline = time.monotonic() + self.limit
                self.killed += killed
                self.rounds += 1
                await asyncio.sleep(KILL_EVERY)
        finally:
            await conn.close()


def asks(session: str, env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """``TURNS`` questions in one session, one process after another."""
    return [subprocess.run(
        [sys.executable, "-m", "omnicord", "ask", question(session, turn), "--session", session,
         "--text-only"], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
        for turn in range(TURNS)]


def question(session: str, turn: int) -> str:
    return f"{session} turn {turn} " + "and a few more words to stream " * 2


def test_eight_processes_keep_every_turn_while_backends_are_killed(
        dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
        postgres_url: str) -> None:  # noqa: F811
    env = cli_env | {"OMNICORD_DB": postgres_url}
    migrated = run_cli(["db", "migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    dashscope.token_delay = 0.03  # each reply streams for a while: the processes overlap
    sessions = [f"p{i}" for i in range(PROCESSES)]
    started = time.monotonic()
    # Backends die every 0.3 s for 12 s from the first one seen (a slow machine stretches
    # the run).
    with Killer(postgres_url, postgres_url.rsplit("/", 1)[1], limit=12.0) as killer, \
            ThreadPoolExecutor(PROCESSES) as pool:
        results = list(pool.map(lambda s: asks(s, env, tmp_path), sessions))
    elapsed = time.monotonic() - started
    retries = sum(run.stderr.count("trying again") for runs in results for run in runs)
    print(f"{killer.killed} backends killed in {killer.rounds} rounds, {retries} retries,"
          f" {elapsed:.1f}s")
    for runs in results:
        for run in runs:
            assert run.returncode == 0, run.stderr
            assert not DRIVER_WORDS.search(run.stderr), run.stderr
    assert killer.killed >= PROCESSES  # the faults really happened
    for session in sessions:
        assert stored(postgres_url, session) == [
            question(session, turn).strip() for turn in range(TURNS)]


async def test_a_failed_copy_is_one_line_and_can_simply_be_run_again(
        cli_env: dict[str, str], tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    import sqlite3

    from tests.cli.test_db import fill

    source = tmp_path / "server.db"
    await fill(source)
    with sqlite3.connect(source) as db:  # a row SQLite took but PostgreSQL refuses
        db.execute("UPDATE usage SET prompt_tokens = 'lots' WHERE user_id = '8'")
    copy = ["db", "copy", "--from", f"sqlite:///{source}", "--to", postgres_url]
    failed = run_cli(copy, cli_env, tmp_path)
    assert failed.returncode == 2
    (line,) = failed.stderr.strip().splitlines()
    assert "copying usage failed" in line and "run the same copy again" in line
    with sqlite3.connect(source) as db:
        db.execute("UPDATE usage SET prompt_tokens = 4 WHERE user_id = '8'")
    again = run_cli(copy, cli_env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "turns: 25 of 25 rows copied" in again.stdout
