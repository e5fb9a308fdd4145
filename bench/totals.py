"""Monthly totals under many writers: striped rows against one hot row, in one run.

    .venv/bin/python bench/totals.py [--writers N] [--seconds S]

Every usage row is counted into ``usage_months`` by a trigger in the row's own transaction, so
two writers counting into the same row wait for each other's commit. Since migration 0016 each
total is kept in stripes named by the channel id's last two characters. This runs N writers,
each a member of a server of its own writing turns with usage through the real store on
PostgreSQL, for S seconds twice on one fresh database:
  (a) baseline: every writer in a channel ending in the same two digits, so all share one
      stripe of the bot-wide total, as every writer shared the one 'bot' row before 0016;
  (b) striped: each writer in a channel of its own (distinct last two digits).
Printed: turns/s and p50/p99 per write for each, and (b) ÷ (a); the totals read afterwards
must equal what was written (exit status 1 otherwise).
PostgreSQL comes from OMNICORD_BENCH_POSTGRES (default postgresql://postgres@127.0.0.1:5432/
test); the benchmark makes a database of its own there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omnicord.store import Store, Turn, open_store  # noqa: E402
from omnicord.store.records import UsageRow, utc_now  # noqa: E402

from bench.scale import scratch_postgres  # noqa: E402

MODEL = "qwen3-omni-flash"
PROMPT, COMPLETION = 100, 20


async def write_for(store: Store, writer: int, channel: str, seconds: float,
                    latencies: list[float]) -> int:
    """One member writing turns with usage for ``seconds``; how many were stored."""
    written, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = utc_now()
        turn = Turn(speaker_id=str(writer), speaker_name="m", text="q", reply_text="a",
                    model=MODEL, created_at=began)
        usage = UsageRow(user_id=str(writer), model=MODEL, prompt_tokens=PROMPT,
                         completion_tokens=COMPLETION, guild_id=f"g{writer}",
                         channel_id=channel, began_at=began)
        start = time.perf_counter()
        await store.add_turn(f"guild:g{writer}:channel:{channel}", turn, usage)
        latencies.append(time.perf_counter() - start)
        written += 1
    return written


async def phase(store: Store, writers: int, seconds: float, *, striped: bool
                ) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    # Channel ids differ in every case; only their last two digits, the stripe, may not.
    channels = [f"9{n:04d}{n % 100 if striped else 0:02d}" for n in range(writers)]
    began = time.perf_counter()
    counts = await asyncio.gather(*(write_for(store, n, channels[n], seconds, latencies)
                                    for n in range(writers)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return (sum(counts) / elapsed, statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000, sum(counts))


async def run(postgres: str, writers: int, seconds: float) -> int:
    async with (scratch_postgres(postgres) as database,
                open_store(database, pool_size=writers) as store):
        month = utc_now()[:7]
        hot = await phase(store, writers, seconds, striped=False)
        spread = await phase(store, writers, seconds, striped=True)
        totals = await store.month_usage("bot", month)
    for label, (rate, p50, p99, count) in (("(a) one stripe", hot), ("(b) striped", spread)):
        print(f"{label:<16} {rate:8.0f} turns/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
              f"  ({count} turns)")
    print(f"(b) / (a): {spread[0] / hot[0]:.2f}x turns/s, p99 {spread[2] / hot[2]:.2f}x")
    written = hot[3] + spread[3]
    expected = [(MODEL, written * PROMPT, written * COMPLETION)]
    if totals != expected:
        print(f"totals wrong: {totals} != {expected}")
        return 1
    print(f"bot-wide total for the month: {written} turns' tokens, exact")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    postgres = os.environ.get("OMNICORD_BENCH_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")
    return asyncio.run(run(postgres, args.writers, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
