"""Scale benchmark: the same scripted load on SQLite, on PostgreSQL, and on two processes
sharing PostgreSQL, in one run.

    .venv/bin/python bench/scale.py [--conversations M] [--turns K]

Each configuration runs three phases on a fresh database:
1. store: M conversations x K turns, all conversations at once, paced as in phase 2 (members
   pause, the reply takes the model's latency) but without the model client, so the store is
   measured with M conversations under way and nothing else on the event loop: a turn's store
   calls (scope lock, history and persona read, turn and usage write) timed as one, wall time
   of the awaited calls;
2. replies: M other conversations x K turns through the real conversation path (streamed
   reply from the offline DashScope server in tests/doubles/fake_dashscope/); members pause
   ``--think`` s on average between a reply and their next message; the model service is the
   bottleneck: every reply waits ``--latency`` s for its first token, and a process streams at
   most ``--process-replies`` replies at once (OMNICORD_PROCESS_REPLIES), so capacity grows
   with processes; replies/s counts this phase;
3. cap: ``--cap-conversations`` conversations in one server limited to ``--cap`` replies at
   once (the per-server concurrency slot, shared by the processes), retried when refused; the
   most replies ever under way there at once must not exceed the cap.
Configurations: (a) one process, SQLite; (b) one process, PostgreSQL; (c) two processes,
PostgreSQL, each serving half of every phase. Printed per configuration: replies/s and its
ratio against (a), turns and usage rows stored against those expected, duplicated turns,
conversations stored out of order, store p50/p99 per turn, the cap's peak and the refused
tries; ratios are measured in this run. Exit status 1 on any lost, duplicated or disordered
turn, failed reply or cap violation.
PostgreSQL comes from OMNICORD_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/
test); the benchmark makes a database of its own there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omnicord.conversation.compose import NewMessage  # noqa: E402
from omnicord.conversation.respond import (  # noqa: E402
    HISTORY_WINDOW,
    Conversations,
    Payer,
    ReplyOptions,
)
from omnicord.media.types import MediaTarget  # noqa: E402
from omnicord.model.catalog import find_model  # noqa: E402
from omnicord.model.omni import OmniClient  # noqa: E402
from omnicord.policy.usage import usage_row  # noqa: E402
from omnicord.store import Store, Turn, open_store  # noqa: E402
from omnicord.store.records import Kept, SlotsFull, UsageRow  # noqa: E402

from tests.doubles.fake_dashscope import FakeDashScope  # noqa: E402

MODEL = find_model("qwen3-omni-flash")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
POOL_SIZE = 20


class TimedStore:
    """A store whose conversation calls are timed (wall time of each awaited call)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.per_turn: list[float] = []
        self._pending: dict[str, float] = {}

    def _add(self, scope: str, seconds: float) -> None:
        self._pending[scope] = self._pending.get(scope, 0.0) + seconds

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        async with self.store.hold(scope):
            self._add(scope, time.perf_counter() - start)
            yield

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        start = time.perf_counter()
        try:
            return await self.store.recall(scope, limit=limit)
        finally:
            self._add(scope, time.perf_counter() - start)

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> Kept:
        start = time.perf_counter()
        try:
            return await self.store.add_turn(scope, turn, usage)
        finally:
            self._add(scope, time.perf_counter() - start)
            self.per_turn.append(self._pending.pop(scope) * 1000)


@dataclass
class Load:
    """The scripted load one process serves."""

    scopes: list[str]
    turns: int
    streams: int
    think: float  # a member's mean seconds between a reply and their next message
    latency: float  # the model's seconds to first token
    cap_scopes: list[str]
    cap: int
    store_scopes: list[str]


@dataclass
class Outcome:
    replies: int
    failures: int
    store_ms: list[float]  # the store calls of each turn of the store phase
    cap_intervals: list[tuple[float, float]]
    cap_refusals: int
    main_seconds: float
    main_replies: int


async def serve_conversations(database: str, load: Load, api_key: str,
                              base_url: str) -> Outcome:
    """Answer ``load.turns`` messages in each scope, scopes at once, turns in order; then
    the same in the capped server's scopes, each reply holding one of its slots."""
    client = OmniClient(api_key, base_url, max_retries=0, timeout=120)
    options = ReplyOptions(model=MODEL, model_name=MODEL.name)
    failures = refusals = 0
    intervals: list[tuple[float, float]] = []
    async with open_store(database, pool_size=POOL_SIZE) as store:
        # A running bot's pool is open already: connect it before the clock starts.
        await asyncio.gather(*(store.count_rows("turns") for _ in range(POOL_SIZE)))
        timed = TimedStore(store)
        conversations = Conversations(timed, client, streams=load.streams)  # type: ignore[arg-type]

        async def answer(scope: str, k: int) -> None:
            nonlocal failures
            try:
                await conversations.respond(
                    scope, speaker_id=scope, new=NewMessage("member", f"turn {k}"),
                    options=options, target=MediaTarget(MODEL),
                    payer=Payer(scope, "guild", scope))
            except Exception:  # counted: the benchmark reports lost turns
                failures += 1

        async def talk(scope: str) -> None:
            pause = random.Random(scope)  # members type at their own pace, not in lockstep
            for k in range(load.turns):
                await asyncio.sleep(pause.uniform(0, 2 * load.think))
                await answer(scope, k)

        async def talk_under_cap(scope: str) -> None:
            nonlocal refusals
            for k in range(load.turns):
                while True:
                    try:
                        async with store.limits.slot("guild:capped", load.cap):
                            began = time.time()  # inside the slot: never overstates overlap
                            await answer(scope, k)
                            intervals.append((began, time.time()))
                        break
                    except SlotsFull:
                        refusals += 1
                        await asyncio.sleep(0.02)  # the member tries again

        async def store_only(scope: str) -> None:
            pause = random.Random(scope)
            for k in range(load.turns):  # a turn's store calls; the reply takes its latency
                await asyncio.sleep(pause.uniform(0, 2 * load.think))
                async with timed.hold(scope):
                    await timed.recall(scope, limit=HISTORY_WINDOW)
                    await asyncio.sleep(load.latency)
                    await timed.add_turn(scope, Turn(scope, "member", f"turn {k}", "a reply",
                                                     MODEL.name), _usage(scope))

        await asyncio.gather(*(store_only(scope) for scope in load.store_scopes))
        measured = list(timed.per_turn)
        began = time.perf_counter()
        await asyncio.gather(*(talk(scope) for scope in load.scopes))
        main_seconds = time.perf_counter() - began
        await asyncio.gather(*(talk_under_cap(scope) for scope in load.cap_scopes))
    await client.aclose()
    replies = (len(load.scopes) + len(load.cap_scopes) + len(load.store_scopes)) * load.turns
    return Outcome(replies, failures, measured, intervals, refusals, main_seconds,
                   len(load.scopes) * load.turns)


def _usage(scope: str) -> UsageRow:
    return usage_row(user_id=scope, model=MODEL.name, prompt_tokens=100, completion_tokens=20,
                     guild_id="3", channel_id=scope)


def _worker(database: str, load: Load, api_key: str, base_url: str, start: Any,
            results: Any) -> None:
    start.wait()
    results.put(asyncio.run(serve_conversations(database, load, api_key, base_url)))


def run_processes(database: str, load: Load, processes: int,
                  server: tuple[str, str]) -> tuple[float, list[Outcome]]:
    """Serve the load split between ``processes`` processes started together; the elapsed
    time is the slowest process's main load (before its cap check)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    shares = [replace(load, scopes=load.scopes[i::processes],
                      cap_scopes=load.cap_scopes[i::processes],
                      store_scopes=load.store_scopes[i::processes]) for i in range(processes)]
    workers = [context.Process(target=_worker, args=(database, share, *server, start, results))
               for share in shares]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # every process imported and waiting
    start.set()
    outcomes = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(30)
    return max(o.main_seconds for o in outcomes), outcomes


@dataclass
class Stored:
    """What the database holds after a run."""

    turns: int
    usage: int
    duplicated: int  # turns stored twice (same conversation and text)
    out_of_order: int  # conversations whose turns are not in the order they were sent


async def stored_rows(database: str) -> Stored:
    async with open_store(database, pool_size=1) as store:
        seen: dict[int, list[str]] = {}
        async for batch in store.export_rows("turns"):
            for row in batch:  # id, conversation_id, speaker_id, speaker_name, text, ...
                seen.setdefault(row[1], []).append(row[4])
        usage = await store.count_rows("usage")
    texts = [text for texts in seen.values() for text in texts]
    keys = {(conversation, text) for conversation, texts in seen.items() for text in texts}
    disorder = sum(texts != sorted(texts, key=_turn_number) for texts in seen.values())
    return Stored(len(texts), usage, len(texts) - len(keys), disorder)


def _turn_number(text: str) -> int:
    return int(text.rsplit(" ", 1)[-1])


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at any moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0


@asynccontextmanager
async def scratch_postgres(base: str) -> AsyncIterator[str]:
    """A database of the benchmark's own on the server ``base`` names, dropped after."""
    import asyncpg

    name = f"omnicord_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def serve_model(pipe: Any, latency: float) -> None:
    """The offline model server in a process of its own, as the real service would be."""
    with FakeDashScope(reply_delay=latency) as server:
        pipe.send((server.api_key, server.base_url))
        pipe.recv()


HEADER = (f"{'configuration':<28} {'replies/s':>9} {'ratio':>6} {'turns':>11} {'usage':>11}"
          f" {'dup':>3} {'order':>5} {'store p50':>9} {'p99 ms':>6} {'cap peak':>8}"
          f" {'retries':>7}")


def report(label: str, elapsed: float, outcomes: list[Outcome], stored: Stored, cap: int,
           baseline: float | None) -> tuple[float, int]:
    """Print one configuration's line; return its replies/s and its faults (lost,
    duplicated or disordered turns, lost usage, failures, cap violations)."""
    expected = sum(o.replies for o in outcomes)
    store_ms = [ms for o in outcomes for ms in o.store_ms]
    rate = sum(o.main_replies for o in outcomes) / elapsed
    ratio = f"{rate / baseline:>5.2f}x" if baseline else " 1.00x"
    peak = most_at_once([i for o in outcomes for i in o.cap_intervals])
    failures = sum(o.failures for o in outcomes)
    print(f"{label:<28} {rate:>9.1f} {ratio} {stored.turns:>5}/{expected:<5}"
          f" {stored.usage:>5}/{expected:<5} {stored.duplicated:>3} {stored.out_of_order:>5}"
          f" {statistics.median(store_ms):>9.2f} {percentile(store_ms, 0.99):>6.2f}"
          f" {peak:>4}/{cap:<3} {sum(o.cap_refusals for o in outcomes):>7}"
          f"{f'  {failures} failed' if failures else ''}")
    faults = (abs(expected - stored.turns) + abs(expected - stored.usage) + stored.duplicated
              + stored.out_of_order + failures + max(0, peak - cap))
    return rate, faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", "-m", type=int, default=128)
    parser.add_argument("--turns", "-k", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5,
                        help="the model's seconds to first token (default 0.5)")
    parser.add_argument("--process-replies", type=int, default=32,
                        help="replies one process streams at once (default 32)")
    parser.add_argument("--think", type=float, default=0.25,
                        help="members' mean seconds between a reply and the next message")
    parser.add_argument("--cap-conversations", type=int, default=12)
    parser.add_argument("--cap", type=int, default=3)
    args = parser.parse_args()
    load = Load(scopes=[f"guild:1:channel:{i}" for i in range(args.conversations)],
                turns=args.turns, streams=args.process_replies, think=args.think,
                latency=args.latency,
                cap_scopes=[f"guild:2:channel:{i}" for i in range(args.cap_conversations)],
                cap=args.cap,
                store_scopes=[f"guild:3:channel:{i}" for i in range(args.conversations)])
    postgres = os.environ.get("OMNICORD_BENCH_POSTGRES", DEFAULT_POSTGRES)
    ours, theirs = multiprocessing.Pipe()
    model = multiprocessing.Process(target=serve_model, args=(theirs, args.latency),
                                    daemon=True)
    model.start()
    server = ours.recv()
    print(f"{args.conversations} conversations x {args.turns} turns at once; model latency"
          f" {args.latency:g} s; {args.process_replies} replies streamed at once per process;"
          f" members pause {args.think:g} s on average; cap check:"
          f" {args.cap_conversations} conversations in a server limited to {args.cap} at once")
    print(HEADER)
    faults = 0
    rates: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="omnicord-scale-") as folder:
            sqlite = str(Path(folder) / "scale.db")
            elapsed, outcomes = run_processes(sqlite, load, 1, server)
            rate, found = report("(a) 1 process, SQLite", elapsed, outcomes,
                                 asyncio.run(stored_rows(sqlite)), load.cap, None)
            rates.append(rate)
            faults += found
        for processes, label in ((1, "(b) 1 process, PostgreSQL"),
                                 (2, "(c) 2 processes, PostgreSQL")):
            rate, found = asyncio.run(_on_postgres(postgres, load, processes, server, label,
                                                   rates[0]))
            rates.append(rate)
            faults += found
    finally:
        ours.send("done")
        model.join(15)
    print(f"(c) against (b): {rates[2] / rates[1]:.2f}x the replies/s (goal >= 1.6x);"
          f" faults (lost, duplicated, out of order, failed, over the cap): {faults}")
    return 0 if faults == 0 else 1


async def _on_postgres(postgres: str, load: Load, processes: int, server: tuple[str, str],
                       label: str, baseline: float) -> tuple[float, int]:
    async with scratch_postgres(postgres) as database:
        async with open_store(database, pool_size=1):
            pass  # migrated once, before the clock starts
        elapsed, outcomes = await asyncio.to_thread(run_processes, database, load, processes,
                                                    server)
        return report(label, elapsed, outcomes, await stored_rows(database), load.cap,
                      baseline)


if __name__ == "__main__":
    sys.exit(main())
