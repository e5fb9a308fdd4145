"""``InFlight``: replies under way finish within the grace, the rest are cut; a second signal
(``now``) cuts at once; nothing new starts once draining began."""

from __future__ import annotations

import asyncio
import time

from omnicord.cogs.runtime.inflight import Drained, InFlight


async def reply(work: InFlight, seconds: float, log: list[str], name: str) -> None:
    with work.track():
        try:
            await asyncio.sleep(seconds)
            log.append(f"{name} done")
        except asyncio.CancelledError:
            log.append(f"{name} cut")
            raise


async def test_replies_within_the_grace_finish_and_the_rest_are_cut() -> None:
    work, log = InFlight(), []
    tasks = [asyncio.create_task(reply(work, s, log, n))
             for n, s in (("quick", 0.05), ("slow", 60))]
    await asyncio.sleep(0.01)
    assert work.count == 2 and work.accepting
    started = time.monotonic()
    drained = await work.drain(grace=3)  # the quick one has seconds to spare on a busy machine
    assert time.monotonic() - started < 30  # the grace, not the slow reply's 60 s
    assert drained == Drained(finished=1, cut=1) and sorted(log) == ["quick done", "slow cut"]
    assert work.stopping and work.count == 0 and all(t.done() for t in tasks)
    assert drained.summary() == "1 reply finished, 1 cut"


async def test_now_cuts_without_waiting_out_the_grace() -> None:
    work, log, now = InFlight(), [], asyncio.Event()
    task = asyncio.create_task(reply(work, 120, log, "long"))
    await asyncio.sleep(0.01)
    asyncio.get_running_loop().call_later(0.1, now.set)
    started = time.monotonic()
    assert await work.drain(grace=60, now=now) == Drained(finished=0, cut=1)
    assert time.monotonic() - started < 30  # at once, not after the 60 s grace
    assert log == ["long cut"] and task.cancelled()


async def test_nothing_under_way_drains_at_once() -> None:
    work = InFlight()
    assert await work.drain(grace=60) == Drained(0, 0)
    assert Drained(2, 0).summary() == "2 replies finished, 0 cut"
