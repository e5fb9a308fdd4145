"""OMNICORD_MESSAGE_CONTENT=false: no Message Content intent; mentions, replies to the bot,
DMs and commands keep working, chat channels, Omnicord's threads and auto-captions are off,
and every place that could promise them says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from omnicord.cogs.runner import intents

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.omnicord_bot import World, ogg_voice_note, running_world

NOTE = "OMNICORD_MESSAGE_CONTENT=true"


@pytest_asyncio.fixture
async def world(dashscope: FakeDashScope, tmp_path: Path) -> AsyncIterator[World]:
    """Omnicord without the Message Content intent."""
    async with running_world(dashscope, tmp_path, OMNICORD_MESSAGE_CONTENT=False) as running:
        yield running


async def slash(world: World, command: str, options: dict | None = None) -> str:
    interaction = world.h.slash(world.channel, world.admin, command, options or {})
    await world.h.settle(timeout=20)
    return world.fake.interaction_responses(interaction["token"])[-1].content


def test_the_intent_follows_the_setting() -> None:
    assert intents().message_content
    without = intents(message_content=False)
    assert not without.message_content
    assert without.value == intents().value & ~(1 << 15)  # only that bit differs


async def test_a_mention_a_reply_and_a_dm_are_still_answered(world: World) -> None:
    assert not world.bot.intents.message_content
    await world.ask("hello without content")
    assert world.texts()[-1] == f"Echo: {world.member.display_name}: hello without content"
    sent = world.fake.message(int(world.replies()[-1].response["id"]))
    answer = world.bot._connection.create_message(channel=world.channel, data=sent)
    world.h.message_create(world.channel, world.member, "and this?", reference=answer)
    await world.h.settle(timeout=20)
    assert world.texts()[-1] == f"Echo: {world.member.display_name}: and this?"
    dm = world.h.dm_channel(world.member)
    world.h.message_create(dm, world.member, "privately")
    await world.h.settle(timeout=20)
    assert world.texts(dm.id) == ["Echo: privately"]


async def test_chat_channels_are_off_and_setting_one_says_why(world: World) -> None:
    said = await slash(world, "omni-admin chat-channel", {"enabled": True})
    assert "Chat **on**" in said and NOTE in said
    world.h.message_create(world.channel, world.member, "a plain message")
    await world.h.settle(timeout=20)
    assert world.model.requests == [] and world.replies() == []


async def test_auto_captions_are_off_and_setting_them_says_why(
    world: World, tmp_path: Path
) -> None:
    said = await slash(world, "omni-admin caption-channel", {"enabled": True})
    assert "Auto-captions **on**" in said and NOTE in said
    world.h.voice_message(world.channel, world.member, ogg_voice_note(tmp_path, 2),
                          duration=2.0)
    await world.h.settle(timeout=20)
    assert world.model.requests == [] and world.replies() == []


async def test_omni_thread_is_refused_with_the_reason(world: World) -> None:
    said = await slash(world, "omni thread")
    assert NOTE in said
    assert world.fake.find("POST", r"/channels/\d+/threads") == []


async def test_status_tells_what_is_off(world: World) -> None:
    status = await slash(world, "omni status")
    assert "Message Content intent:** off" in status
    assert "OMNICORD_MESSAGE_CONTENT=true" in status


async def test_with_the_intent_status_and_settings_say_nothing_of_it(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path) as world:
        assert world.bot.intents.message_content
        assert NOTE not in await slash(world, "omni-admin chat-channel", {"enabled": True})
        assert "Message Content" not in await slash(world, "omni status")
        world.h.message_create(world.channel, world.member, "a plain message")
        await world.h.settle(timeout=20)
        assert world.texts()[-1] == f"Echo: {world.member.display_name}: a plain message"
