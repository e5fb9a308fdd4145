"""Stop and Regenerate under replies, and answers that follow an edited question: through the
simulated gateway, the offline model server and captured (validated) Discord HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord
from omnicord.cogs import chat
from omnicord.cogs.delivery import controls
from omnicord.cogs.runner import OmnicordBot

from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord
from tests.doubles.omnicord_bot import World, make_settings, running_world
from tests.doubles.omnicord_bot import world as world

STOPPED = "-# (stopped)"
# The presser's refusals, in English (the members here use Discord in English).
ALREADY_WRITING = chat.ALREADY_WRITING.render("en")
NO_LONGER_KEPT = chat.NO_LONGER_KEPT.render("en")
NO_LONGER_WRITTEN = chat.NO_LONGER_WRITTEN.render("en")
QUESTION_GONE = chat.QUESTION_GONE.render("en")
NOT_NEWEST = chat.NOT_NEWEST.render("en")
NOT_ALLOWED = controls.NOT_ALLOWED.render("en")


def store_of(world: World):
    return world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]


def buttons(world: World, message_id: int) -> list[tuple[str, str]]:
    """(label, custom id) of the buttons a message shows now."""
    stored = world.fake.message(message_id) or {}
    return [(c["label"], c["custom_id"]) for row in stored.get("components", [])
            for c in row.get("components", [])]


def first_reply(world: World, question: discord.Message, channel_id: int | None = None) -> int:
    """The id of the bot's first message replying to ``question``."""
    for request in world.replies(channel_id):
        reference = request.payload.get("message_reference") or {}
        if str(reference.get("message_id")) == str(question.id):
            return int(request.response["id"])
    raise AssertionError(f"no reply to {question.id}")


def press(world: World, user: discord.abc.User, message_id: int, custom_id: str,
          channel: discord.abc.Messageable | None = None) -> dict:
    """A press of a button the message still shows though it no longer applies (as a
    process that crashed, or an edit that failed, left it)."""
    label = "Stop" if ":stop:" in custom_id else "Regenerate"
    world.fake.messages[message_id]["components"] = [{"type": 1, "components": [
        {"type": 2, "style": 2, "label": label, "custom_id": custom_id}]}]
    return world.h.press_button(channel or world.channel, user, message_id, label)


async def answered(world: World, interaction: dict) -> None:
    """Wait until the bot answered an interaction (while a reply may still stream)."""
    await world.h.wait_for_request("POST", rf"/interactions/{interaction['id']}/[^/]+/callback",
                                   timeout=10)


def private_answer(world: World, interaction: dict) -> str:
    """The ephemeral line the pressing member got."""
    (response,) = world.fake.interaction_responses(interaction["token"])
    data = response.payload["data"]
    assert data["flags"] & 64
    return data["content"]


async def open_chat_channel(world: World, channel: discord.TextChannel | None = None) -> None:
    """Make a channel keep one whole conversation (every message answered in it)."""
    channel = channel or world.channel
    await store_of(world).preferences.set_channel_role(
        str(world.guild.id), str(channel.id), "chat", True)


async def until_streaming(world: World, channel_id: int, count: int = 1) -> None:
    """Wait until the bot's first text (with Stop) is out in a channel."""
    await world.h.wait_for_request("POST", rf"/channels/{channel_id}/messages$", count=count,
                                   timeout=10)


def moderator(world: World, name: str = "mod") -> discord.Member:
    return world.h.add_member(world.guild, name,
                              permissions=discord.Permissions(manage_messages=True))


# --- Stop -------------------------------------------------------------------------------------

async def test_a_reply_shows_stop_while_written_then_regenerate(world: World) -> None:
    question = await world.ask("hello")
    reply = first_reply(world, question)
    first_post = world.replies()[0]
    [[stop]] = [[c["custom_id"] for c in row["components"]]
                for row in first_post.payload["components"]]
    assert stop == f"omnicord:stop:{question.id}"
    assert buttons(world, reply) == [("Regenerate", f"omnicord:regen:{question.id}")]
    assert all(r.ok for r in world.every_send_and_edit())


async def test_the_asker_stops_a_reply_and_what_was_shown_is_kept(
    world: World, dashscope: FakeDashScope
) -> None:
    dashscope.add_fault(Fault(trickle_every=0.05))
    question = world.h.message_create(world.channel, world.member, "talk for ever",
                                      mention_bot=True)
    await until_streaming(world, world.channel.id)
    reply = first_reply(world, question)
    world.h.press_button(world.channel, world.member, reply, "Stop")
    await world.h.settle(timeout=20)
    [text] = world.texts()
    assert text.endswith(f"\n{STOPPED}")
    shown = text.removesuffix(f"\n{STOPPED}").strip()
    assert shown.startswith("Echo")
    assert not any(r.flags & 8192 for r in world.replies())  # no voice message
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None and found[1].reply_text == shown
    assert buttons(world, reply) == [("Regenerate", f"omnicord:regen:{question.id}")]


async def test_a_stranger_cannot_stop_a_reply_but_a_moderator_can(
    world: World, dashscope: FakeDashScope
) -> None:
    dashscope.add_fault(Fault(trickle_every=0.05))
    question = world.h.message_create(world.channel, world.member, "go on", mention_bot=True)
    await until_streaming(world, world.channel.id)
    reply = first_reply(world, question)
    stranger = world.h.add_member(world.guild, "eve")
    refused = world.h.press_button(world.channel, stranger, reply, "Stop")
    await answered(world, refused)
    assert private_answer(world, refused) == NOT_ALLOWED
    assert buttons(world, reply) == [("Stop", f"omnicord:stop:{question.id}")]  # still going
    world.h.press_button(world.channel, moderator(world), reply, "Stop")
    await world.h.settle(timeout=20)
    assert world.texts()[0].endswith(STOPPED)
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None and found[1].reply_text


async def test_stop_after_the_reply_ended_says_so_and_goes(world: World) -> None:
    question = await world.ask("hello")
    reply = first_reply(world, question)
    pressed = press(world, world.member, reply, f"omnicord:stop:{question.id}")
    await world.h.settle()
    assert private_answer(world, pressed) == NO_LONGER_WRITTEN
    assert buttons(world, reply) == []


async def test_two_members_stop_their_replies_in_two_channels_at_once(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path) as world:
        other_channel = world.guild.text_channels[0]
        second = world.h.add_guild("Second", channels=("lounge",)).text_channels[0]
        other_member = world.h.add_member(second.guild, "cy")
        dashscope.add_fault(Fault(trickle_every=0.05, times=2))
        q1 = world.h.message_create(other_channel, world.member, "one", mention_bot=True)
        q2 = world.h.message_create(second, other_member, "two", mention_bot=True)
        await asyncio.gather(until_streaming(world, other_channel.id),
                             until_streaming(world, second.id))
        r1, r2 = first_reply(world, q1, other_channel.id), first_reply(world, q2, second.id)
        world.h.press_button(other_channel, world.member, r1, "Stop")
        world.h.press_button(second, other_member, r2, "Stop")
        await world.h.settle(timeout=20)
        for channel_id, question in ((other_channel.id, q1), (second.id, q2)):
            assert world.texts(channel_id)[0].endswith(STOPPED)
            found = await store_of(world).turn_for_message(str(question.id))
            assert found is not None


# --- Regenerate -------------------------------------------------------------------------------

async def test_regenerate_rewrites_the_same_message_and_replaces_the_turn(
    world: World, dashscope: FakeDashScope
) -> None:
    await open_chat_channel(world)
    q1 = await world.ask("first")
    q2 = await world.ask("second")
    r1, r2 = first_reply(world, q1), first_reply(world, q2)
    assert buttons(world, r1) == []  # only the newest answer can be regenerated
    posts = len(world.replies())
    dashscope.reply_text = "a second take"
    world.h.press_button(world.channel, world.member, r2, "Regenerate")
    await world.h.settle(timeout=20)
    assert len(world.replies()) == posts  # written into the same message
    assert world.fake.message(r2)["content"] == "a second take"
    assert buttons(world, r2) == [("Regenerate", f"omnicord:regen:{q2.id}")]
    history = await store_of(world).history(f"channel:{world.channel.id}")
    assert [t.reply_text for t in history][-1] == "a second take"
    assert len(history) == 2
    dashscope.reply_text = None
    await world.ask("third")
    said = [m["content"] for m in world.model.accepted[-1]["messages"]
            if m["role"] == "assistant"]
    assert said == [f"Echo: {world.member.display_name}: first", "a second take"]
    assert buttons(world, r2) == []
    assert all(r.ok for r in world.every_send_and_edit())


async def test_regenerate_of_an_older_answer_is_refused(world: World) -> None:
    await open_chat_channel(world)
    q1 = await world.ask("first")
    await world.ask("second")
    r1 = first_reply(world, q1)
    requests = len(world.model.accepted)
    pressed = press(world, world.member, r1, f"omnicord:regen:{q1.id}")
    await world.h.settle()
    assert private_answer(world, pressed) == NOT_NEWEST
    assert len(world.model.accepted) == requests


async def test_regenerate_by_a_stranger_is_refused_and_by_a_moderator_works(
    world: World, dashscope: FakeDashScope
) -> None:
    question = await world.ask("hello")
    reply = first_reply(world, question)
    stranger = world.h.add_member(world.guild, "eve")
    refused = world.h.press_button(world.channel, stranger, reply, "Regenerate")
    await world.h.settle()
    assert private_answer(world, refused) == NOT_ALLOWED
    dashscope.reply_text = "moderated take"
    world.h.press_button(world.channel, moderator(world), reply, "Regenerate")
    await world.h.settle(timeout=20)
    assert world.fake.message(reply)["content"] == "moderated take"
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None and found[1].reply_text == "moderated take"
    assert found[1].speaker_id == str(world.member.id)  # still the asker's turn


async def test_regenerate_of_a_deleted_question_or_erased_turn_says_so(world: World) -> None:
    question = await world.ask("hello")
    reply = first_reply(world, question)
    await store_of(world).forget_messages([str(question.id)])  # erased (not deleted in Discord)
    pressed = world.h.press_button(world.channel, world.member, reply, "Regenerate")
    await world.h.settle()
    assert private_answer(world, pressed) == NO_LONGER_KEPT
    assert buttons(world, reply) == []
    again = await world.ask("again")
    reply = first_reply(world, again)
    world.fake.delete_message(again.id)  # gone from Discord; no event reached the bot
    pressed = world.h.press_button(world.channel, world.member, reply, "Regenerate")
    await world.h.settle()
    assert private_answer(world, pressed) == QUESTION_GONE
    assert buttons(world, reply) == []


async def test_regenerate_while_it_is_being_written_is_refused(
    world: World, dashscope: FakeDashScope
) -> None:
    question = await world.ask("hello")
    reply = first_reply(world, question)
    dashscope.add_fault(Fault(trickle_every=0.05))
    world.h.press_button(world.channel, world.member, reply, "Regenerate")
    await world.h.wait_for_request("PATCH", rf"/channels/\d+/messages/{reply}", count=2,
                                   timeout=10)
    again = press(world, world.member, reply, f"omnicord:regen:{question.id}")
    await answered(world, again)
    assert private_answer(world, again) == ALREADY_WRITING
    press(world, world.member, reply, f"omnicord:stop:{question.id}")
    await world.h.settle(timeout=20)
    assert world.fake.message(reply)["content"].endswith(STOPPED)


async def test_two_members_regenerate_in_two_channels_at_once(
    world: World, dashscope: FakeDashScope
) -> None:
    second = world.h.add_guild("Second", channels=("lounge",)).text_channels[0]
    other = world.h.add_member(second.guild, "cy")
    q1 = await world.ask("one")
    world.h.message_create(second, other, "two", mention_bot=True)
    await world.h.settle(timeout=20)
    q2_reply = int(world.replies(second.id)[0].response["id"])
    q2_id = int(world.fake.message(q2_reply)["message_reference"]["message_id"])
    r1 = first_reply(world, q1)
    dashscope.reply_text = "again"
    world.h.press_button(world.channel, world.member, r1, "Regenerate")
    world.h.press_button(second, other, q2_reply, "Regenerate")
    await world.h.settle(timeout=20)
    assert world.fake.message(r1)["content"] == "again"
    assert world.fake.message(q2_reply)["content"] == "again"
    for question_id in (q1.id, q2_id):
        found = await store_of(world).turn_for_message(str(question_id))
        assert found is not None and found[1].reply_text == "again"


async def test_buttons_work_after_a_restart(dashscope: FakeDashScope, tmp_path: Path) -> None:
    """A second bot process on the same database and the same Discord: the first one's
    buttons, found by their custom ids, still work."""
    fake = FakeDiscord()
    fake.start()
    try:
        first = OmnicordBot(make_settings(dashscope, tmp_path))
        first.omnicord_url_rewrite = fake.local_url_for  # type: ignore[attr-defined]
        async with DiscordHarness(first, fake=fake) as h:
            guild = h.add_guild("Omni Test", channels=("general",))
            channel = guild.text_channels[0]
            asker = h.add_member(guild, "bo")
            question = h.message_create(channel, asker, "remember me", mention_bot=True)
            await h.settle(timeout=20)
            reply = int(fake.sent_messages(channel.id)[0].response["id"])
            components = fake.message(reply)["components"]
        second = OmnicordBot(make_settings(dashscope, tmp_path))
        second.omnicord_url_rewrite = fake.local_url_for  # type: ignore[attr-defined]
        async with DiscordHarness(second, fake=fake) as h:
            guild = h.add_guild("Omni Test", channels=("general",), guild_id=guild.id)
            h.dispatch_gateway("CHANNEL_CREATE", fake.channels[channel.id])
            channel = second.get_channel(channel.id)
            h.add_member(guild, asker._user)
            await h.settle(timeout=20)  # the check for messages deleted while away
            fake.messages[reply]["components"] = [
                {"type": 1, "components": [{"type": 2, "style": 2, "label": "Stop",
                                            "custom_id": f"omnicord:stop:{question.id}"}]}]
            gone = h.press_button(channel, asker, reply, "Stop")  # a crash left Stop there
            await h.settle()
            (response,) = fake.interaction_responses(gone["token"])
            assert response.payload["data"]["content"] == NO_LONGER_WRITTEN
            assert fake.message(reply)["components"] == []
            fake.messages[reply]["components"] = components
            dashscope.reply_text = "after the restart"
            h.press_button(channel, asker, reply, "Regenerate")
            await h.settle(timeout=20)
            assert fake.message(reply)["content"] == "after the restart"
            store = second._omnicord_runtime.services.store  # type: ignore[attr-defined]
            found = await store.turn_for_message(str(question.id))
            assert found is not None
            assert [t.reply_text for t in await store.history(found[0])] == [
                "after the restart"]
    finally:
        fake.stop()


# --- edits ------------------------------------------------------------------------------------

def edit(world: World, question: discord.Message, words: str) -> None:
    world.h.message_edit(world.channel, question.id, f"<@{world.bot.user.id}> {words}")


async def test_an_edited_question_gets_its_reply_edited_to_a_new_answer(world: World) -> None:
    question = await world.ask("old words")
    reply = first_reply(world, question)
    posts = len(world.replies())
    edit(world, question, "new words")
    await world.h.settle(timeout=20)
    name = world.member.display_name
    assert len(world.replies()) == posts
    assert world.fake.message(reply)["content"] == f"Echo: {name}: new words"
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None and found[1].text == "new words"
    history = await store_of(world).history(found[0])
    assert len(history) == 1
    assert buttons(world, reply) == [("Regenerate", f"omnicord:regen:{question.id}")]
    assert all(r.ok for r in world.every_send_and_edit())


async def test_an_edit_after_the_window_only_erases(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_EDIT_WINDOW=0) as world:
        question = await world.ask("old words")
        reply = first_reply(world, question)
        before = world.fake.message(reply)["content"]
        requests = len(dashscope.accepted)
        edit(world, question, "new words")
        await world.h.settle(timeout=20)
        assert world.fake.message(reply)["content"] == before
        assert len(dashscope.accepted) == requests
        assert await store_of(world).turn_for_message(str(question.id)) is None
        assert buttons(world, reply) == []


async def test_an_edit_storm_ends_with_one_answer_to_the_last_words(world: World) -> None:
    question = await world.ask("words 0")
    reply = first_reply(world, question)
    for i in range(1, 6):
        edit(world, question, f"words {i}")
        await asyncio.sleep(0.05)
    await world.h.settle(timeout=30)
    name = world.member.display_name
    assert world.fake.message(reply)["content"] == f"Echo: {name}: words 5"
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None
    assert [t.text for t in await store_of(world).history(found[0])] == [found[1].text]
    assert found[1].text.endswith("words 5")
    assert len([r for r in world.replies() if r.ok]) == 1


async def test_an_edit_while_the_reply_is_written_answers_the_new_words(
    world: World, dashscope: FakeDashScope
) -> None:
    dashscope.add_fault(Fault(trickle_every=0.05))
    question = world.h.message_create(world.channel, world.member, "old words",
                                      mention_bot=True)
    await until_streaming(world, world.channel.id)
    reply = first_reply(world, question)
    edit(world, question, "new words")
    await world.h.settle(timeout=20)
    name = world.member.display_name
    assert world.fake.message(reply)["content"] == f"Echo: {name}: new words"
    found = await store_of(world).turn_for_message(str(question.id))
    assert found is not None and found[1].text.endswith("new words")
    assert len(await store_of(world).history(found[0])) == 1


# --- spoken replies ---------------------------------------------------------------------------

async def test_a_stopped_spoken_reply_sends_no_voice_message(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_REPLY_MODE="both") as world:
        await world.ask("say it")  # text and voice
        assert sum(bool(r.flags & 8192) for r in world.replies()) == 1
        dashscope.add_fault(Fault(trickle_every=0.05))
        question = world.h.message_create(world.channel, world.member, "talk for ever",
                                          mention_bot=True)
        await until_streaming(world, world.channel.id, count=3)
        world.h.press_button(world.channel, world.member, first_reply(world, question), "Stop")
        await world.h.settle(timeout=20)
        assert world.texts()[-1].endswith(STOPPED)
        assert sum(bool(r.flags & 8192) for r in world.replies()) == 1  # none for this one
        found = await store_of(world).turn_for_message(str(question.id))
        assert found is not None and found[1].reply_text


async def test_regenerating_a_spoken_reply_replaces_its_voice_message(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_REPLY_MODE="both") as world:
        question = await world.ask("say it")
        reply = first_reply(world, question)
        [old_voice] = [int(r.response["id"]) for r in world.replies() if r.flags & 8192]
        dashscope.reply_text = "said again"
        world.h.press_button(world.channel, world.member, reply, "Regenerate")
        await world.h.settle(timeout=20)
        assert world.fake.message(old_voice) is None  # deleted
        voices = [int(r.response["id"]) for r in world.replies() if r.flags & 8192]
        assert len(voices) == 2 and world.fake.message(voices[-1]) is not None
        assert world.fake.message(reply)["content"] == "said again"
        found = await store_of(world).turn_for_message(str(question.id))
        assert found is not None
        assert found[1].reply_message_ids == (str(reply), str(voices[-1]))
