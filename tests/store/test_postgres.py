"""The PostgreSQL store across real processes: conversation locks, cooldowns, slots, the upstream
window and migrations shared by several bot processes; a crashed holder's takeover; leases
left clean by cancellation; one-line errors when the database cannot be used.

The worker processes run this module: ``python -m tests.store.test_postgres ROLE URL ARGS…``.
Each opens its store, prints ``ready``, waits for ``go`` on stdin so all start together, then
prints its result as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from omnicord.errors import ConfigError
from omnicord.store import Turn, store_for
from omnicord.store.errors import StoreUnavailable
from omnicord.store.records import SlotsFull

from tests.store.conftest import (
    LEASE_SECONDS,
    POSTGRES,
    require_postgres,
    run_in_thread,
    with_database,
)

REPO = Path(__file__).resolve().parents[2]  # not tests.conftest's: workers start lighter
MODEL = "qwen3-omni-flash"
WAIT = 30.0  # seconds any worker step may take before the test gives up on it


# --- the worker processes ---------------------------------------------------------------------

async def _worker(role: str, url: str, args: list[str]) -> None:
    from omnicord.store.postgres.store import PostgresStore

    store = PostgresStore(url, pool_size=4, lease_seconds=LEASE_SECONDS)
    if role != "migrate":
        await store.open()
    _say("ready")
    await _expect("go")
    try:
        await ROLES[role](store, *args)
    finally:
        await store.close()


async def _converse(store: Any, name: str, turns: str) -> None:
    """Take turns in a shared and an own conversation, each counting the turns it saw."""

    async def one(n: int) -> None:
        scope = "shared" if n % 2 == 0 else f"own:{name}"
        async with store.hold(scope):
            seen, _ = await store.recall(scope)
            await asyncio.sleep(0.002)  # widen the window a missing lock would let others into
            await store.add_turn(scope, Turn(speaker_id=name, speaker_name=name,
                                             text=f"{name}:{n}", reply_text=str(len(seen)),
                                             model=MODEL))

    await asyncio.gather(*[one(n) for n in range(int(turns))])
    _say(json.dumps("done"))


async def _cooldown(store: Any, key: str) -> None:
    _say(json.dumps(await store.limits.try_cooldown(key, 30)))


async def _slot(store: Any, key: str, limit: str, attempts: str) -> None:
    """Try for a slot from several coroutines at once; hold those taken until told."""
    outcomes: list[str] = []
    decided, release = asyncio.Event(), asyncio.Event()

    async def attempt() -> None:
        try:
            async with store.limits.slot(key, int(limit)):
                outcomes.append("held")
                decided.set()
                await release.wait()
        except SlotsFull:
            outcomes.append("full")
            decided.set()

    tasks = [asyncio.create_task(attempt()) for _ in range(int(attempts))]
    while len(outcomes) < len(tasks):
        decided.clear()
        await decided.wait()
    _say(json.dumps(outcomes))
    if "held" in outcomes:
        await _expect("release")
    release.set()
    await asyncio.gather(*tasks)


async def _slot_hammer(store: Any, key: str, limit: str, seconds: str) -> None:
    """Take and give back slots from several coroutines for a while; report the most slot
    leases ever seen at once while holding one, and how many takes and refusals there were."""
    pool, most, counts = store.database.pool, 0, {"held": 0, "full": 0}
    deadline = time.monotonic() + float(seconds)

    async def churn() -> None:
        nonlocal most
        while time.monotonic() < deadline:
            try:
                async with store.limits.slot(key, int(limit)):
                    counts["held"] += 1
                    most = max(most, await pool.fetchval(
                        "SELECT count(*) FROM slot_leases WHERE key = $1", key))
            except SlotsFull:
                counts["full"] += 1

    await asyncio.gather(*[churn() for _ in range(3)])
    _say(json.dumps([most, counts["held"], counts["full"]]))


async def _upstream(store: Any, per_minute: str, attempts: str) -> None:
    waits = [await store.limits.try_upstream(int(per_minute)) for _ in range(int(attempts))]
    _say(json.dumps(waits))


async def _migrate(store: Any) -> None:
    await store.open()
    _say(json.dumps(await store.schema_version()))


async def _hold_forever(store: Any, scope: str) -> None:
    async with store.hold(scope):
        _say(json.dumps("held"))
        await asyncio.sleep(3600)


ROLES = {"converse": _converse, "cooldown": _cooldown, "slot": _slot,
         "slot-hammer": _slot_hammer, "upstream": _upstream,
         "migrate": _migrate, "hold-forever": _hold_forever}


def _say(line: str) -> None:
    print(line, flush=True)


async def _expect(word: str) -> None:
    line = await asyncio.to_thread(sys.stdin.readline)
    assert line.strip() == word, f"expected {word!r}, got {line!r}"


# --- driving them from the tests --------------------------------------------------------------

class Worker:
    """One worker process, spoken to a line at a time."""

    def __init__(self, role: str, url: str, *args: object) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.store.test_postgres", role, url, *map(str, args)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = ThreadPoolExecutor(1)

    def read(self) -> str:
        """The next line the worker prints (failing the test if it dies or stalls)."""
        assert self.process.stdout is not None
        try:
            line = self._reader.submit(self.process.stdout.readline).result(WAIT)
        except FutureTimeout:
            self.kill()
            pytest.fail(f"worker silent for {WAIT} s")
        if not line:
            self.process.wait(WAIT)
            assert self.process.stderr is not None
            pytest.fail(f"worker exited {self.process.returncode}: {self.process.stderr.read()}")
        return line.strip()

    def result(self) -> Any:
        return json.loads(self.read())

    def send(self, word: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()

    def finish(self) -> None:
        """Wait for a clean exit."""
        _, errors = self.process.communicate(timeout=WAIT)
        assert self.process.returncode == 0, errors

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT)
        self._reader.shutdown(wait=False, cancel_futures=True)


@contextmanager
def workers(role: str, url: str, *each: tuple[object, ...]) -> Iterator[list[Worker]]:
    """One worker per ``each`` (its arguments), all ready, then told to go at once; killed if
    the test fails."""
    started = [Worker(role, url, *args) for args in each]
    try:
        for worker in started:
            assert worker.read() == "ready"
        for worker in started:
            worker.send("go")
        yield started
    finally:
        for worker in started:
            worker.kill()


async def query(url: str, sql: str, *args: object) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def fetch(url: str, sql: str, *args: object) -> list[Any]:
    return run_in_thread(lambda: query(url, sql, *args))


# --- across processes -------------------------------------------------------------------------

def test_processes_sharing_conversations_lose_duplicate_and_interleave_nothing(
        postgres_url: str) -> None:
    names, turns_each = ("p0", "p1", "p2"), 20
    with workers("converse", postgres_url, *[(name, turns_each) for name in names]) as started:
        for worker in started:
            assert worker.result() == "done"
            worker.finish()
    rows = fetch(postgres_url, "SELECT c.scope, t.text, t.reply_text FROM turns t"
                 " JOIN conversations c ON c.id = t.conversation_id ORDER BY t.id")
    by_scope: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_scope.setdefault(row["scope"], []).append((row["text"], row["reply_text"]))
    assert sorted(by_scope) == ["own:p0", "own:p1", "own:p2", "shared"]
    assert sorted(text for turns in by_scope.values() for text, _ in turns) == sorted(
        f"{name}:{n}" for name in names for n in range(turns_each))  # none lost, none twice
    for scope, turns in by_scope.items():
        # Each turn saw exactly the turns before it: no two replies overlapped in a scope.
        assert [seen for _, seen in turns] == [str(n) for n in range(len(turns))], scope
    assert len(by_scope["shared"]) == len(names) * turns_each // 2


def test_a_cooldown_admits_exactly_one_of_several_processes(postgres_url: str) -> None:
    with workers("cooldown", postgres_url, *[("cooldown:member",)] * 5) as started:
        waits = [worker.result() for worker in started]
    assert sorted(waits)[0] == 0 and all(0 < wait <= 30 for wait in sorted(waits)[1:]), waits


def test_slots_admit_exactly_the_limit_across_processes(postgres_url: str) -> None:
    with workers("slot", postgres_url, *[("slots:guild", 2, 4)] * 5) as started:
        outcomes = [worker.result() for worker in started]
        assert sorted(o for each in outcomes for o in each) == ["full"] * 18 + ["held"] * 2
        assert len(fetch(postgres_url, "SELECT * FROM slot_leases")) == 2
        for worker, each in zip(started, outcomes, strict=True):
            if "held" in each:
                worker.send("release")
            worker.finish()
    assert fetch(postgres_url, "SELECT * FROM slot_leases") == []


def test_slots_taken_and_given_back_by_many_processes_never_exceed_the_limit(
        postgres_url: str) -> None:
    # Three seconds each, so the four processes overlap even when a busy machine starts them
    # far apart.
    with workers("slot-hammer", postgres_url, *[("slots:busy", 2, 3.0)] * 4) as started:
        reports = [worker.result() for worker in started]
    assert max(most for most, _, _ in reports) <= 2, reports
    assert all(held and full for _, held, full in reports), reports  # all took part, contended
    assert fetch(postgres_url, "SELECT * FROM slot_leases") == []


def test_the_upstream_window_admits_exactly_the_rate_across_processes(postgres_url: str) -> None:
    with workers("upstream", postgres_url, *[(7, 5)] * 4) as started:
        waits = [wait for worker in started for wait in worker.result()]
    assert len(waits) == 20 and waits.count(0) == 7
    assert all(0 < wait <= 60 for wait in waits if wait), waits
    assert len(fetch(postgres_url, "SELECT * FROM upstream_requests")) == 7


def test_processes_migrating_a_new_database_together_apply_each_migration_once(
        postgres_url: str) -> None:
    from omnicord.store.postgres.migrate import load_migrations

    shipped = load_migrations()
    with workers("migrate", postgres_url, *[()] * 5) as started:
        versions = [worker.result() for worker in started]
        for worker in started:
            worker.finish()
    assert versions == [shipped[-1].version] * 5
    rows = fetch(postgres_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(row["version"], row["name"]) for row in rows] == [
        (m.version, m.name) for m in shipped]


def test_a_killed_holders_conversation_is_taken_over_when_its_lease_expires(
        postgres_url: str) -> None:
    with workers("hold-forever", postgres_url, ("thread:1",)) as (holder,):
        assert holder.result() == "held"

        async def take_over() -> float:
            from omnicord.store.postgres.store import PostgresStore

            async with PostgresStore(postgres_url, lease_seconds=LEASE_SECONDS) as store:
                # Alive, the holder renews its lease past its time to live: no way in.
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(LEASE_SECONDS * 2.5), store.hold("thread:1"):
                        pytest.fail("held by two processes at once")
                holder.kill()
                killed = time.monotonic()
                async with store.hold("thread:1"):
                    return time.monotonic() - killed

        waited = run_in_thread(take_over)
    assert waited <= LEASE_SECONDS + 1.0, waited


# --- in one process ---------------------------------------------------------------------------

async def test_cancelled_waiters_and_holders_leave_no_lease(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url) as first, PostgresStore(postgres_url) as second:
        leases = "SELECT holder FROM scope_leases"
        async with first.hold("channel:1"):
            waiter = asyncio.create_task(_enter(second, "channel:1", asyncio.Event()))
            await asyncio.sleep(0.2)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert len(await first.database.pool.fetch(leases)) == 1
        assert await first.database.pool.fetch(leases) == []

        entered = asyncio.Event()
        holder = asyncio.create_task(_enter(second, "channel:1", entered))
        await entered.wait()
        assert len(await first.database.pool.fetch(leases)) == 1
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        assert await first.database.pool.fetch(leases) == []
        async with asyncio.timeout(10), first.hold("channel:1"):  # not the 60 s lease expiry
            pass


async def _enter(store: Any, scope: str, entered: asyncio.Event) -> None:
    async with store.hold(scope):
        entered.set()
        await asyncio.sleep(3600)


async def test_held_conversations_and_slots_pin_no_connection(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url, pool_size=2) as store:
        inside = 0
        everyone_in = asyncio.Event()

        async def reply(n: int) -> None:
            nonlocal inside
            async with store.hold(f"channel:{n}"), store.limits.slot("slots:g", 12):
                inside += 1
                if inside == 12:
                    everyone_in.set()
                await everyone_in.wait()

        async with asyncio.timeout(10):  # two connections, twelve replies under way at once
            await asyncio.gather(*[reply(n) for n in range(12)])
        assert await store.database.pool.fetchval("SELECT count(*) FROM scope_leases") == 0


async def test_the_upstream_window_slides_with_the_database_clock(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url) as store:
        limits, pool = store.limits, store.database.pool
        assert [await limits.try_upstream(2) for _ in range(2)] == [0, 0]
        await pool.execute("UPDATE upstream_requests SET at = at - interval '58 seconds'")
        wait = await limits.try_upstream(2)
        assert 1 < wait <= 2.1
        await pool.execute("UPDATE upstream_requests SET at = at - interval '3 seconds'")
        assert await limits.try_upstream(2) == 0
        assert await pool.fetchval("SELECT count(*) FROM upstream_requests") == 1  # pruned


async def test_forgetting_a_member_forgets_their_cooldowns(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url) as store:
        for key in ("chat:42", "caption:42", "chat:420", "chat:7"):
            assert await store.limits.try_cooldown(key, 60) == 0
        await store.forget_member("42")
    keys = sorted(row["key"] for row in fetch(postgres_url, "SELECT key FROM cooldowns"))
    assert keys == ["chat:420", "chat:7"]


async def test_pruning_limits_deletes_expired_rows_and_spares_live_ones(
    postgres_url: str
) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url, lease_seconds=LEASE_SECONDS) as store:
        limits, pool = store.limits, store.database.pool
        await pool.execute(
            "INSERT INTO cooldowns (key, last_at) VALUES"
            " ('cooldown:chat:1', clock_timestamp() - interval '2 days'),"
            " ('cooldown:chat:2', clock_timestamp() - interval '23 hours')")
        await pool.execute(
            "INSERT INTO scope_leases (scope, holder, expires_at) VALUES"
            " ('channel:1', 'dead:1/1', clock_timestamp() - interval '1 second'),"
            " ('channel:2', 'alive:1/1', clock_timestamp() + interval '1 minute')")
        await pool.execute(
            "INSERT INTO slot_leases (holder, key, expires_at) VALUES"
            " ('dead:1/2', 'slots:gone', clock_timestamp() - interval '1 second')")
        await pool.execute("INSERT INTO upstream_requests (at) VALUES"
                           " (clock_timestamp() - interval '61 seconds'), (clock_timestamp())")
        async with store.hold("channel:3"), limits.slot("slots:g", 1):
            expired = await limits.prune(cooldowns_older_than=86_400)
            assert (expired.cooldowns, expired.leases, expired.upstream) == (1, 2, 1)
            with pytest.raises(SlotsFull):  # the live slot still counts
                async with limits.slot("slots:g", 1):
                    pass
            scopes = sorted(row["scope"] for row in await pool.fetch(
                "SELECT scope FROM scope_leases"))
            assert scopes == ["channel:2", "channel:3"]
        assert [row["key"] for row in await pool.fetch("SELECT key FROM cooldowns")] == [
            "cooldown:chat:2"]
        assert await pool.fetchval("SELECT count(*) FROM upstream_requests") == 1
        assert await limits.try_cooldown("cooldown:chat:2", 86_400) > 0


async def test_pruning_spares_leases_taken_and_renewed_meanwhile(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url, lease_seconds=LEASE_SECONDS) as store:
        limits = store.limits
        stop = asyncio.Event()

        async def prune_until_stopped() -> int:
            rounds = 0
            while not stop.is_set():
                await limits.prune(cooldowns_older_than=0)
                rounds += 1
            return rounds

        async def reply(n: int) -> None:
            async with store.hold(f"channel:{n % 3}"), limits.slot("slots:r", 30):
                await asyncio.sleep(0.01)

        pruner = asyncio.create_task(prune_until_stopped())
        try:
            async with limits.slot("slots:g", 1), store.hold("channel:held"):
                await asyncio.gather(*[reply(n) for n in range(30)])
                await asyncio.sleep(LEASE_SECONDS * 1.5)  # renewed while pruned
                count = await store.database.pool.fetchval(
                    "SELECT count(*) FROM scope_leases WHERE scope = 'channel:held'")
                assert count == 1
                with pytest.raises(SlotsFull):  # the held slot was never pruned
                    async with limits.slot("slots:g", 1):
                        pass
        finally:
            stop.set()
            assert await pruner > 0


async def test_a_crashed_slot_frees_itself_after_its_lease(postgres_url: str) -> None:
    from omnicord.store.postgres.store import PostgresStore

    async with PostgresStore(postgres_url, lease_seconds=LEASE_SECONDS) as store:
        await store.database.pool.execute(
            "INSERT INTO slot_leases (holder, key, expires_at)"
            " VALUES ('dead:1/1', 'slots:g', clock_timestamp() + interval '0.3 seconds')")
        with pytest.raises(SlotsFull):
            async with store.limits.slot("slots:g", 1):
                pass
        await asyncio.sleep(0.4)
        async with store.limits.slot("slots:g", 1):
            await asyncio.sleep(LEASE_SECONDS * 1.5)  # outlives its lease, renewed meanwhile
            with pytest.raises(SlotsFull):
                async with store.limits.slot("slots:g", 1):
                    pass


# --- when the database cannot be used ---------------------------------------------------------

def with_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:s3cret-pw@{host}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("problem", ["no server", "no database", "bad url"])
async def test_an_unusable_database_is_one_line_without_the_password(problem: str) -> None:
    url = {
        "no server": f"postgresql://ada:s3cret-pw@127.0.0.1:{free_port()}/omnicord",
        "no database": with_password(with_database(POSTGRES, "omnicord_missing_db")),
        "bad url": "postgresql://ada:s3cret-pw@127.0.0.1:notaport/omnicord",
    }[problem]
    if problem == "no database":
        require_postgres()  # the server answers, trusting any password
    store = store_for(url)
    with pytest.raises(StoreUnavailable) as raised:
        await store.open()
    message = str(raised.value)
    assert message.startswith("OMNICORD_DB: ") and "\n" not in message
    assert "s3cret-pw" not in message and raised.value.__suppress_context__
    assert {"no server": "connection refused", "no database": '"omnicord_missing_db" does not',
            "bad url": "not a valid PostgreSQL URL"}[problem] in message
    assert ":***@" in message
    await store.close()


def test_without_asyncpg_a_postgresql_url_asks_for_the_extra() -> None:
    script = ("import sys; sys.modules['asyncpg'] = None\n"
              "from omnicord.store import store_for\n"
              "from omnicord.errors import ConfigError\n"
              "try:\n    store_for('postgresql://localhost/x')\n"
              "except ConfigError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=WAIT, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        'OMNICORD_DB is a PostgreSQL URL, which needs asyncpg: pip install "asyncpg>=0.30" '
        '(in an Omnicord checkout, pip install -e ".[postgresql]")')
    assert issubclass(StoreUnavailable, ConfigError)


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1], sys.argv[2], sys.argv[3:]))
