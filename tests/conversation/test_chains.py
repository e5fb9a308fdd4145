"""Which reply chain a message belongs to, over a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from omnicord.conversation.chains import Link, chain_scope, find_chain
from omnicord.store.records import Turn
from omnicord.store.sqlite.store import SqliteStore

CHANNEL = "500"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "chains.db") as opened:
        yield opened


class Channel:
    """Messages by id, and how many times the walk had to look one up."""

    def __init__(self) -> None:
        self.messages: dict[str, Link] = {}
        self.lookups = 0

    def post(self, message_id: str, *, bot: bool = False, mention: bool = False,
             reply_to: str | None = None) -> Link:
        link = Link(message_id, by_omnicord=bot, mentions_omnicord=mention, parent_id=reply_to)
        self.messages[message_id] = link
        return link

    async def parent_of(self, link: Link) -> Link | None:
        self.lookups += 1
        return self.messages.get(link.parent_id or "")


async def stored(store: SqliteStore, scope: str, question: str, *replies: str) -> None:
    await store.add_turn(scope, Turn(speaker_id="7", speaker_name="Bo", text="q",
                                     reply_text="a", model="qwen3-omni-flash",
                                     source_message_id=question, reply_message_ids=replies))


async def test_a_mention_starts_a_chain_and_replies_continue_it(store: SqliteStore) -> None:
    channel = Channel()
    first = channel.post("1", mention=True)
    assert await find_chain(store, CHANNEL, first, channel.parent_of) == chain_scope(CHANNEL,
                                                                                      "1")
    await stored(store, chain_scope(CHANNEL, "1"), "1", "2")
    channel.post("2", bot=True, reply_to="1")
    reply_to_answer = channel.post("3", reply_to="2")  # no mention: a reply to Omnicord
    assert await find_chain(store, CHANNEL, reply_to_answer, channel.parent_of) == "chain:500:1"
    assert channel.lookups == 1  # the stored answer it replies to named its chain at once
    await stored(store, "chain:500:1", "3", "4")
    # Replying to a member's message of the chain (with a mention) continues it too.
    to_question = channel.post("5", mention=True, reply_to="3")
    assert await find_chain(store, CHANNEL, to_question, channel.parent_of) == "chain:500:1"


async def test_two_mentions_are_two_chains(store: SqliteStore) -> None:
    channel = Channel()
    one = await find_chain(store, CHANNEL, channel.post("10", mention=True), channel.parent_of)
    two = await find_chain(store, CHANNEL, channel.post("11", mention=True), channel.parent_of)
    assert one != two and {one, two} == {"chain:500:10", "chain:500:11"}


async def test_a_reply_under_way_is_followed_to_the_chains_first_message(
        store: SqliteStore) -> None:
    channel = Channel()
    channel.post("20", mention=True)  # its answer is still being written: nothing stored
    channel.post("21", bot=True, reply_to="20")
    follow = channel.post("22", reply_to="21")
    assert await find_chain(store, CHANNEL, follow, channel.parent_of) == "chain:500:20"
    # ...and a chain continued (but not yet stored) further down leads to its stored root.
    await stored(store, "chain:500:30", "30", "31")
    channel.post("31", bot=True, reply_to="30")
    channel.post("32", reply_to="31")
    channel.post("33", bot=True, reply_to="32")
    later = channel.post("34", reply_to="33")
    assert await find_chain(store, CHANNEL, later, channel.parent_of) == "chain:500:30"


async def test_replying_to_a_message_not_for_omnicord_starts_a_chain(store: SqliteStore) -> None:
    channel = Channel()
    channel.post("40")  # a member talking to another member
    asks = channel.post("41", mention=True, reply_to="40")
    assert await find_chain(store, CHANNEL, asks, channel.parent_of) == "chain:500:41"
    # A turn kept in the channel's shared history is in no chain.
    await stored(store, f"channel:{CHANNEL}", "50", "51")
    channel.post("51", bot=True, reply_to="50")
    follow = channel.post("52", reply_to="51")
    assert await find_chain(store, CHANNEL, follow, channel.parent_of) == "chain:500:52"
    # Another channel's chain is not this channel's.
    await stored(store, "chain:999:60", "60", "61")
    channel.post("61", bot=True, reply_to="60")
    assert await find_chain(store, CHANNEL, channel.post("62", reply_to="61"),
                            channel.parent_of) == "chain:500:62"


async def test_the_walk_is_bounded(store: SqliteStore) -> None:
    channel = Channel()
    channel.post("0", mention=True)
    for number in range(1, 200):
        channel.post(str(number), bot=number % 2 == 1, reply_to=str(number - 1))
    newest = channel.post("200", reply_to="199")
    found = await find_chain(store, CHANNEL, newest, channel.parent_of, max_hops=10)
    assert channel.lookups == 10
    assert found == "chain:500:200"  # the root was out of reach: a new chain, not a hang
    channel.lookups = 0
    assert await find_chain(store, CHANNEL, newest, channel.parent_of,
                            max_hops=250) == "chain:500:0"
    assert channel.lookups == 200
