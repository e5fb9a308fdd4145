"""The media-cache sweep runs with the plugin's runtime: at start-up, then every ten minutes,
and stops with it."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from omnicord.conversation.cache_sweep import SWEEP_INTERVAL_SECONDS

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.omnicord_bot import running_world


def cached(folder: Path) -> set[str]:
    return {path.name.partition("-")[0] for path in folder.glob("*.json")}


async def test_the_sweep_starts_and_stops_with_the_runtime(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    orphan, fresh = "a" * 64, "b" * 64
    folder = tmp_path / "cache"
    folder.mkdir()
    for digest, idle in ((orphan, 3600), (fresh, 0)):
        path = folder / f"{digest}-{'0' * 16}.json"
        path.write_text("{}")
        os.utime(path, (time.time() - idle,) * 2)
    async with running_world(dashscope, tmp_path) as world:
        sweep = world.bot._omnicord_runtime.cache_sweep  # type: ignore[attr-defined]
        assert sweep.is_running() and sweep.seconds == SWEEP_INTERVAL_SECONDS == 600
        for _ in range(200):  # the first sweep runs beside start-up: wait for it
            if cached(folder) == {fresh}:
                break
            await asyncio.sleep(0.02)
        assert cached(folder) == {fresh}
        task = sweep.get_task()
    assert not sweep.is_running()
    assert task is not None and task.done()
