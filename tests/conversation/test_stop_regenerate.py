"""Stopping a reply under way and redoing an answer (``respond(stop=..., replaces=...)``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from omnicord.conversation.compose import NewMessage
from omnicord.conversation.reply import Reply
from omnicord.conversation.respond import NOT_NEWEST, Conversations, Payer, ReplyOptions
from omnicord.errors import InputError
from omnicord.model.catalog import find_model
from omnicord.model.events import ReplyEvent, TextDelta
from omnicord.model.omni import OmniClient
from omnicord.store import SqliteStore
from omnicord.store.records import Kept

from tests.doubles.fake_dashscope import FakeDashScope, Fault

FLASH = find_model("qwen3-omni-flash")
OPTIONS = ReplyOptions(model=FLASH, model_name=FLASH.name)


@pytest.fixture
async def store(tmp_path: Path):
    async with SqliteStore(tmp_path / "conv.db") as opened:
        yield opened


@pytest.fixture
async def conversations(store: SqliteStore, dashscope: FakeDashScope):
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    yield Conversations(store, client)
    await client.aclose()


def ask(text: str, source: str) -> NewMessage:
    return NewMessage("Ada", text, (), source_id=source)


async def stopped_mid_stream(conversations: Conversations, dashscope: FakeDashScope,
                             scope: str, source: str) -> tuple[list[str], Reply, Kept]:
    """Ask while the model trickles for ever; stop after two text events."""
    dashscope.add_fault(Fault(trickle_every=0.02, times=1))
    stop = asyncio.Event()
    seen: list[str] = []
    delivered: list[Reply] = []

    async def on_event(event: ReplyEvent) -> None:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 2:
                stop.set()

    async def deliver(reply: Reply) -> list[str]:
        delivered.append(reply)
        return [f"r-{source}"]

    async with asyncio.timeout(10):  # a stream that was not closed would trickle for ever
        answer = await conversations.respond(
            scope, speaker_id="7", new=ask("tell me everything", source), options=OPTIONS,
            on_event=on_event, deliver=deliver, stop=stop, payer=Payer("7"))
    assert delivered == [answer.reply]
    return seen, answer.reply, answer.kept


async def test_a_stopped_reply_ends_the_stream_and_stores_what_came(
    conversations: Conversations, dashscope: FakeDashScope, store: SqliteStore
) -> None:
    seen, reply, kept = await stopped_mid_stream(conversations, dashscope, "chan:1", "m1")
    await asyncio.sleep(0.1)  # more chunks would have come by now, had the stream stayed open
    assert reply.stopped and kept is Kept.STORED
    assert reply.text == "".join(seen) and len(seen) == 2
    [turn] = await store.history("chan:1")
    assert turn.reply_text == reply.text.strip()
    assert turn.reply_message_ids == ("r-m1",)


async def test_a_reply_not_stopped_is_whole(
    conversations: Conversations, dashscope: FakeDashScope
) -> None:
    answer = await conversations.respond("chan:1", speaker_id="7", new=ask("hi", "m1"),
                                         options=OPTIONS, stop=asyncio.Event())
    assert not answer.reply.stopped and answer.reply.text == "Echo: hi"


async def test_two_members_stop_their_replies_at_once(
    conversations: Conversations, dashscope: FakeDashScope, store: SqliteStore
) -> None:
    results = await asyncio.gather(
        stopped_mid_stream(conversations, dashscope, "chan:1", "m1"),
        stopped_mid_stream(conversations, dashscope, "chan:2", "m2"))
    for scope, (_seen, reply, kept) in zip(("chan:1", "chan:2"), results, strict=True):
        assert reply.stopped and kept is Kept.STORED
        assert [t.reply_text for t in await store.history(scope)] == [reply.text.strip()]


async def test_a_regenerated_answer_replaces_the_old_in_history(
    conversations: Conversations, dashscope: FakeDashScope, store: SqliteStore
) -> None:
    await conversations.respond("chan:1", speaker_id="7", new=ask("first", "m1"),
                                options=OPTIONS)
    dashscope.reply_text = "old answer"
    await conversations.respond("chan:1", speaker_id="7", new=ask("second", "m2"),
                                options=OPTIONS)
    dashscope.reply_text = "new answer"
    answer = await conversations.respond("chan:1", speaker_id="7", new=ask("second", "m2"),
                                         options=OPTIONS, replaces="m2")
    assert answer.kept is Kept.STORED
    sent = [m for m in dashscope.accepted[-1]["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in sent] == ["Echo: first"]  # the old answer is not shown again
    assert [t.reply_text for t in await store.history("chan:1")] == ["Echo: first", "new answer"]
    dashscope.reply_text = None
    await conversations.respond("chan:1", speaker_id="7", new=ask("third", "m3"),
                                options=OPTIONS)
    sent = [m for m in dashscope.accepted[-1]["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in sent] == ["Echo: first", "new answer"]


async def test_only_the_newest_answer_can_be_regenerated(
    conversations: Conversations, dashscope: FakeDashScope, store: SqliteStore
) -> None:
    for text, source in (("first", "m1"), ("second", "m2")):
        await conversations.respond("chan:1", speaker_id="7", new=ask(text, source),
                                    options=OPTIONS)
    requests = len(dashscope.accepted)
    with pytest.raises(InputError, match=str(NOT_NEWEST)):
        await conversations.respond("chan:1", speaker_id="7", new=ask("first", "m1"),
                                    options=OPTIONS, replaces="m1")
    assert len(dashscope.accepted) == requests  # refused before asking the model
    assert [t.text for t in await store.history("chan:1")] == ["first", "second"]
