"""Captions: auto-captions, the context menu and /omni caption, through the simulated gateway."""

from __future__ import annotations

from pathlib import Path

from tests.doubles.omnicord_bot import World, ogg_voice_note
from tests.doubles.omnicord_bot import world as world


def caption_requests(world: World) -> list[dict]:
    return [r for r in world.model.accepted if r["model"] == "qwen3-omni-30b-a3b-captioner"]


async def test_auto_caption_in_enabled_channels_only(world: World, tmp_path: Path) -> None:
    note = ogg_voice_note(tmp_path, 3)
    world.h.voice_message(world.channel, world.member, note, duration=3.0)
    await world.h.settle(timeout=20)
    assert caption_requests(world) == []
    world.h.slash(world.channel, world.admin, "omni-admin caption-channel",
                  {"enabled": True, "mode": "description"})  # new channels transcribe
    await world.h.settle()
    question = world.h.voice_message(world.channel, world.member, note, duration=3.0)
    await world.h.settle(timeout=20)
    (request,) = caption_requests(world)
    (part,) = request["messages"][0]["content"]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    caption = world.replies()[-1]
    assert caption.content.startswith("-# 🤖 Machine-generated caption")
    assert "steady tone lasting about 3.0 seconds" in caption.content
    assert int(caption.payload["message_reference"]["message_id"]) == question.id
    assert caption.payload["allowed_mentions"]["parse"] == []


async def test_context_menu_captions_a_messages_audio(world: World, tmp_path: Path) -> None:
    note = ogg_voice_note(tmp_path, 2)
    target = world.h.voice_message(world.channel, world.member, note, duration=2.0)
    await world.h.settle(timeout=20)
    interaction = world.h.message_command(world.channel, world.admin, "Caption audio", target)
    await world.h.settle(timeout=20)
    (followup,) = world.fake.followups(interaction["token"])
    assert "Machine-generated caption" in followup.content
    assert "2.0 seconds" in followup.content


async def test_context_menu_on_a_text_message_explains(world: World) -> None:
    target = world.h.message_create(world.channel, world.member, "no audio here")
    interaction = world.h.message_command(world.channel, world.admin, "Caption audio", target)
    await world.h.settle()
    (response,) = world.fake.interaction_responses(interaction["token"])
    assert "no audio or video" in response.content
    assert response.payload["data"]["flags"] & 64  # ephemeral


async def test_slash_caption_of_an_upload_and_of_a_picture(world: World, tmp_path: Path) -> None:
    note = ogg_voice_note(tmp_path, 2)
    upload = world.h.attachment("memo.ogg", note, content_type="audio/ogg")
    interaction = world.h.slash(world.channel, world.member, "omni caption", {"file": upload})
    await world.h.settle(timeout=20)
    assert "Machine-generated" in world.fake.followups(interaction["token"])[0].content
    picture = world.h.attachment("cat.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    refused = world.h.slash(world.channel, world.member, "omni caption", {"file": picture})
    await world.h.settle()
    assert "not audio or video" in world.fake.interaction_responses(refused["token"])[0].content


async def test_long_captions_are_split_or_attached(world: World, tmp_path: Path) -> None:
    world.model.reply_text = "A long description. " * 400  # about 8,000 characters
    note = ogg_voice_note(tmp_path, 1)
    upload = world.h.attachment("memo.ogg", note, content_type="audio/ogg")
    interaction = world.h.slash(world.channel, world.member, "omni caption", {"file": upload})
    await world.h.settle(timeout=20)
    followups = world.fake.followups(interaction["token"])
    assert len(followups) == 1
    assert "attached as a text file" in followups[0].content
    assert followups[0].files[0].filename == "caption.txt"
    assert len(followups[0].files[0].data) > 7000
