"""The chat cog through a simulated gateway, the offline model server and captured HTTP."""

from __future__ import annotations

import asyncio
import base64
import itertools
from pathlib import Path

import pytest

from tests.doubles.fake_dashscope import Fault
from tests.doubles.media import image, test_pattern_video
from tests.doubles.omnicord_bot import World, ogg_voice_note
from tests.doubles.omnicord_bot import world as world


def no_pings(request) -> bool:
    mentions = request.payload.get("allowed_mentions")
    return mentions is not None and mentions.get("parse") == [] and not mentions.get(
        "replied_user")


async def test_mention_gets_a_reply_that_pings_nobody(world: World) -> None:
    question = await world.ask("hello there @everyone")
    name = world.member.display_name
    assert world.texts() == [f"Echo: {name}: hello there @everyone"]
    reply = world.replies()[0]
    assert int(reply.payload["message_reference"]["message_id"]) == question.id
    assert all(no_pings(r) for r in world.every_send_and_edit())
    assert world.fake.find("POST", rf"/channels/{world.channel.id}/typing")
    sent = world.model.accepted[0]["messages"]
    assert sent[0]["role"] == "system"
    assert sent[-1]["content"][-1]["text"] == f"{name}: hello there @everyone"


async def test_plain_messages_bots_and_webhooks_are_ignored(world: World) -> None:
    world.h.message_create(world.channel, world.member, "just chatting")
    robot = world.h.user("robot", bot=True)
    world.h.message_create(world.channel, robot, "beep", mention_bot=True)
    await world.h.settle()
    assert world.model.requests == []
    assert world.replies() == []


async def test_dm_reply_and_bot_reply_triggers(world: World) -> None:
    dm = world.h.dm_channel(world.member)
    world.h.message_create(dm, world.member, "private question")
    await world.h.settle(timeout=20)
    assert world.texts(dm.id) == ["Echo: private question"]  # no names in a DM
    await world.ask("first")
    bot_message = world.fake.message(int(world.replies()[0].response["id"]))
    answer = world.bot._connection.create_message(channel=world.channel, data=bot_message)
    world.h.message_create(world.channel, world.member, "follow up", reference=answer)
    await world.h.settle(timeout=20)
    name = world.member.display_name
    assert world.texts()[-1] == f"Echo: {name}: follow up"
    history = world.model.accepted[-1]["messages"]
    assert f"{name}: first" in str(history)
    assert history[-1]["content"][-1]["text"] == f"{name}: follow up"


async def test_opened_channel_and_bot_thread_answer_everything(world: World) -> None:
    h = world.h
    h.slash(world.channel, world.admin, "omni-admin chat-channel", {"enabled": True})
    await h.settle()
    h.message_create(world.channel, world.member, "no mention needed")
    await h.settle(timeout=20)
    assert world.texts()[-1].endswith(": no mention needed")
    h.slash(world.channel, world.member, "omni thread", {"name": "Questions"})
    await h.settle()
    (created,) = world.fake.find("POST", rf"/channels/{world.channel.id}/threads")
    thread = world.bot.get_channel(int(created.response["id"]))
    assert thread is not None and thread.owner_id == world.bot.user.id
    h.message_create(thread, world.member, "inside the thread")
    await h.settle(timeout=20)
    assert world.texts(thread.id)[0].endswith(": inside the thread")


async def test_voice_note_image_video_mixed_in_one_reply(world: World, tmp_path: Path) -> None:
    h = world.h
    png = image(tmp_path / "cat.png", 300, 200).read_bytes()
    mp4 = test_pattern_video(tmp_path / "clip.mp4", 2).read_bytes()
    note = ogg_voice_note(tmp_path)
    attachments = [
        h.attachment("cat.png", png, content_type="image/png"),
        h.attachment("clip.mp4", mp4, content_type="video/mp4"),
        h.attachment("voice-message.ogg", note, content_type="audio/ogg", duration=2.0),
    ]
    await world.ask("what are these?", attachments=attachments)
    users = [m for m in world.model.accepted[0]["messages"] if m["role"] == "user"]
    kinds = [[p["type"] for p in m["content"]] for m in users]
    assert kinds == [["image_url", "text"], ["video_url"], ["input_audio"]]
    assert len(world.model.accepted) == 1
    notices = [t for t in world.texts() if t.startswith("-# ")]
    answers = [t for t in world.texts() if t and not t.startswith("-# ")]
    assert len(answers) == 1 and answers[0].startswith("Echo:")
    assert len([r for r in world.replies() if r.flags & 8192]) == 1  # a voice note was sent
    assert notices == ["-# voice-message.ogg: converted from OGG/Opus"]


async def open_channel(world: World) -> None:
    world.h.slash(world.channel, world.admin, "omni-admin chat-channel", {"enabled": True})
    await world.h.settle()


async def test_voice_note_gets_a_native_voice_message(world: World, tmp_path: Path) -> None:
    await open_channel(world)
    note = ogg_voice_note(tmp_path)
    question = world.h.voice_message(world.channel, world.member, note, duration=2.0)
    await world.h.settle(timeout=20)
    assert world.model.accepted[0]["audio"]["voice"] == "Cherry"  # auto: voice for voice notes
    voice = [r for r in world.replies() if r.flags & 8192]
    assert len(voice) == 1
    request = voice[0]
    assert request.payload.get("content") in (None, "")
    (part,) = request.files
    assert part.content_type == "audio/ogg" and part.data.startswith(b"OggS")
    entry = request.payload["attachments"][0]
    assert entry["duration_secs"] > 0.5
    assert 0 < len(base64.b64decode(entry["waveform"])) <= 256
    assert int(request.payload["message_reference"]["message_id"]) == question.id
    assert no_pings(request)


async def test_refused_voice_message_falls_back_to_a_file(world: World, tmp_path: Path) -> None:
    await open_channel(world)
    world.fake.fail_next_voice_message(50173)
    world.h.voice_message(world.channel, world.member, ogg_voice_note(tmp_path), duration=2.0)
    await world.h.settle(timeout=20)
    fallback = [r for r in world.replies() if r.files and not r.flags & 8192]
    assert len(fallback) == 1 and fallback[0].files[0].filename.endswith(".ogg")


async def test_edits_are_paced_to_one_per_second(world: World) -> None:
    world.model.reply_text = " ".join(f"word{i}" for i in range(60))
    world.model.token_delay = 0.12
    await world.ask("stream slowly please")
    edits = world.fake.edits(world.channel.id)
    assert len(edits) >= 2
    times = [r.at for r in [world.replies()[0], *edits]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.95
    assert world.texts()[-1] == world.model.reply_text


async def test_long_answer_is_split_on_boundaries(world: World) -> None:
    paragraphs = [f"Part {i}: " + "lorem ipsum " * 70 for i in range(6)]
    world.model.reply_text = "\n\n".join(paragraphs)
    assert len(world.model.reply_text) > 5000
    await world.ask("long please")
    contents = world.texts()
    assert len(contents) >= 3
    assert all(len(c) <= 2000 for c in contents)
    assert all(c.rstrip().endswith("ipsum") for c in contents)


async def test_a_reply_cut_at_the_models_length_limit_says_so(world: World) -> None:
    world.h.slash(world.channel, world.admin, "omni-admin model", {"model": "qwen-omni-turbo"})
    await world.h.settle()
    world.model.reply_text = "\n\n".join(f"Part {i}: " + "lorem ipsum " * 70 for i in range(9))
    assert len(world.model.reply_text) > 3 * 2048  # over turbo's 2,048 output tokens
    question = await world.ask("tell me everything")
    contents = world.texts()
    assert contents[-1].endswith("\n-# (cut short: the reply reached the model's length limit)")
    assert all(len(c) <= 2000 for c in contents)
    found = await world.bot._omnicord_runtime.services.store.turn_for_message(str(question.id))
    assert found is not None
    turn = found[1]
    assert "cut short" not in turn.reply_text  # the note is not the model's words
    world.model.reply_text = None
    await world.ask("and briefly?")
    assert "cut short" not in world.texts()[-1]


async def test_bad_attachment_is_explained_and_the_next_message_served(world: World) -> None:
    junk = world.h.attachment("song.mp3", b"\x00\x01 definitely not audio" * 50,
                              content_type="audio/mpeg")
    await world.ask("what is this?", attachments=[junk])
    (warning,) = world.texts()
    assert warning.startswith("⚠️ I couldn't use **song.mp3**")
    assert world.model.requests == []
    await world.ask("and now a normal question")
    assert world.texts()[-1].endswith(": and now a normal question")


@pytest.mark.parametrize(("fault", "words"), [
    (Fault(status=429), "rate limited"),
    (Fault(status=500), "not answering"),
    (Fault(cut_after_chunks=3), "cut off"),
])
async def test_model_failures_become_friendly_lines(world: World, fault: Fault, words: str) -> None:
    world.model.add_fault(fault)
    await world.ask("hello")
    assert words in world.texts()[-1]
    assert "Traceback" not in world.texts()[-1]
    await world.ask("hello again")
    assert world.texts()[-1].endswith(": hello again")


async def test_deleted_message_ends_the_reply_quietly(world: World) -> None:
    world.model.reply_text = " ".join(f"w{i}" for i in range(60))
    world.model.token_delay = 0.05
    question = world.h.message_create(world.channel, world.member, "go", mention_bot=True)
    await world.h.wait_for_request("POST", rf"/channels/{world.channel.id}/messages")
    first = world.replies()[0]
    world.fake.delete_message(int(first.response["id"]))
    await world.h.settle(timeout=20)
    assert not any("⚠️" in text for text in world.texts())
    assert await world.turns() == []
    assert question.id


async def test_daily_cap_refuses_politely(world: World) -> None:
    world.h.slash(world.channel, world.admin, "omni-admin token-cap", {"tokens": 1})
    await world.h.settle()
    await world.ask("first question")
    await world.ask("second question")
    assert "used your 1 tokens for today" in world.texts()[-1]
    assert len(world.model.accepted) == 1


async def test_two_quick_messages_are_answered_in_order(world: World) -> None:
    world.h.slash(world.channel, world.admin, "omni-admin conversations", {"mode": "channel"})
    await world.h.settle()
    world.model.token_delay = 0.02
    world.h.message_create(world.channel, world.member, "one", mention_bot=True)
    await asyncio.sleep(0.01)
    world.h.message_create(world.channel, world.admin, "two", mention_bot=True)
    await world.h.settle(timeout=20)
    second = world.model.accepted[1]["messages"]
    first_name, second_name = world.member.display_name, world.admin.display_name
    assert f"{first_name}: one" in str(second)
    assert second[-1]["content"][-1]["text"] == f"{second_name}: two"


async def test_cooldown_and_size_checked_before_download(
    dashscope, tmp_path: Path
) -> None:
    from tests.doubles.omnicord_bot import running_world

    async with running_world(dashscope, tmp_path, OMNICORD_COOLDOWN_SECONDS=60,
                             OMNICORD_MAX_INPUT_MB=1) as world:
        big = world.h.attachment("huge.wav", b"RIFF" + bytes(2_000_000), content_type="audio/wav")
        await world.ask("what is this?", attachments=[big])
        assert "Omnicord accepts up to 1 MiB" in world.texts()[-1]
        assert not world.fake.find("GET", r"/cdn/.*")
        await world.ask("too soon")
        assert "please wait 1 min" in world.texts()[-1].lower()
        assert world.model.requests == []


async def test_a_turn_remembers_its_message_and_the_replies_to_it(world: World) -> None:
    question = await world.ask("remember where this came from")
    store = world.bot._omnicord_runtime.services.store
    ((scope, turn),) = await store.place_history(f"channel:{world.channel.id}",
                                                 f"chain:{world.channel.id}:")
    assert scope == f"chain:{world.channel.id}:{question.id}"  # a mention starts a chain
    assert turn.source_message_id == str(question.id)
    assert turn.reply_message_ids == tuple(r.response["id"] for r in world.replies())
