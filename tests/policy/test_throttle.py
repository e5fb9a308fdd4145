"""Cooldowns, concurrency slots and the bot-wide upstream request rate."""

from __future__ import annotations

import asyncio

import pytest
from omnicord.errors import RateLimited
from omnicord.model.omni import OmniClient
from omnicord.model.parts import text_part
from omnicord.model.rules import ChatRequest
from omnicord.policy.throttle import UpstreamPace, forget_expired
from omnicord.store.sqlite.limits import MemoryLimits

from tests.doubles.fake_dashscope import FakeDashScope


async def test_upstream_window_slides() -> None:
    now = [1000.0]
    limits = MemoryLimits(clock=lambda: now[0])
    assert [await limits.try_upstream(2) for _ in range(2)] == [0.0, 0.0]
    assert await limits.try_upstream(2) == pytest.approx(60.0)
    now[0] += 45
    assert await limits.try_upstream(2) == pytest.approx(15.0)  # nothing recorded meanwhile
    now[0] += 15
    assert await limits.try_upstream(2) == 0.0
    assert await limits.try_upstream(2) == 0.0  # both of the first minute have left
    assert await limits.try_upstream(2) == pytest.approx(60.0)


async def test_pace_waits_for_a_free_moment_then_refuses_past_its_bound() -> None:
    now = [0.0]
    limits = MemoryLimits(clock=lambda: now[0])
    pace = UpstreamPace(1, limits, max_wait=0.2)
    await pace()
    now[0] = 59.9  # the window frees in 0.1 s: the next request waits for it
    waited = asyncio.get_running_loop().time()
    slept = asyncio.create_task(pace())
    await asyncio.sleep(0.02)
    now[0] = 60.0
    await slept
    assert asyncio.get_running_loop().time() - waited >= 0.09
    with pytest.raises(RateLimited, match="limit of requests"):
        await pace()  # 60 s to wait: beyond max_wait, refused at once
    assert await UpstreamPace(0, limits)() is None  # 0: no limit


async def test_the_client_paces_every_request(dashscope: FakeDashScope) -> None:
    pace = UpstreamPace(2, MemoryLimits(), max_wait=0.5)
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0, pace=pace)
    request = ChatRequest("qwen3-omni-flash",
                          [{"role": "user", "content": [text_part("hello")]}])

    async def ask() -> str:
        try:
            async for _ in client.stream(request):
                pass
        except RateLimited:
            return "refused"
        return "answered"

    try:
        outcomes = await asyncio.gather(*(ask() for _ in range(5)))
    finally:
        await client.aclose()
    assert sorted(outcomes) == ["answered"] * 2 + ["refused"] * 3
    assert len(dashscope.requests) == 2  # refused requests never reached the service


async def test_expired_limits_go_after_a_day_or_the_cooldown_if_longer() -> None:
    now = [0.0]
    limits = MemoryLimits(clock=lambda: now[0])
    assert await limits.try_cooldown("cooldown:chat:1", 3) == 0
    assert await limits.try_upstream(5) == 0
    now[0] = 23 * 3600.0
    assert await limits.try_cooldown("cooldown:chat:2", 3) == 0
    expired = await forget_expired(limits, cooldown_seconds=3)
    assert (expired.cooldowns, expired.upstream) == (0, 1)  # a day's margin over any cooldown
    now[0] = 25 * 3600.0
    assert (await forget_expired(limits, cooldown_seconds=2 * 86_400)).cooldowns == 0
    assert (await forget_expired(limits, cooldown_seconds=3)).cooldowns == 1
    assert await limits.try_cooldown("cooldown:chat:2", 3 * 3600) > 0  # 2 h ago: kept
    assert await limits.try_cooldown("cooldown:chat:1", 3 * 3600) == 0  # forgotten
