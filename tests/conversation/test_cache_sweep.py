"""Cached media no stored turn refers to leaves every process's cache, not just the one that
saw the deletion: processes sharing one database (SQLite file or PostgreSQL), each with a
cache folder of its own, as on different hosts."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from omnicord.conversation.cache_sweep import CacheSweep
from omnicord.media.cache import MediaCache
from omnicord.services import Services, open_services
from omnicord.settings import Settings
from omnicord.store import MediaRef, Turn

from tests.store.conftest import fresh_database

ERASED, KEPT, FRESH = "e" * 64, "f" * 64, "a" * 64


def turn(text: str, digest: str, message_id: str) -> Turn:
    return Turn(speaker_id="7", speaker_name="Ada", text=text, reply_text="ok",
                model="qwen3-omni-flash", source_message_id=message_id,
                media=(MediaRef(kind="image", name="x.png", content_hash=digest),))


def cache_entry(folder: Path, digest: str, *, idle_seconds: float = 0) -> None:
    """A cache entry of ``digest``, last used ``idle_seconds`` ago."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{digest}-{'0' * 16}.json"
    path.write_text("{}")
    when = time.time() - idle_seconds
    os.utime(path, (when, when))


def cached(folder: Path) -> set[str]:
    return {path.name.partition("-")[0] for path in folder.glob("*.json")}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One database for every process of a test: a SQLite file or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield str(tmp_path / "shared.db")
        return
    url, drop = fresh_database()  # skips without PostgreSQL (fails under CI=true)
    try:
        yield url
    finally:
        drop()


def settings(database: str, cache: Path, **overrides: object) -> Settings:
    return Settings(DASHSCOPE_API_KEY="sk-test", DASHSCOPE_BASE_URL="http://127.0.0.1:9/v1",
                    OMNICORD_DB=database, OMNICORD_CACHE_DIR=cache,
                    **overrides)  # type: ignore[arg-type]


async def test_a_deletion_seen_by_one_process_leaves_every_processes_cache(
        database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omnicord.media_cache")
    first, second = tmp_path / "host-a", tmp_path / "host-b"
    async with open_services(settings(database, first)) as a, \
            open_services(settings(database, second)) as b:
        await a.store.add_turn("channel:1", turn("erased", ERASED, "m1"))
        await b.store.add_turn("channel:1", turn("kept", KEPT, "m2"))
        for folder in (first, second):
            for digest in (ERASED, KEPT):
                cache_entry(folder, digest, idle_seconds=2 * 3600)
        cache_entry(second, FRESH)  # no turn yet: a reply that is about to be stored
        assert await b.sweep_cache() == 0  # everything idle is still referenced
        await a.privacy.messages_deleted(["m1"])
        assert cached(first) == {KEPT}  # the process that saw it dropped its copy at once
        assert cached(second) == {ERASED, KEPT, FRESH}
        assert await b.sweep_cache() == 1
        assert cached(second) == {KEPT, FRESH}
        assert await a.sweep_cache() == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "omnicord.media_cache"]
    assert lines == ["media cache: swept 1 files of 1 contents no stored turn refers to"]


async def sweep_after_idle(tmp_path: Path, idle_seconds: float, **overrides: object) -> int:
    """Sweep a cache holding one unreferenced entry idle for ``idle_seconds``."""
    folder = tmp_path / f"cache-{idle_seconds}"
    cache_entry(folder, ERASED, idle_seconds=idle_seconds)
    services: Services
    async with open_services(settings(str(tmp_path / "omnicord.db"), folder,
                                      **overrides)) as services:
        return await services.sweep_cache()


async def test_media_used_lately_is_never_swept(tmp_path: Path) -> None:
    assert await sweep_after_idle(tmp_path, 10 * 60) == 0  # under the 15-minute margin
    assert await sweep_after_idle(tmp_path, 20 * 60) == 1
    # A longer request timeout lengthens the margin to the longest a reply may take (4 ×).
    assert await sweep_after_idle(tmp_path, 30 * 60, OMNICORD_REQUEST_TIMEOUT=600) == 0
    assert await sweep_after_idle(tmp_path, 41 * 60, OMNICORD_REQUEST_TIMEOUT=600) == 1


class CountingReferences:
    """A store that records each query and refers to a fixed set of hashes."""

    def __init__(self, referenced: set[str]) -> None:
        self.referenced = referenced
        self.asked: list[list[str]] = []

    async def referenced_media(self, content_hashes: Sequence[str]) -> set[str]:
        self.asked.append(list(content_hashes))
        return self.referenced & set(content_hashes)


async def test_each_sweep_checks_a_bounded_batch_and_the_next_carries_on(
        tmp_path: Path) -> None:
    digests = [str(n) * 64 for n in range(7)]
    for digest in digests:
        cache_entry(tmp_path, digest, idle_seconds=3600)
    # The first two in order stay referenced: a sweep starting over from the top each time
    # would never get past them.
    refs = CountingReferences(set(digests[:2]))
    sweep = CacheSweep(refs, MediaCache(tmp_path), idle_seconds=60, batch=2, max_hashes=3)
    assert await sweep.run() == 1
    assert refs.asked == [digests[:2], digests[2:3]]  # one query per batch of at most 2
    assert await sweep.run() == 3
    assert await sweep.run() == 1  # the last one, then round to the start again
    assert cached(tmp_path) == set(digests[:2])
    assert all(len(asked) <= 2 for asked in refs.asked)
    assert sum(map(len, refs.asked)) == 9  # 3 per sweep, no more
