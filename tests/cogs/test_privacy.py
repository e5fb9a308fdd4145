"""Members' data under members' control, through the simulated gateway and the offline model:
deleted messages, ``/omni forget me``, export permissions, allow lists, the DM policy,
retention and the data statement."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from types import ModuleType

import discord
import pytest
from omnicord.store import MediaRef, SqliteStore, Turn
from omnicord.store.records import MemberPreferences

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DEFAULT_EVERYONE_PERMISSIONS
from tests.doubles.media import image
from tests.doubles.omnicord_bot import World, ogg_voice_note, running_world
from tests.doubles.omnicord_bot import world as world
from tests.store.conftest import fresh_database


def loaded(name: str) -> ModuleType:
    """A cog module as the bot loaded it (``load_extension`` executes a module of its own)."""
    return sys.modules[f"omnicord.cogs.{name}"]


def store(world: World) -> SqliteStore:
    store = world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    assert isinstance(store, SqliteStore)
    return store


async def command(world: World, user: discord.abc.User, name: str, options=None, *,
                  channel=None) -> dict:
    """Run a slash command; the interaction payload (for its token)."""
    interaction = world.h.slash(channel or world.channel, user, name, options or {})
    await world.h.settle(timeout=20)
    return interaction


def answer(world: World, interaction: dict) -> str:
    """What the bot answered an interaction (its last response or follow-up)."""
    token = interaction["token"]
    found = [*world.fake.interaction_responses(token), *world.fake.followups(token)]
    return found[-1].content or ""


async def export(world: World, user: discord.abc.User, channel=None) -> tuple[str, dict]:
    """``/omni export format:json``: the message and the exported document."""
    interaction = await command(world, user, "omni export", {"format": "json"}, channel=channel)
    (response,) = world.fake.interaction_responses(interaction["token"])
    document = json.loads(response.files[0].data) if response.files else {}
    return response.content or "", document


def sent_history(world: World) -> str:
    """Everything the last model request carried before the new message."""
    return json.dumps(world.model.accepted[-1]["messages"][:-1])


def cached_hashes(folder: Path) -> set[str]:
    return {p.name.partition("-")[0] for p in folder.glob("*.json")}


def forget_cache(world: World) -> None:
    """Drop discord.py's message cache: deletions must work for messages it never saw."""
    world.bot._connection._messages.clear()  # type: ignore[union-attr]


def deleted_by_bot(world: World, channel_id: int | None = None) -> list[int]:
    """The messages the bot asked Discord to delete (successfully or not), in order."""
    chan = channel_id or world.channel.id
    return [int(r.path.rsplit("/", 1)[1])
            for r in world.fake.find("DELETE", rf"/channels/{chan}/messages/\d+")]


def reply_ids(world: World) -> list[int]:
    """Every message the bot sent to the world's channel, oldest first."""
    return [int(r.response["id"]) for r in world.replies()]


# --- deleted messages -------------------------------------------------------------------------

async def test_a_deleted_message_leaves_history_export_and_later_requests(
        world: World, tmp_path: Path) -> None:
    await command(world, world.admin, "omni-admin conversations", {"mode": "channel"})
    png = image(tmp_path / "cat.png", 64, 48).read_bytes()
    secret = await world.ask("my secret is 1234", attachments=[
        world.h.attachment("cat.png", png, content_type="image/png", channel=world.channel)])
    shared = await world.ask("the same cat again", attachments=[
        world.h.attachment("cat.png", png, content_type="image/png", channel=world.channel)])
    await world.ask("the weather is fine")
    (cat,) = cached_hashes(tmp_path / "cache")
    forget_cache(world)
    world.h.message_delete(world.channel, secret.id)
    await world.h.settle()
    texts = [t.text for t in await world.turns()]
    assert texts == ["the same cat again", "the weather is fine"]
    assert cached_hashes(tmp_path / "cache") == {cat}  # another turn still uses it
    world.h.message_delete(world.channel, shared.id)
    await world.h.settle()
    assert cached_hashes(tmp_path / "cache") == set()  # nothing refers to it any more
    _, document = await export(world, world.admin)
    assert [t["text"] for t in document["turns"]] == ["the weather is fine"]
    await world.ask("what was my secret?")
    assert "1234" not in sent_history(world) and "weather" in sent_history(world)


async def test_a_deleted_question_takes_the_bots_reply_messages_with_it(
        world: World) -> None:
    await command(world, world.admin, "omni-admin replies", {"mode": "both"})
    world.model.reply_text = "\n\n".join(f"Part {i}: " + "lorem ipsum " * 70 for i in range(4))
    question = await world.ask("a long one, spoken too")
    answer_ids = reply_ids(world)
    assert len(answer_ids) >= 3  # text, its continuation, the voice message
    assert any(r.flags & 8192 for r in world.replies())  # IS_VOICE_MESSAGE
    kept = await world.ask("another question")
    kept_ids = reply_ids(world)[len(answer_ids):]
    forget_cache(world)
    world.h.message_delete(world.channel, question.id)
    await world.h.settle()
    assert sorted(deleted_by_bot(world)) == sorted(answer_ids)
    assert all(world.fake.message(i) is None for i in answer_ids)
    assert kept_ids and all(world.fake.message(i) is not None for i in [kept.id, *kept_ids])
    texts = [t.text for t in await world.turns()]
    assert texts == ["another question"]


async def test_a_bulk_delete_takes_the_replies_to_the_questions_it_purged(
        world: World) -> None:
    asked = [await world.ask(f"question {n}") for n in range(4)]
    replies = reply_ids(world)
    forget_cache(world)
    world.h.message_delete(world.channel, asked[0].id, replies[1], asked[2].id, 424242)
    await world.h.settle()
    assert sorted(deleted_by_bot(world)) == [replies[0], replies[2]]
    assert world.fake.message(asked[1].id) is not None  # a reply's deletion keeps the question
    assert world.fake.message(replies[3]) is not None
    texts = [t.text for t in await world.turns()]
    assert texts == ["question 3"]


async def test_a_reply_a_moderator_deleted_already_is_skipped_quietly(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.model.reply_text = "\n\n".join(f"Part {i}: " + "lorem ipsum " * 70 for i in range(4))
    question = await world.ask("long please")
    first, *rest = reply_ids(world)
    assert rest
    world.fake.delete_message(first)  # gone from Discord, its event never seen
    caplog.set_level(logging.INFO)
    world.h.message_delete(world.channel, question.id)
    await world.h.settle()
    assert deleted_by_bot(world) == [first, *rest]
    assert [r.status for r in world.fake.find("DELETE", rf"/channels/\d+/messages/{first}")] \
        == [404]
    assert world.texts() == []
    assert await world.turns() == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any(f"deleted {len(rest)} reply messages" in r.getMessage() for r in caplog.records)


async def test_deleting_the_bots_reply_erases_its_turn(world: World) -> None:
    question = await world.ask("keep this?")
    reply_id = int(world.replies()[0].response["id"])
    world.h.message_delete(world.channel, reply_id)
    await world.h.settle()
    assert await world.turns() == []
    assert deleted_by_bot(world) == [] and world.fake.message(question.id) is not None
    await world.ask("anything before?")
    assert "keep this?" not in sent_history(world)


async def test_a_bulk_delete_erases_every_turn_it_touched(world: World) -> None:
    await command(world, world.admin, "omni-admin conversations", {"mode": "channel"})
    asked = [await world.ask(f"question {n}") for n in range(4)]
    replies = [int(r.response["id"]) for r in world.replies()]
    forget_cache(world)
    world.h.message_delete(world.channel, asked[0].id, replies[1], asked[2].id, 424242)
    await world.h.settle()
    texts = [t.text for t in await world.turns()]
    assert texts == ["question 3"]
    await world.ask("and now?")
    history = sent_history(world)
    assert "question 3" in history
    assert not any(f"question {n}" in history for n in range(3))


async def test_a_message_deleted_while_its_reply_streams_is_erased_too(world: World) -> None:
    world.model.token_delay = 0.15
    question = world.h.message_create(world.channel, world.member, "delete me mid-reply",
                                      mention_bot=True)
    for _ in range(200):
        if world.model.requests:
            break
        await asyncio.sleep(0.02)
    world.h.message_delete(world.channel, question.id)
    await world.h.settle(timeout=20)
    sent = reply_ids(world)
    assert sent, "the reply still went out"
    assert await world.turns() == []
    assert deleted_by_bot(world) == sent and world.texts() == []  # then went with its question


async def test_a_deleted_voice_message_takes_its_auto_caption_with_it(
        world: World, tmp_path: Path) -> None:
    await command(world, world.admin, "omni-admin caption-channel", {"enabled": True})
    note = ogg_voice_note(tmp_path, 3)
    spoken = world.h.voice_message(world.channel, world.member, note, duration=3.0)
    await world.h.settle(timeout=20)
    kept = world.h.voice_message(world.channel, world.member, note, duration=3.0)
    await world.h.settle(timeout=20)
    first, second = reply_ids(world)
    assert world.fake.message(first)["content"].startswith("-# 🤖 Machine-generated transcript")
    forget_cache(world)
    world.h.message_delete(world.channel, spoken.id)
    await world.h.settle()
    assert deleted_by_bot(world) == [first]
    assert world.fake.message(second) is not None and world.fake.message(kept.id) is not None


async def wait_for_request(world: World) -> None:
    """Until the model has been asked (the reply is streaming)."""
    for _ in range(500):
        if world.model.requests:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the model was never asked")


async def test_an_edited_question_erases_its_turn(world: World) -> None:
    edited = await world.ask("my password is hunter2")
    kept = await world.ask("what is the capital of France?")
    await world.ask("and of Spain?")
    assert len(await world.turns()) == 3  # own edits
    world.h.message_edit(world.channel, kept.id, kept.content, edited=False)  # an embed came
    world.h.message_edit(world.channel, edited.id, f"<@{world.bot.user.id}> never mind")
    await world.h.settle(timeout=20)
    texts = [t.text for t in await world.turns()]
    # Within OMNICORD_EDIT_WINDOW the new words are answered (in the same reply message).
    assert texts == ["what is the capital of France?", "and of Spain?", "never mind"]
    _, document = await export(world, world.admin)
    assert "hunter2" not in json.dumps(document)
    await world.ask("what did I say first?")
    assert "hunter2" not in sent_history(world)
    assert world.fake.find("DELETE", r"/channels/\d+/messages/\d+") == []  # the reply stays


async def test_a_question_edited_while_its_reply_streams_is_not_stored(world: World) -> None:
    world.model.token_delay = 0.15
    question = world.h.message_create(world.channel, world.member, "my pin is 4321",
                                      mention_bot=True)
    await wait_for_request(world)
    world.h.message_edit(world.channel, question.id, "oops")
    await world.h.settle(timeout=20)
    assert reply_ids(world), "the reply still went out"
    # The answer to the old words is not stored; the new words (within OMNICORD_EDIT_WINDOW)
    # are answered instead.
    assert [t.text for t in await world.turns()] == ["oops"]
    assert "4321" not in str(await world.turns())


async def test_messages_deleted_while_away_are_erased_at_the_next_session(
        world: World) -> None:
    gone = await world.ask("deleted while the bot was away")
    gone_replies = reply_ids(world)
    await world.ask("still there")
    dm = await ask_dm(world, world.member, "a DM deleted while away")
    world.fake.delete_message(gone.id)  # no event: the bot was not connected
    (dm_question,) = [m for m in world.fake.channel_messages(dm.id)
                      if m["author"]["id"] == str(world.member.id)]
    world.fake.delete_message(int(dm_question["id"]))
    forget_cache(world)
    world.bot.dispatch("ready")  # a new gateway session
    await world.h.settle(timeout=20)
    texts = [t.text for t in await world.turns()]
    assert texts == ["still there"]
    assert await store(world).history(f"dm:{world.member.id}") == []
    assert sorted(deleted_by_bot(world)) == sorted(gone_replies)  # its replies went too


async def test_a_photo_quoted_from_another_member_serves_one_answer_only(
        world: World, tmp_path: Path) -> None:
    png = image(tmp_path / "theirs.png", 64, 48).read_bytes()
    posted = world.h.message_create(world.channel, world.admin, "my holiday photo", attachments=[
        world.h.attachment("theirs.png", png, content_type="image/png", channel=world.channel)])
    await world.h.settle()
    await world.ask("what is in this photo?", reference=posted)
    assert "image_url" in json.dumps(world.model.accepted[-1]["messages"][-1])  # it was seen
    (turn,) = await world.turns()
    assert turn.media == () and cached_hashes(tmp_path / "cache") == set()
    own = world.h.message_create(world.channel, world.member, "mine", attachments=[
        world.h.attachment("mine.png", png, content_type="image/png", channel=world.channel)])
    await world.h.settle()
    await world.ask("and this one of mine?", reference=own)
    turns = await world.turns()
    assert [len(t.media) for t in turns] == [0, 1]  # one's own quoted photo is kept


# --- forget me --------------------------------------------------------------------------------

async def ask_dm(world: World, user: discord.abc.User, text: str) -> discord.DMChannel:
    dm = world.h.dm_channel(user)
    world.h.message_create(dm, user, text)
    await world.h.settle(timeout=20)
    return dm


async def forget_me(world: World, user: discord.abc.User, press: str | None,
                    channel=None) -> tuple[dict, int]:
    """``/omni forget me``, then (unless None) press a button; the command and its message."""
    asked = await command(world, user, "omni forget me", channel=channel)
    (response,) = world.fake.interaction_responses(asked["token"])
    assert response.payload["data"]["flags"] & 64  # ephemeral
    message_id = int(response.response["resource"]["message"]["id"])
    if press is not None:
        world.h.press_button(channel or world.channel, user, message_id, press)
        await world.h.settle(timeout=20)
    return asked, message_id


async def test_forget_me_erases_a_member_from_every_server_and_dm(world: World) -> None:
    h, member = world.h, world.member
    other_guild = h.add_guild("Second", channels=("lobby",))
    lobby = other_guild.text_channels[0]
    h.add_member(other_guild, member)
    await world.ask("member in server one says 1111")
    await world.ask("admin in server one", author=world.admin)
    h.message_create(lobby, member, "member in server two says 2222", mention_bot=True)
    await h.settle(timeout=20)
    dm = await ask_dm(world, member, "member in a DM says 3333")
    await command(world, member, "omni me voice", {"voice": "Ethan"})
    await command(world, member, "omni me replies", {"mode": "text"}, channel=lobby)
    data = store(world)
    runtime_prefs = data.preferences

    asked, message_id = await forget_me(world, member, press=None)
    assert "cannot be undone" in answer(world, asked)
    assert len(await world.turns()) == 2  # nothing yet
    cancelled, _ = await forget_me(world, member, press="Cancel")
    assert "nothing was erased" in world.fake.message(
        int(world.fake.interaction_responses(cancelled["token"])[0].response["resource"]
            ["message"]["id"]))["content"]
    assert await data.usage_by_model(since_day="2000-01-01", user_id=str(member.id))

    world.h.press_button(world.channel, world.admin, message_id, "Forget me")  # not theirs
    await h.settle(timeout=20)
    assert len(await world.turns()) == 2
    world.h.press_button(world.channel, member, message_id, "Forget me")
    await h.settle(timeout=20)
    done = world.fake.message(message_id)
    assert done["content"].startswith("Done: Omnicord forgot you. Erased 3 conversation turns")
    assert done["components"] == []

    turns = await world.turns()
    assert [(t.speaker_id, t.text) for t in turns] == [(str(world.admin.id),
                                                        "admin in server one")]
    assert await world.turns(lobby.id) == []
    assert await data.history(f"dm:{member.id}") == []
    assert await data.usage_by_model(since_day="2000-01-01", user_id=str(member.id)) == []
    for guild in (str(world.guild.id), str(other_guild.id), ""):
        assert await runtime_prefs.member(guild, str(member.id)) == MemberPreferences()
    _, document = await export(world, world.admin)
    exported = json.dumps(document)
    assert str(member.id) not in exported and "1111" not in exported
    note, mine = await export(world, member, channel=dm)
    assert note.startswith("0 turns") and mine["turns"] == []
    usage = answer(world, await command(world, member, "omni usage"))
    assert "**You today:** 0 tokens" in usage
    assert world.fake.find("DELETE", r"/channels/\d+/messages/\d+") == []  # Discord's stay
    await world.ask("admin again", author=world.admin)
    assert "1111" not in sent_history(world)


async def test_forget_me_pressed_while_a_dm_reply_streams_leaves_nothing(world: World) -> None:
    member = world.member
    dm = await ask_dm(world, member, "an earlier DM")
    _, message_id = await forget_me(world, member, press=None, channel=dm)
    world.model.token_delay = 0.2
    asked_before = len(world.model.requests)
    world.h.message_create(dm, member, "a DM answered while I leave")
    for _ in range(500):
        if len(world.model.requests) > asked_before:
            break
        await asyncio.sleep(0.02)
    world.h.press_button(dm, member, message_id, "Forget me")  # while the reply streams
    await world.h.settle(timeout=30)
    assert world.texts(dm.id)[-1], "the reply still went out"
    assert world.fake.message(message_id)["content"].startswith(
        "Done: Omnicord forgot you. Erased 1 conversation turn,")
    data = store(world)
    assert await data.history(f"dm:{member.id}") == []
    assert await data.usage_by_model(since_day="2000-01-01", user_id=str(member.id)) == []
    assert await data.count_rows("conversations") == 0  # not even the DM's row came back


async def test_forget_me_without_an_answer_erases_nothing(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    privacy_cog = loaded("privacy")
    monkeypatch.setattr(privacy_cog, "CONFIRM_SECONDS", 0.3)
    await world.ask("still here")
    _, message_id = await forget_me(world, world.member, press=None)
    for _ in range(200):  # the view times out, then edits its message
        shown = world.fake.message(message_id)
        if shown["content"] == str(privacy_cog.TIMED_OUT):
            break
        await asyncio.sleep(0.02)
    assert shown["content"] == str(privacy_cog.TIMED_OUT) and shown["components"] == []
    with pytest.raises(KeyError, match="no button"):  # the buttons are gone
        world.h.press_button(world.channel, world.member, message_id, "Forget me")
    assert [t.text for t in await world.turns()] == [
        "still here"]


# --- export permissions -----------------------------------------------------------------------

async def test_export_needs_read_message_history_and_manage_messages_for_all(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaded("settings"), "EXPORT_TURNS", 2)
    for n in range(3):
        await world.ask(f"turn {n}")
    note, document = await export(world, world.member)
    assert [t["text"] for t in document["turns"]] == ["turn 1", "turn 2"]
    assert "a full export needs the Manage Messages permission" in note
    moderator = world.h.add_member(world.guild, "mod",
                                   permissions=discord.Permissions(manage_messages=True))
    note, document = await export(world, moderator)
    assert len(document["turns"]) == 3 and note == "3 turns."

    no_history = discord.Permissions(DEFAULT_EVERYONE_PERMISSIONS.value)
    no_history.read_message_history = False
    quiet = world.h.add_guild("Quiet", everyone_permissions=no_history)
    lurker = world.h.add_member(quiet, "lurker")
    refused = await command(world, lurker, "omni export", channel=quiet.text_channels[0])
    (response,) = world.fake.interaction_responses(refused["token"])
    assert "Read Message History" in (response.content or "") and not response.files

    dm = await ask_dm(world, world.member, "my own dm")
    note, document = await export(world, world.member, channel=dm)
    assert [t["text"] for t in document["turns"]] == ["my own dm"]


# --- allow lists and the DM policy ------------------------------------------------------------

def downloads(world: World) -> list:
    return world.fake.find("GET", r"/cdn/.*")


async def test_allow_lists_refuse_before_any_download_or_model_call(
        world: World, tmp_path: Path) -> None:
    h = world.h
    helpers = h.add_role(world.guild, "Helpers", discord.Permissions.none())
    helper = h.add_member(world.guild, "cy", roles=[helpers])
    refused = await command(world, world.member, "omni-admin allow-role",
                            {"role": helpers, "allowed": True})
    assert "Manage Server" in answer(world, refused)
    done = await command(world, world.admin, "omni-admin allow-role",
                         {"role": helpers, "allowed": True})
    assert f"<@&{helpers.id}>" in answer(world, done)

    png = image(tmp_path / "cat.png", 64, 48).read_bytes()
    picture = h.attachment("cat.png", png, content_type="image/png", channel=world.channel)
    await world.ask("look at this", attachments=[picture])
    assert world.texts()[-1] == "⚠️ Omnicord is only open to some roles in this server."
    assert world.model.requests == [] and downloads(world) == []
    note = h.attachment("voice-message.ogg", ogg_voice_note(tmp_path), content_type="audio/ogg",
                        channel=world.channel)
    caption = await command(world, world.member, "omni caption", {"file": note})
    assert answer(world, caption) == "⚠️ Omnicord is only open to some roles in this server."
    assert world.model.requests == [] and downloads(world) == []
    await world.ask("look at this", author=helper, attachments=[picture])
    assert world.texts()[-1].startswith("Echo:") and len(world.model.requests) == 1

    await command(world, world.admin, "omni-admin allow-channel", {"allowed": True})
    elsewhere = await _second_channel(world)
    h.message_create(elsewhere, helper, "over here?", mention_bot=True)
    await h.settle(timeout=20)
    assert world.texts(elsewhere.id) == [
        "⚠️ Omnicord isn't available in this channel; please try another one."]
    assert len(world.model.requests) == 1
    status = answer(world, await command(world, world.admin, "omni status"))
    assert f"**Open to:** <@&{helpers.id}>, in <#{world.channel.id}>" in status
    await command(world, world.admin, "omni-admin allow-role",
                  {"role": helpers, "allowed": False})
    await command(world, world.admin, "omni-admin allow-channel", {"allowed": False})
    await world.ask("open again?")
    assert world.texts()[-1].startswith("Echo:") and len(world.model.requests) == 2


async def _second_channel(world: World) -> discord.TextChannel:
    """A second text channel in the world's server."""
    from tests.doubles.fake_discord.payloads import text_channel_payload

    data = text_channel_payload(world.fake.new_id(), world.guild.id, "random", position=1)
    world.fake.channels[int(data["id"])] = data
    world.h.dispatch_gateway("CHANNEL_CREATE", data)
    channel = world.guild.get_channel(int(data["id"]))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_the_dm_policy_refuses_direct_messages_before_any_download(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_ALLOW_DMS=False) as world:
        png = image(tmp_path / "cat.png", 64, 48).read_bytes()
        dm = world.h.dm_channel(world.member)
        world.h.message_create(dm, world.member, "hi", attachments=[
            world.h.attachment("cat.png", png, content_type="image/png", channel=dm)])
        await world.h.settle(timeout=20)
        assert world.texts(dm.id) == [
            "⚠️ I don't answer direct messages here; please ask me in a server."]
        assert world.model.requests == [] and downloads(world) == []
        await world.ask("in the server it works")
        assert world.texts()[-1].startswith("Echo:")


# --- retention and the data statement ---------------------------------------------------------

async def test_retention_prunes_old_turns_and_their_media_at_start_up(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    old_hash, new_hash = "a" * 64, "b" * 64
    async with SqliteStore(tmp_path / "omnicord.db") as data:
        for text, when, digest in (("ancient", "2020-01-01T00:00:00.000Z", old_hash),
                                   ("recent", "2999-01-01T00:00:00.000Z", new_hash)):
            await data.add_turn("channel:1", Turn(
                speaker_id="7", speaker_name="Ada", text=text, reply_text="ok",
                model="qwen3-omni-flash", created_at=when,
                media=(MediaRef(kind="image", name="x.png", content_hash=digest),)))
    (tmp_path / "cache").mkdir()
    for digest in (old_hash, new_hash):
        (tmp_path / "cache" / f"{digest}-{'0' * 16}.json").write_text("{}")
    async with running_world(dashscope, tmp_path, OMNICORD_RETENTION_DAYS=30) as world:
        for _ in range(200):  # the pruning runs beside start-up: wait for it to finish
            if cached_hashes(tmp_path / "cache") == {new_hash}:
                break
            await asyncio.sleep(0.02)
        assert [t.text for t in await store(world).history("channel:1")] == ["recent"]
        assert cached_hashes(tmp_path / "cache") == {new_hash}
        status = answer(world, await command(world, world.member, "omni status"))
        assert "for 30 days" in status


async def test_expired_cooldowns_and_leases_go_daily_without_retention(
        dashscope: FakeDashScope, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omnicord")
    url, drop = await asyncio.to_thread(fresh_database)  # skips without PostgreSQL
    from omnicord.store.postgres.store import PostgresStore

    try:
        async with PostgresStore(url) as data:
            await data.database.pool.execute(
                "INSERT INTO cooldowns (key, last_at) VALUES"
                " ('cooldown:chat:1', clock_timestamp() - interval '25 hours'),"
                " ('cooldown:chat:2', clock_timestamp() - interval '1 hour');"
                " INSERT INTO scope_leases (scope, holder, expires_at) VALUES"
                " ('channel:1', 'dead:1/1', clock_timestamp() - interval '1 minute')")
        async with running_world(dashscope, tmp_path, OMNICORD_DB=url) as world:
            runtime = world.bot._omnicord_runtime  # type: ignore[attr-defined]
            housekeeping = runtime.housekeeping
            assert housekeeping.is_running() and housekeeping.hours == 24
            pool = runtime.services.store.database.pool
            for _ in range(200):  # it runs beside start-up: wait for it to finish
                if not await pool.fetchval("SELECT count(*) FROM scope_leases"):
                    break
                await asyncio.sleep(0.02)
            keys = [r["key"] for r in await pool.fetch("SELECT key FROM cooldowns")]
            assert keys == ["cooldown:chat:2"]
            assert await pool.fetchval("SELECT count(*) FROM scope_leases") == 0
        assert not housekeeping.is_running()
    finally:
        await asyncio.to_thread(drop)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "omnicord.limits"]
    assert line == ("limits: forgot 1 expired cooldowns, 1 expired leases and 0 old upstream "
                    "requests")


async def test_status_states_what_is_kept_where_and_who_else_sees_it(world: World) -> None:
    status = answer(world, await command(world, world.member, "omni status"))
    assert "**Your data:**" in status and "until deleted" in status
    assert "**Sent to:** the model service at 127.0.0.1" in status
    assert "`/omni forget me`" in status and len(status) <= 2000
