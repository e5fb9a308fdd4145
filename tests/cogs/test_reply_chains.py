"""Conversations that follow replies, and personas and models per channel and thread, through
the simulated gateway, the offline model server and the captured REST requests."""

from __future__ import annotations

import asyncio
import json

import discord

from tests.doubles.omnicord_bot import World
from tests.doubles.omnicord_bot import world as world


def sent(world: World, index: int = -1) -> str:
    """One request's messages, as text."""
    return json.dumps(world.model.accepted[index]["messages"], ensure_ascii=False)


def answer_to(world: World, question: discord.Message) -> discord.Message:
    """Omnicord's (first) reply message to a member's message, as discord.py sees it."""
    for request in world.replies():
        reference = request.payload.get("message_reference") or {}
        if str(reference.get("message_id")) == str(question.id):
            data = world.fake.message(int(request.response["id"]))
            return world.bot._connection.create_message(channel=world.channel, data=data)
    raise AssertionError("no reply to that message")


async def command(world: World, user: discord.abc.User, name: str, options: dict,
                  channel=None) -> str:
    """Run a slash command; the private answer's text."""
    interaction = world.h.slash(channel or world.channel, user, name, options)
    await world.h.settle(timeout=20)
    (response,) = world.fake.interaction_responses(interaction["token"])
    return response.payload["data"]["content"]


async def test_two_chains_in_one_channel_at_once_keep_separate_histories(world: World) -> None:
    world.model.token_delay = 0.01
    bo, ada = world.member, world.admin
    # Two members mention Omnicord at the same moment, about two things.
    first_bo = world.h.message_create(world.channel, bo, "my cat is Quokka", mention_bot=True)
    first_ada = world.h.message_create(world.channel, ada, "my dog is Rex", mention_bot=True)
    await world.h.settle(timeout=20)
    assert "Quokka" not in sent(world, -1) or "Rex" not in sent(world, -1)
    assert all(not ("Quokka" in sent(world, i) and "Rex" in sent(world, i)) for i in (0, 1))
    # Both reply to their own answers at once: each request holds only its own chain.
    world.h.message_create(world.channel, bo, "what is my pet's name?",
                           reference=answer_to(world, first_bo))
    world.h.message_create(world.channel, ada, "and mine?", reference=answer_to(world, first_ada))
    await world.h.settle(timeout=20)
    follow_ups = [json.dumps(r["messages"]) for r in world.model.accepted[2:]]
    assert len(follow_ups) == 2
    (bos,) = [f for f in follow_ups if "pet's name" in f]
    (adas,) = [f for f in follow_ups if "and mine?" in f]
    assert "Quokka" in bos and "Rex" not in bos
    assert "Rex" in adas and "Quokka" not in adas
    store = world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    for question in (first_bo, first_ada):
        scope = f"chain:{world.channel.id}:{question.id}"
        assert len(await store.history(scope)) == 2
    assert await store.history(f"channel:{world.channel.id}") == []


async def test_a_reply_to_a_members_message_of_the_chain_continues_it(world: World) -> None:
    first = await world.ask("remember the number 31")
    again = await world.ask("the number again?", reference=first)  # replying to the question
    assert "remember the number 31" in sent(world)
    # A new mention elsewhere in the channel starts afresh.
    await world.ask("a new topic")
    assert "31" not in sent(world)
    assert again.id


async def test_a_long_chain_fetches_what_is_not_cached_in_bounded_number(world: World) -> None:
    first = await world.ask("the first question")
    question = first
    for number in range(3):
        question = world.h.message_create(world.channel, world.member, f"follow {number}",
                                          reference=answer_to(world, question))
        await world.h.settle(timeout=20)
    assert "the first question" in sent(world)
    # A bot that lost its cache (a restart) still finds the chain, through the store.
    world.bot._connection._messages.clear()  # type: ignore[union-attr]
    fetched_before = len(world.fake.find("GET", r"/channels/\d+/messages/\d+"))
    world.h.message_create(world.channel, world.member, "after a restart",
                           reference=answer_to(world, question))
    await world.h.settle(timeout=20)
    assert "the first question" in sent(world) and "follow 2" in sent(world)
    assert len(world.fake.find("GET", r"/channels/\d+/messages/\d+")) - fetched_before <= 5


async def test_channel_mode_and_chat_channels_keep_one_history(world: World) -> None:
    text = await command(world, world.admin, "omni-admin conversations", {"mode": "channel"})
    assert "one shared history" in text
    await world.ask("shared one")
    await world.ask("shared two", author=world.admin)
    assert "shared one" in sent(world)
    # A chat channel keeps one history by default.
    await command(world, world.admin, "omni-admin conversations", {"mode": "default"})
    await command(world, world.admin, "omni-admin chat-channel", {"enabled": True})
    world.h.message_create(world.channel, world.member, "chat one")
    await world.h.settle(timeout=20)
    world.h.message_create(world.channel, world.admin, "chat two")
    await world.h.settle(timeout=20)
    assert "chat one" in sent(world) and "shared one" in sent(world)
    # An ordinary channel keeps reply chains: a new mention does not see the shared history.
    await command(world, world.admin, "omni-admin chat-channel", {"enabled": False})
    await world.ask("fresh start")
    assert "shared one" not in sent(world) and "chat one" not in sent(world)


async def test_members_cannot_change_how_a_channel_keeps_conversations(world: World) -> None:
    text = await command(world, world.member, "omni-admin conversations", {"mode": "channel"})
    assert "Manage Server" in text
    await world.ask("one")
    await world.ask("two")
    assert "one" not in sent(world).replace("two", "")


async def test_persona_and_model_follow_thread_then_channel_then_server(world: World) -> None:
    admin = world.admin
    await command(world, admin, "omni-admin persona", {"prompt": "Server persona."})
    await world.ask("in the channel")
    assert world.model.accepted[-1]["messages"][0]["content"].startswith("Server persona.")
    await command(world, admin, "omni-admin persona", {"prompt": "Channel persona.",
                                                       "channel": world.channel})
    await command(world, admin, "omni-admin model", {"model": "qwen-omni-turbo",
                                                     "channel": world.channel})
    await world.ask("again")
    request = world.model.accepted[-1]
    assert request["model"] == "qwen-omni-turbo"
    assert request["messages"][0]["content"].startswith("Channel persona.")
    status = await command(world, world.member, "omni status", {})
    assert "qwen-omni-turbo (set for the channel)" in status
    assert "**Persona** (set for the channel): Channel persona." in status
    assert "a conversation per reply chain" in status or "default" in status
    # A thread of that channel: its own persona wins; the model still comes from the channel.
    world.h.slash(world.channel, world.member, "omni thread", {"name": "Deep dive"})
    await world.h.settle()
    (created,) = world.fake.find("POST", rf"/channels/{world.channel.id}/threads")
    thread = world.bot.get_channel(int(created.response["id"]))
    assert isinstance(thread, discord.Thread)
    await command(world, admin, "omni-admin persona", {"prompt": "Thread persona.",
                                                       "channel": thread}, channel=thread)
    world.h.message_create(thread, world.member, "inside")
    await world.h.settle(timeout=20)
    request = world.model.accepted[-1]
    assert request["messages"][0]["content"].startswith("Thread persona.")
    assert request["model"] == "qwen-omni-turbo"
    status = await command(world, world.member, "omni status", {}, channel=thread)
    assert "(set for this thread)" in status and "qwen-omni-turbo (set for the channel)" in status
    # Clearing the channel's choices: the server's apply again.
    await command(world, admin, "omni-admin persona", {"prompt": "", "channel": world.channel})
    await command(world, admin, "omni-admin model", {"model": "default",
                                                     "channel": world.channel})
    await world.ask("back to the server's")
    request = world.model.accepted[-1]
    assert request["model"] == "qwen3-omni-flash"
    assert request["messages"][0]["content"].startswith("Server persona.")


async def test_an_unknown_channel_model_is_refused_with_the_choices(world: World) -> None:
    text = await command(world, world.admin, "omni-admin model", {"model": "gpt-9",
                                                                  "channel": world.channel})
    assert "Unknown chat model 'gpt-9'" in text and "qwen3-omni-flash" in text
    await world.ask("still fine")
    assert world.model.accepted[-1]["model"] == "qwen3-omni-flash"


async def test_reset_and_export_cover_every_chain_of_the_channel(world: World) -> None:
    await world.ask("chain one")
    await world.ask("chain two", author=world.admin)
    interaction = world.h.slash(world.channel, world.admin, "omni export", {"format": "json"})
    await world.h.settle(timeout=20)
    (response,) = world.fake.interaction_responses(interaction["token"])
    (file,) = response.files
    document = json.loads(file.data)
    assert [t["text"] for t in document["turns"]] == ["chain one", "chain two"]
    assert all(t["conversation"].startswith(f"chain:{world.channel.id}:")
               for t in document["turns"])
    moderator = world.h.add_member(world.guild, "mo", permissions=discord.Permissions(
        manage_messages=True, read_message_history=True))
    text = await command(world, moderator, "omni reset", {})
    assert "2 turns forgotten" in text
    assert await world.turns() == []


async def test_a_deleted_chain_message_is_erased_and_the_chain_goes_on(world: World) -> None:
    first = await world.ask("secret 4242")
    second = world.h.message_create(world.channel, world.member, "more",
                                    reference=answer_to(world, first))
    await world.h.settle(timeout=20)
    world.h.message_delete(world.channel, first.id)
    await world.h.settle()
    assert [t.text for t in await world.turns()] == ["more"]
    world.h.message_create(world.channel, world.member, "and now?",
                           reference=answer_to(world, second))
    await world.h.settle(timeout=20)
    assert "4242" not in sent(world) and "more" in sent(world)
    await asyncio.sleep(0)
