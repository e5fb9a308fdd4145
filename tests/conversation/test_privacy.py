"""The core of members' data: erasures over a real store and media cache, retention cut-offs,
and the data statement's account of where messages go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from omnicord.conversation.privacy import (
    DataFacts,
    PostedCaptions,
    Privacy,
    RecentDeletions,
    data_statement,
    dm_scope,
    model_service,
    retention_cutoffs,
)
from omnicord.media.cache import MediaCache
from omnicord.store import MediaRef, SqliteStore, Turn
from omnicord.store.records import Kept, MemberPreferences, UsageRow

MODEL = "qwen3-omni-flash"


def turn(text: str, speaker: str = "7", digest: str = "", **fields: object) -> Turn:
    media = (MediaRef(kind="image", name="x.png", content_hash=digest),) if digest else ()
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text="ok",
                model=MODEL, media=media, **fields)  # type: ignore[arg-type]


def cache_entry(folder: Path, digest: str, target: str = "0" * 16) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{digest}-{target}.json"
    path.write_text("{}")
    return path


@pytest.mark.parametrize(("base_url", "expected"), [
    ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
     "Alibaba Cloud Model Studio, region Singapore (international)"),
    ("https://dashscope.aliyuncs.com/compatible-mode/v1",
     "Alibaba Cloud Model Studio, region China (Beijing)"),
    ("https://dashscope-us.aliyuncs.com/compatible-mode/v1",
     "Alibaba Cloud Model Studio, region US (Virginia)"),
    ("https://ws-1.cn-hongkong.maas.aliyuncs.com/compatible-mode/v1",
     "Alibaba Cloud Model Studio, region China (Hong Kong)"),
    ("https://dashscope-next.aliyuncs.com/v1",
     "Alibaba Cloud Model Studio (dashscope-next.aliyuncs.com)"),
    ("https://llm.example.us-east-1.example.com/v1",
     "the model service at llm.example.us-east-1.example.com (set by the bot's operator)"),
])
def test_the_model_service_and_its_region_come_from_the_base_url(base_url: str,
                                                                 expected: str) -> None:
    assert model_service(base_url) == expected


def test_the_data_statement_says_how_long_where_and_how_to_delete() -> None:
    kept = data_statement(DataFacts("https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
                                    retention_days=0, backend="sqlite", cache_days=7))
    assert "until deleted" in kept and "a SQLite file" in kept and "7 days" in kept
    assert "Singapore" in kept and "/omni forget me" in kept and "/omni export" in kept
    assert "with Omnicord's reply to it" in kept and "messages in Discord stay" in kept
    pruned = data_statement(DataFacts("https://dashscope.aliyuncs.com/compatible-mode/v1",
                                      retention_days=90, backend="postgresql", cache_days=1.5))
    assert "for 90 days" in pruned and "PostgreSQL" in pruned and "Beijing" in pruned


def test_retention_keeps_this_months_usage() -> None:
    now = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
    assert retention_cutoffs(7, now) == ("2025-03-13T12:00:00.000Z", "2025-03-01")
    assert retention_cutoffs(60, now) == ("2025-01-19T12:00:00.000Z", "2025-01-19")


def test_deletions_are_remembered_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("omnicord.conversation.privacy.time.monotonic", lambda: clock[0])
    deletions = RecentDeletions(keep_seconds=60)
    deletions.note(["m1"], "c1")
    assert (deletions.channel_of("m1"), deletions.channel_of("m2")) == ("c1", "")
    clock[0] = 200.0
    deletions.note(["m3"], "c3")  # older entries are let go
    assert (deletions.channel_of("m1"), deletions.channel_of("m3")) == ("", "c3")


async def test_erasures_drop_cached_media_once_no_turn_uses_it(tmp_path: Path) -> None:
    one, two = "1" * 64, "2" * 64
    cache = MediaCache(tmp_path / "cache")
    first, shared = cache_entry(cache.folder, one), cache_entry(cache.folder, two)
    other_target = cache_entry(cache.folder, one, "f" * 16)
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        privacy = Privacy(store, cache)
        await store.add_turn("channel:1", turn("a", digest=one, source_message_id="m1"))
        await store.add_turn("channel:1", turn("b", digest=two, source_message_id="m2"))
        await store.add_turn(dm_scope(8), turn("c", speaker="8", digest=two,
                                                source_message_id="m3"))
        removed = await privacy.messages_deleted(["m1", "m2"])
        assert (removed.turns, removed.released_media) == (2, (one,))
        assert not first.exists() and not other_target.exists() and shared.exists()
        await store.preferences.save_member("g", "8", MemberPreferences(voice="Ethan"))
        await store.add_usage(UsageRow(user_id="8", model=MODEL, prompt_tokens=1,
                                       completion_tokens=1))
        removed = await privacy.forget_member("8")
        assert (removed.turns, removed.preferences, removed.usage) == (1, 1, 1)
        assert not shared.exists()
        assert await store.recall(dm_scope(8)) == ([], None)


async def test_a_reply_finishing_after_its_erasure_is_not_kept(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        privacy = Privacy(store)
        await privacy.messages_deleted(["m1"])  # the deletion came while the reply streamed
        await privacy.message_edited("m2")  # and this one was edited
        await privacy.forget_member("8")  # and this member asked to be forgotten
        assert await store.add_turn("channel:1", turn("late", source_message_id="m1")
                                    ) is Kept.DELETED
        assert await store.add_turn("channel:1", turn("was", source_message_id="m2")
                                    ) is Kept.EDITED
        assert await store.add_turn("channel:1", turn("hers", speaker="8",
                                                      created_at="2020-01-01T00:00:00.000Z")
                                    ) is Kept.FORGOTTEN
        assert await store.add_turn("channel:1", turn("kept", source_message_id="m3")
                                    ) is Kept.STORED
        assert [t.text for t in await store.history("channel:1")] == ["kept"]


async def test_an_edited_message_takes_its_stored_turn(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        privacy = Privacy(store)
        await store.add_turn("channel:1", turn("my password is hunter2", source_message_id="m1",
                                               reply_message_ids=("r1",)))
        await store.add_turn("channel:1", turn("other", source_message_id="m2"))
        removed = await privacy.message_edited("m1")
        assert removed.turns == 1
        assert [t.text for t in await store.history("channel:1")] == ["other"]


async def test_replies_and_captions_to_deleted_messages_are_deleted_where_they_were(
        tmp_path: Path) -> None:
    deleted: list[tuple[str, list[str]]] = []

    async def delete(channel_id: str, message_ids: Sequence[str]) -> None:
        deleted.append((channel_id, list(message_ids)))

    async with SqliteStore(tmp_path / "db.sqlite") as store:
        privacy = Privacy(store)
        privacy.delete_messages = delete
        await store.add_turn("channel:1", turn("q", source_message_id="m1",
                                               reply_message_ids=("r1", "r2")))
        await privacy.captions_posted("v1", "c1", ["cap1", "cap2"])
        await privacy.messages_deleted(["m1", "v1", "r2"], channel_id="c1")
        assert deleted == [("c1", ["r1", "cap1", "cap2"])]
        await privacy.messages_deleted(["v1"], channel_id="c1")  # captions go once
        await privacy.captions_posted("v1", "c1", ["late"])  # posted after its deletion
        assert deleted[1:] == [("c1", ["late"])]
        # A reply finished after its question was deleted goes with it; forget-me keeps them.
        await privacy.messages_deleted(["m2"], channel_id="c2")
        await privacy.forget_member("8")
        late = await store.add_turn("channel:2", turn("q2", source_message_id="m2",
                                                      reply_message_ids=("r3",)))
        hers = await store.add_turn("channel:2", turn("q3", speaker="8", source_message_id="m3",
                                                      reply_message_ids=("r4",),
                                                      created_at="2020-01-01T00:00:00.000Z"))
        await privacy.reply_kept(late, channel_id="c2", reply_ids=["r3"])
        await privacy.reply_kept(hers, channel_id="c2", reply_ids=["r4"])
        assert deleted[2:] == [("c2", ["r3"])]
        assert await store.history("channel:2") == []


def test_posted_captions_keep_the_newest_only() -> None:
    captions = PostedCaptions(limit=2)
    for n in range(3):
        captions.note(f"v{n}", [f"c{n}"])
    captions.note("v2", ["c2b"])
    assert captions.take(["v0", "v1", "v2"]) == ["c1", "c2", "c2b"]
    assert captions.take(["v1"]) == []


async def test_pruning_needs_a_retention_period(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        await store.add_turn("channel:1", turn("old", created_at="2020-01-01T00:00:00.000Z"))
        assert await Privacy(store).prune_expired() is None
        assert len(await store.history("channel:1")) == 1
        removed = await Privacy(store, retention_days=30).prune_expired()
        assert removed is not None and removed.turns == 1
        assert await store.history("channel:1") == []


async def test_tombstones_last_a_day(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "db.sqlite") as store:
        privacy = Privacy(store)
        await privacy.forget_member("8")
        assert await privacy.prune_tombstones() == 0  # still needed
        tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
        assert await privacy.prune_tombstones(now=tomorrow) == 1
        assert await store.add_turn("channel:1", turn(
            "a new message", speaker="8", created_at="2020-01-01T00:00:00.000Z")) is Kept.STORED
