"""Conversations: the one-modality rule, budgets, groups, ordering, cancellation, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from omnicord.conversation.budget import Budget, BudgetExceeded
from omnicord.conversation.compose import (
    GROUP_NOTE,
    Instructions,
    NewMessage,
    PastTurn,
    compose_request,
)
from omnicord.conversation.respond import Conversations, ReplyOptions
from omnicord.media.cache import MediaCache
from omnicord.media.prepare import prepare_media
from omnicord.media.types import MediaTarget, PreparedMedia
from omnicord.model.catalog import find_model
from omnicord.model.events import TextDelta
from omnicord.model.omni import OmniClient
from omnicord.model.parts import message_modalities
from omnicord.store import SqliteStore, Turn
from omnicord.store.sqlite.migrate import load_migrations

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.media import image, test_pattern_video, tone, voice_note

FLASH = find_model("qwen3-omni-flash")
TURBO = find_model("qwen-omni-turbo")


@pytest.fixture
async def store(tmp_path: Path):
    async with SqliteStore(tmp_path / "conv.db") as opened:
        yield opened


@pytest.fixture
async def conversations(store: SqliteStore, dashscope: FakeDashScope, tmp_path: Path):
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    yield Conversations(store, client, MediaCache(tmp_path / "cache"))
    await client.aclose()


def options(model=FLASH, **kwargs) -> ReplyOptions:
    return ReplyOptions(model=model, model_name=model.name, **kwargs)


async def prepared(path: Path, model=FLASH) -> PreparedMedia:
    return await prepare_media(path, name=path.name, target=MediaTarget(model))


async def test_mixed_attachments_are_split_and_accepted(
    conversations: Conversations, dashscope: FakeDashScope, tmp_path: Path
) -> None:
    media = (
        await prepared(image(tmp_path / "a.png", 64, 64)),
        await prepared(voice_note(tmp_path / "v.ogg", 2)),
        await prepared(image(tmp_path / "b.jpg", 80, 40)),
        await prepared(test_pattern_video(tmp_path / "c.mp4", 2)),
        await prepared(tone(tmp_path / "d.mp3", 1)),
    )
    answer = await conversations.respond(
        "chan:1", speaker_id="7", new=NewMessage("Ada", "compare these", media),
        options=options(), target=MediaTarget(FLASH),
    )
    users = [m for m in dashscope.accepted[0]["messages"] if m["role"] == "user"]
    assert [sorted(message_modalities(m)) for m in users] == [
        ["image"], ["audio"], ["audio"], ["video"]
    ]
    assert sum(p["type"] == "image_url" for p in users[0]["content"]) == 2
    assert users[0]["content"][-1] == {"type": "text", "text": "compare these"}
    assert answer.reply.text
    assert [ref.kind for ref in answer.turn.media] == ["image", "audio", "image", "video", "audio"]


async def long_history(store: SqliteStore, scope: str, turns: int, media: PreparedMedia) -> None:
    for index in range(turns):
        await store.add_turn(scope, Turn(
            speaker_id=str(index % 3), speaker_name=f"member{index % 3}",
            text=f"question {index}: " + "tell me more " * 150,
            reply_text=f"answer {index}: " + "here is a detailed reply " * 120,
            model=FLASH.name, media=(media.ref(),),
        ))


@pytest.mark.parametrize(("model", "thinking"), [(FLASH, False), (FLASH, True), (TURBO, False)])
async def test_thirty_turns_fit_each_models_limit_with_the_newest_intact(
    conversations: Conversations, store: SqliteStore, dashscope: FakeDashScope,
    tmp_path: Path, model, thinking: bool,
) -> None:
    target = MediaTarget(model)
    picture = await prepared(image(tmp_path / "big.png", 3000, 2000), model)
    await conversations.cache.put(picture, target)
    await long_history(store, "chan:long", 30, picture)
    newest = NewMessage("Ada", "and what about the latest picture?", (picture,))
    answer = await conversations.respond(
        "chan:long", speaker_id="1", new=newest, target=target,
        options=options(model, thinking=thinking),
    )
    composition = answer.composition
    limit = model.input_limit(thinking=thinking)
    assert composition.tokens <= limit
    assert 0 < composition.turns_sent < 30 and composition.turns_dropped > 0
    sent = dashscope.accepted[-1]["messages"]
    last = sent[-1]["content"]
    assert last[-1]["text"] == "and what about the latest picture?"
    assert last[0]["type"] == "image_url"
    assert f"question {30 - composition.turns_sent}:" in str(sent[1]["content"])
    assert composition.media_resent <= 2


async def test_thinking_mode_uses_the_smaller_limit() -> None:
    history = [PastTurn(Turn("1", "A", "q " * 3000, "a " * 3000, FLASH.name)) for _ in range(30)]
    new = NewMessage("A", "next")
    normal = compose_request(FLASH, history=history, new=new, budget=Budget.for_model(FLASH))
    thinking = compose_request(FLASH, history=history, new=new,
                               budget=Budget.for_model(FLASH, thinking=True))
    assert thinking.turns_sent < normal.turns_sent
    assert thinking.tokens <= 16_384 < normal.tokens <= 49_152


async def test_newest_message_too_big_is_explained() -> None:
    with pytest.raises(BudgetExceeded, match=r"over the .* this model can read"):
        compose_request(TURBO, history=[], new=NewMessage("A", "word " * 100_000),
                        budget=Budget.for_model(TURBO))


async def test_turbo_speech_moves_instructions_and_server_agrees(
    conversations: Conversations, dashscope: FakeDashScope
) -> None:
    await conversations.respond("dm:1", speaker_id="1", new=NewMessage("Ada", "hello"),
                                options=options(TURBO, voice="Chelsie"))
    await conversations.respond("dm:1", speaker_id="1", new=NewMessage("Ada", "again"),
                                options=options(TURBO, voice="Chelsie"))
    messages = dashscope.accepted[-1]["messages"]
    assert all(m["role"] != "system" for m in messages)
    assert messages[0]["content"][0]["text"].startswith("(Instructions: You are Omnicord")
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


async def test_group_turns_are_attributed(
    conversations: Conversations, dashscope: FakeDashScope
) -> None:
    group = options(instructions=Instructions(group=True))
    await conversations.respond("chan:g", speaker_id="1", new=NewMessage("Ada", "I like tea"),
                                options=group)
    await conversations.respond("chan:g", speaker_id="2",
                                new=NewMessage("Bo", "what does Ada like?"), options=group)
    messages = dashscope.accepted[-1]["messages"]
    assert GROUP_NOTE in messages[0]["content"]
    assert messages[1]["content"][0]["text"] == "Ada: I like tea"
    assert messages[3]["content"][0]["text"] == "Bo: what does Ada like?"


async def test_two_messages_in_one_scope_are_answered_in_order(
    conversations: Conversations, store: SqliteStore, dashscope: FakeDashScope
) -> None:
    dashscope.token_delay = 0.02
    first = asyncio.create_task(conversations.respond(
        "chan:o", speaker_id="1", new=NewMessage("Ada", "first one please"), options=options()))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(conversations.respond(
        "chan:o", speaker_id="2", new=NewMessage("Bo", "second one please"), options=options()))
    other = asyncio.create_task(conversations.respond(
        "chan:other", speaker_id="3", new=NewMessage("Cy", "elsewhere"), options=options()))
    await asyncio.gather(first, second, other)
    history = await store.history("chan:o")
    assert [t.text for t in history] == ["first one please", "second one please"]
    second_request = next(r for r in dashscope.accepted if "second one please" in str(r))
    assert "first one please" in str(second_request["messages"])


@pytest.mark.parametrize("streams", [2, 4])
async def test_a_process_streams_at_most_its_share_of_replies_at_once(
    store: SqliteStore, dashscope: FakeDashScope, streams: int
) -> None:
    dashscope.reply_delay, dashscope.token_delay = 0.1, 0.05  # replies overlap if let
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    conversations = Conversations(store, client, streams=streams)
    in_flight, peak = set[str](), 0

    async def answer(scope: str) -> None:
        async def seen(event: object) -> None:
            nonlocal peak
            in_flight.add(scope)
            peak = max(peak, len(in_flight))

        async def delivered(reply: object) -> None:
            in_flight.discard(scope)

        await conversations.respond(scope, speaker_id="7", new=NewMessage("Ada", "hi"),
                                    options=options(), on_event=seen, deliver=delivered)

    await asyncio.gather(*(answer(f"chan:{n}") for n in range(4)))
    await client.aclose()
    assert peak == streams  # 4 members at once: the rest waited their turn
    assert [len(await store.history(f"chan:{n}")) for n in range(4)] == [1, 1, 1, 1]


async def test_cancelled_reply_leaves_no_turn(
    conversations: Conversations, store: SqliteStore, dashscope: FakeDashScope
) -> None:
    dashscope.token_delay = 0.05
    seen = asyncio.Event()

    async def on_event(event) -> None:
        if isinstance(event, TextDelta):
            seen.set()

    task = asyncio.create_task(conversations.respond(
        "chan:c", speaker_id="1", new=NewMessage("Ada", "a long question to answer slowly"),
        options=options(), on_event=on_event))
    await seen.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.history("chan:c") == []
    assert not conversations.store.locks.busy("chan:c")


async def test_a_reply_cancelled_once_delivered_is_stored_all_the_same(
    conversations: Conversations, store: SqliteStore, dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.reply_text = "All said."
    note = await prepared(voice_note(tmp_path / "v.ogg", 1))  # its media cache write, too

    async def deliver(reply) -> list[str]:
        asyncio.current_task().cancel()  # a restart cuts it just as it was shown
        return ["42"]

    with pytest.raises(asyncio.CancelledError):
        await conversations.respond(
            "chan:d", speaker_id="1", new=NewMessage("Ada", "hi", (note,)), options=options(),
            target=MediaTarget(FLASH), deliver=deliver)
    [turn] = await store.history("chan:d")
    assert turn.reply_text == "All said." and turn.reply_message_ids == ("42",)
    assert not conversations.store.locks.busy("chan:d")


async def test_media_of_recent_turns_is_resent_from_the_cache(
    conversations: Conversations, dashscope: FakeDashScope, tmp_path: Path
) -> None:
    target = MediaTarget(FLASH)
    picture = await prepared(image(tmp_path / "cat.png", 200, 100))
    await conversations.respond("chan:m", speaker_id="1", target=target, options=options(),
                                new=NewMessage("Ada", "what is this?", (picture,)))
    await conversations.respond("chan:m", speaker_id="1", target=target, options=options(),
                                new=NewMessage("Ada", "what colour was it?"))
    resent = dashscope.accepted[-1]["messages"][1]["content"]
    assert resent[0]["type"] == "image_url"
    assert resent[0] == dashscope.accepted[0]["messages"][1]["content"][0]


async def test_migrations_upgrade_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = load_migrations()[0]
    with sqlite3.connect(path) as db:
        db.executescript(first.sql)
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                   " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        db.execute("INSERT INTO schema_migrations VALUES (1, ?, '2026-01-01')", (first.name,))
        db.execute("INSERT INTO conversations (scope) VALUES ('cli:old')")
        db.execute("INSERT INTO turns (conversation_id, speaker_id, speaker_name, text,"
                   " reply_text, model, created_at, replied_at) VALUES"
                   " (1, 'cli', 'You', 'from before', 'old reply', 'qwen3-omni-flash',"
                   " '2026-01-01', '2026-01-01')")
    async with SqliteStore(path) as upgraded:
        assert await upgraded.schema_version() == load_migrations()[-1].version > 1
        (turn,) = await upgraded.history("cli:old")
        assert (turn.text, turn.reply_text, turn.reply_message_ids) == (
            "from before", "old reply", ())
