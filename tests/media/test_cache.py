"""The prepared-media cache: hits, expiry, size cap, and leaving other files alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from omnicord.media.cache import MediaCache, entry_name
from omnicord.media.types import MediaTarget, PreparedMedia, PreparedPart
from omnicord.model.catalog import find_model
from omnicord.model.parts import image_part

TARGET = MediaTarget(find_model("qwen3-omni-flash"))


def media(tag: str, size: int = 1000) -> PreparedMedia:
    part = PreparedPart(part=image_part(b"x" * size, "image/png"), kind="image", format="png",
                        tokens=6, width=20, height=20)
    return PreparedMedia(name=f"{tag}.png", kind="image", parts=(part,),
                         notices=("converted",), content_hash=(tag * 64)[:64])


async def test_round_trip_and_target_separation(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    item = media("a")
    await cache.put(item, TARGET)
    assert await cache.get(item.content_hash, TARGET) == item
    turbo = MediaTarget(find_model("qwen-omni-turbo"))
    assert await cache.get(item.content_hash, turbo) is None


async def test_expired_entries_are_dropped(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, max_age_seconds=60)
    item = media("b")
    await cache.put(item, TARGET)
    (entry,) = tmp_path.glob("*.json")
    old = time.time() - 120
    os.utime(entry, (old, old))
    assert await cache.get(item.content_hash, TARGET) is None
    assert not entry.exists()


async def test_size_cap_evicts_least_recently_used_only_our_files(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")  # not ours: never touched
    cache = MediaCache(tmp_path, max_bytes=5000)
    first, second = media("c", 1500), media("d", 1500)
    await cache.put(first, TARGET)
    await cache.put(second, TARGET)
    entry = next(p for p in tmp_path.glob("c*.json"))
    old = time.time() - 30
    os.utime(entry, (old, old))
    await cache.put(media("e", 1500), TARGET)
    assert await cache.get(first.content_hash, TARGET) is None
    assert await cache.get(second.content_hash, TARGET) is not None
    assert (tmp_path / "notes.json").exists()


def age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


async def test_a_content_is_idle_only_when_none_of_its_entries_was_used_lately(
        tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    turbo = MediaTarget(find_model("qwen-omni-turbo"))
    for tag in ("a", "b", "c"):
        await cache.put(media(tag), TARGET)
    await cache.put(media("a"), turbo)
    flash_a = tmp_path / entry_name(media("a").content_hash, TARGET)
    age(flash_a, 120)  # the turbo entry of the same content was just written
    for entry in tmp_path.glob("b*.json"):
        age(entry, 120)
    assert await cache.idle_hashes(60) == [media("b").content_hash]


async def test_dropping_idle_entries_spares_one_used_since_they_were_listed(
        tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    item = media("d")
    await cache.put(item, TARGET)
    (entry,) = tmp_path.glob("*.json")
    age(entry, 120)
    assert await cache.idle_hashes(60) == [item.content_hash]
    assert await cache.get(item.content_hash, TARGET) == item  # a reply re-sends it meanwhile
    assert await cache.drop_idle([item.content_hash], 60) == 0
    age(entry, 120)
    assert await cache.drop_idle([item.content_hash, "not a hash"], 60) == 1
    assert not entry.exists()
