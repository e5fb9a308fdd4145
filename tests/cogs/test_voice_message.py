"""Native voice messages: the exact multipart request, and the plain-file fallback."""

from __future__ import annotations

import base64
import subprocess

import discord
import pytest
from omnicord.cogs.delivery.voice_message import (
    VoiceMessageRefused,
    send_voice_message,
    send_voice_or_file,
)
from omnicord.media.ffmpeg import ffmpeg_exe

from tests.doubles.fake_discord import DEFAULT_BOT_PERMISSIONS, IS_VOICE_MESSAGE, DiscordHarness
from tests.doubles.fake_discord import harness as harness

WAVEFORM = bytes(range(0, 256, 4))  # 64 points


@pytest.fixture(scope="module")
def ogg_opus() -> bytes:
    """Half a second of 440 Hz as 48 kHz mono OGG/Opus."""
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
               "-i", "sine=frequency=440:duration=0.5", "-ac", "1", "-ar", "48000",
               "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", "pipe:1"]
    data = subprocess.run(command, capture_output=True, check=True, timeout=30).stdout
    assert data.startswith(b"OggS") and b"OpusHead" in data
    return data


def voice_requests(h: DiscordHarness) -> list:
    """Every message POST flagged as a voice message."""
    return [r for r in h.fake.find("POST", r"/channels/\d+/messages")
            if r.flags & IS_VOICE_MESSAGE]


async def test_voice_message_request_shape(harness: DiscordHarness, ogg_opus: bytes) -> None:
    channel = harness.add_guild().text_channels[0]
    message = await send_voice_message(channel, ogg_opus, duration=0.5, waveform=WAVEFORM)

    [request] = harness.fake.find("POST", rf"/channels/{channel.id}/messages")
    assert request.is_multipart and request.flags == IS_VOICE_MESSAGE
    [file_part] = request.files
    assert file_part.name == "files[0]" and file_part.content_type == "audio/ogg"
    assert file_part.data == ogg_opus
    payload = request.json
    assert "content" not in payload and "embeds" not in payload
    assert "message_reference" not in payload
    assert payload["allowed_mentions"] == {"parse": [], "replied_user": False}
    [entry] = payload["attachments"]
    assert entry["id"] == "0" and entry["filename"] == "voice-message.ogg"
    assert isinstance(entry["duration_secs"], float) and entry["duration_secs"] == 0.5
    assert base64.b64decode(entry["waveform"]) == WAVEFORM

    assert message.flags.voice and message.content == ""
    [attachment] = message.attachments
    assert attachment.is_voice_message() and attachment.content_type == "audio/ogg"
    assert attachment.waveform == WAVEFORM and attachment.duration == 0.5
    assert await attachment.read() == ogg_opus


async def test_voice_reply_does_not_ping(harness: DiscordHarness, ogg_opus: bytes) -> None:
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    question = harness.message_create(channel, harness.add_member(guild, "alice"), "say it")
    message = await send_voice_message(channel, ogg_opus, duration=0.5, waveform=WAVEFORM,
                                       reply_to=question)
    [request] = voice_requests(harness)
    reference = request.json["message_reference"]
    assert reference["message_id"] == question.id and reference["channel_id"] == channel.id
    assert reference["fail_if_not_exists"] is False
    assert request.json["allowed_mentions"]["replied_user"] is False
    assert message.reference is not None and message.reference.message_id == question.id
    assert message.mentions == []


async def test_voice_reply_to_deleted_message_is_sent_plain(harness: DiscordHarness,
                                                            ogg_opus: bytes) -> None:
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    question = harness.message_create(channel, harness.add_member(guild, "alice"), "gone soon")
    harness.fake.delete_message(question.id)
    message = await send_voice_message(channel, ogg_opus, duration=0.5, waveform=WAVEFORM,
                                       reply_to=question)
    assert message.reference is None and message.flags.voice


async def test_voice_message_in_dm_and_after_rate_limit(harness: DiscordHarness,
                                                        ogg_opus: bytes) -> None:
    dm = harness.dm_channel(harness.user("carol"))
    harness.fake.rate_limit_next(retry_after=0.01)
    message = await send_voice_message(dm, ogg_opus, duration=0.5, waveform=WAVEFORM)
    first, second = voice_requests(harness)
    assert (first.status, second.status) == (429, 200)
    assert second.files[0].data == ogg_opus  # the file was rewound for the retry
    assert message.channel.id == dm.id


async def test_refusal_50173_falls_back_to_plain_file(harness: DiscordHarness,
                                                      ogg_opus: bytes) -> None:
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    question = harness.message_create(channel, harness.add_member(guild, "alice"), "q")
    harness.fake.fail_next_voice_message(50173)
    message, was_voice = await send_voice_or_file(channel, ogg_opus, duration=0.5,
                                                  waveform=WAVEFORM, reply_to=question)
    assert not was_voice
    refused, fallback = harness.fake.find("POST", rf"/channels/{channel.id}/messages")
    assert refused.status == 403 and refused.response["code"] == 50173
    assert fallback.ok and not fallback.flags & IS_VOICE_MESSAGE
    [part] = fallback.files
    assert part.filename == "voice-message.ogg" and part.data == ogg_opus
    assert fallback.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert fallback.json["message_reference"]["message_id"] == question.id
    assert not message.flags.voice and message.attachments[0].filename == "voice-message.ogg"


async def test_refused_error_carries_code(harness: DiscordHarness, ogg_opus: bytes) -> None:
    channel = harness.add_guild().text_channels[0]
    harness.fake.fail_next_voice_message(50161)
    with pytest.raises(VoiceMessageRefused) as refused:
        await send_voice_message(channel, ogg_opus, duration=0.5, waveform=WAVEFORM)
    assert refused.value.code == 50161


async def test_missing_send_voice_messages_permission(harness: DiscordHarness,
                                                      ogg_opus: bytes) -> None:
    no_voice = discord.Permissions(DEFAULT_BOT_PERMISSIONS.value)
    no_voice.send_voice_messages = False
    guild = harness.add_guild(everyone_permissions=discord.Permissions.none(),
                              bot_permissions=no_voice)
    channel = guild.text_channels[0]
    message, was_voice = await send_voice_or_file(channel, ogg_opus, duration=0.5,
                                                  waveform=WAVEFORM)
    assert not was_voice and not voice_requests(harness)  # refused before any request
    [sent] = harness.fake.sent_messages(channel.id)
    assert sent.files[0].data == ogg_opus and message.attachments


async def test_50013_falls_back_when_permissions_are_unknown(harness: DiscordHarness,
                                                             ogg_opus: bytes) -> None:
    dm = harness.dm_channel(harness.user("carol"))
    harness.fake.fail_next_voice_message(50013)
    _, was_voice = await send_voice_or_file(dm, ogg_opus, duration=0.5, waveform=WAVEFORM)
    assert not was_voice
    assert [r.status for r in harness.fake.find("POST", rf"/channels/{dm.id}/messages")] == [
        403, 200]


async def test_50013_with_voice_permission_is_not_a_refusal(harness: DiscordHarness,
                                                            ogg_opus: bytes) -> None:
    channel = harness.add_guild().text_channels[0]
    harness.fake.fail_next_voice_message(50013)
    with pytest.raises(discord.Forbidden):
        await send_voice_or_file(channel, ogg_opus, duration=0.5, waveform=WAVEFORM)


async def test_arguments_are_checked(harness: DiscordHarness, ogg_opus: bytes) -> None:
    channel = harness.add_guild().text_channels[0]
    with pytest.raises(ValueError, match="waveform"):
        await send_voice_message(channel, ogg_opus, duration=0.5, waveform=bytes(257))
    with pytest.raises(ValueError, match="duration"):
        await send_voice_message(channel, ogg_opus, duration=0, waveform=WAVEFORM)
    assert not harness.fake.requests[2:]
