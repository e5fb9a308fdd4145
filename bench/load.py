"""Load benchmark: N members in N conversations answered at the same moment, one run.

    .venv/bin/python bench/load.py [N ...]      (default: 8 32 128)

Each member's message goes through the real conversation path (history read, composition,
streamed reply from the offline DashScope server in tests/doubles/fake_dashscope/, turn
and usage stored by one statement) on one SQLite store, all N at once with
``asyncio.gather``. Printed per N: replies per second, turns and usage rows stored against
those expected, and the time each turn spent in the store (lock, history and persona reads,
the turn's write), as p50/p99/max, and the wall time of those calls including the event
loop's delay in resuming the caller.
Goal: 0 lost turns and 0 lost usage rows at every N; store p99 <= 20 ms at N = 128.
"""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omnicord.conversation.compose import NewMessage  # noqa: E402
from omnicord.conversation.respond import Conversations, Payer, ReplyOptions  # noqa: E402
from omnicord.media.types import MediaTarget  # noqa: E402
from omnicord.model.catalog import find_model  # noqa: E402
from omnicord.model.omni import OmniClient  # noqa: E402
from omnicord.store import SqliteStore, Turn  # noqa: E402
from omnicord.store.records import Kept, UsageRow  # noqa: E402

from tests.doubles.fake_dashscope import FakeDashScope  # noqa: E402

MODEL = find_model("qwen3-omni-flash")
DEFAULT_SIZES = (8, 32, 128)


_scope: contextvars.ContextVar[str] = contextvars.ContextVar("scope")


class TimedStore:
    """The real store, with the time each scope spends in it added up.

    A database call is timed from the moment it is made until its work (and commit) finished
    in the database thread: queueing behind other writers counts, the event loop's delay in
    resuming the caller afterwards does not (that is loop load, measured separately as wall).
    """

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.spent: defaultdict[str, float] = defaultdict(float)
        self.wall: defaultdict[str, float] = defaultdict(float)
        for connection in (store.database._writer, store.database._reader):
            self._instrument(connection)

    def _instrument(self, connection: Any) -> None:
        finished: dict[int, float] = {}
        run_group = connection._run_group

        def stamped_run_group(group: list[Any]) -> None:
            run_group(group)
            now = time.perf_counter()
            for job in group:  # calls combined finish when their statement does
                finished[id(job.combinable or job.work)] = now

        connection._run_group = stamped_run_group
        for name in ("call", "combine"):
            setattr(connection, name, self._timed_method(getattr(connection, name), finished))

    def _timed_method(self, method: Any, finished: dict[int, float]) -> Any:
        async def timed(work: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(work)
            finally:
                if id(work) in finished:
                    self.spent[_scope.get()] += finished.pop(id(work)) - start

        return timed

    async def _timed(self, scope: str, call: Any) -> Any:
        _scope.set(scope)
        start = time.perf_counter()
        try:
            return await call
        finally:
            self.wall[scope] += time.perf_counter() - start

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        async with self.store.hold(scope):
            self.spent[scope] += time.perf_counter() - start
            self.wall[scope] += time.perf_counter() - start
            yield

    async def history(self, scope: str, *, limit: int | None = None) -> list[Turn]:
        return await self._timed(scope, self.store.history(scope, limit=limit))

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        return await self._timed(scope, self.store.recall(scope, limit=limit))

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> Kept:
        kept: Kept = await self._timed(scope, self.store.add_turn(scope, turn, usage))
        return kept


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def serve(pipe: Any) -> None:
    """The offline model server in a process of its own, as the real service would be."""
    with FakeDashScope() as server:
        pipe.send((server.api_key, server.base_url))
        pipe.recv()  # until the benchmark is done


async def load(n: int, folder: Path, api_key: str, base_url: str) -> bool:
    path = folder / f"load-{n}.db"
    client = OmniClient(api_key, base_url, max_retries=0, timeout=120)
    options = ReplyOptions(model=MODEL, model_name=MODEL.name)
    async with SqliteStore(path) as store:
        timed = TimedStore(store)
        conversations = Conversations(timed, client)  # type: ignore[arg-type]
        start = time.perf_counter()
        results = await asyncio.gather(*(
            conversations.respond(
                f"channel:{i}", speaker_id=str(i), new=NewMessage(f"member{i}", f"hello {i}"),
                options=options, target=MediaTarget(MODEL), payer=Payer(str(i), "guild", str(i)))
            for i in range(n)), return_exceptions=True)
        elapsed = time.perf_counter() - start
    await client.aclose()
    failures = [r for r in results if isinstance(r, BaseException)]
    turns, usage = count(path, "turns"), count(path, "usage")
    spent_ms = [seconds * 1000 for seconds in timed.spent.values()]
    wall_ms = [seconds * 1000 for seconds in timed.wall.values()]
    p99 = percentile(spent_ms, 0.99)
    print(f"{n:>5} {n / elapsed:>10.1f} {turns:>4}/{n:<4} {usage:>4}/{n:<4} "
          f"{statistics.median(spent_ms):>7.2f} {p99:>7.2f} {max(spent_ms):>7.2f} "
          f"{percentile(wall_ms, 0.99):>9.1f}  {len(failures)} failed")
    for failure in failures[:3]:
        print(f"      {type(failure).__name__}: {failure}")
    return turns == usage == n and not failures and (n < 128 or p99 <= 20)


def main() -> int:
    sizes = [int(arg) for arg in sys.argv[1:]] or list(DEFAULT_SIZES)
    print("    N  replies/s  turns      usage      store ms per turn: p50     p99     max"
          "  wall p99")
    ok = True
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    api_key, base_url = ours.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="omnicord-load-") as folder:
            for n in sizes:
                ok &= asyncio.run(load(n, Path(folder), api_key, base_url))
    finally:
        ours.send("done")
        server.join(15)
    print("goal: 0 lost turns and usage rows at every N; store p99 <= 20 ms at N = 128:",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
