"""Live voice through the simulated Discord: discord.py's own voice connection (fake gateway,
fake voice gateway over a real websocket, UDP), members heard, answers spoken."""

from __future__ import annotations

import asyncio

import pytest
from omnicord.cogs.voice.client import OmnicordVoiceClient
from omnicord.cogs.voice.connection import LiveVoice
from omnicord.voice.codec import OpusDecoder
from omnicord.voice.pcm import dbfs, duration_ms, rms
from omnicord.voice.playback import AnswerAudio

from tests.doubles.fake_discord import DiscordHarness
from tests.doubles.fake_voice import FakeVoiceServer
from tests.doubles.fake_voice.fixtures import add_voice_channel, set_voice_state
from tests.doubles.fake_voice.fixtures import voice_harness as voice_harness
from tests.doubles.fake_voice.speech import voiced

Harness = tuple[DiscordHarness, FakeVoiceServer]


async def test_the_bot_joins_through_discord_pys_own_connection(voice_harness: Harness) -> None:
    h, voice = voice_harness
    guild = h.add_guild()
    channel = add_voice_channel(h, guild)
    client = await channel.connect(cls=OmnicordVoiceClient, timeout=20)
    session = await voice.wait_connected()
    assert client.is_connected() and client.mode == "aead_xchacha20_poly1305_rtpsize"
    assert session.identify is not None and session.identify["user_id"] == str(h.me.id)
    assert session.identify["max_dave_protocol_version"] >= 1  # read; protocol 0 chosen
    assert h.gateway is not None
    assert str(h.gateway.voice_requests[0]["channel_id"]) == str(channel.id)
    assert guild.me.voice is not None and guild.me.voice.channel == channel
    await client.disconnect()
    assert h.gateway.voice_requests[-1]["channel_id"] is None


async def test_a_members_speech_arrives_as_their_decoded_audio(voice_harness: Harness) -> None:
    h, voice = voice_harness
    guild = h.add_guild()
    channel = add_voice_channel(h, guild)
    alice = h.add_member(guild, "alice")
    set_voice_state(h, guild, alice, channel)
    client = await channel.connect(cls=OmnicordVoiceClient, timeout=20)
    await voice.wait_connected()
    speech = voiced(1.0)
    sent = await voice.speak(alice.id, speech)
    heard: list[bytes] = []
    async with asyncio.timeout(20):
        async for frame in client.receiver.decoded():
            assert frame.user_id == alice.id
            heard.append(frame.pcm)
            if len(heard) == sent:
                break
    pcm = b"".join(heard)
    assert abs(duration_ms(pcm, 48_000, 2) - 1000) < 1
    assert abs(dbfs(pcm) - dbfs(speech)) < 1.5
    assert client.receiver.stats.unmapped == 0 and client.receiver.stats.delivered == sent
    await client.disconnect()


async def test_an_unannounced_speaker_is_silence_and_counted(voice_harness: Harness) -> None:
    h, voice = voice_harness
    guild = h.add_guild()
    channel = add_voice_channel(h, guild)
    client = await channel.connect(cls=OmnicordVoiceClient, timeout=20)
    await voice.wait_connected()
    stranger = await voice.speak(4242, voiced(0.2), ssrc=777, announce=False)
    bob = h.add_member(guild, "bob")
    told = await voice.speak(bob.id, voiced(0.2))
    packets = []
    async with asyncio.timeout(20):
        async for packet in client.receiver:
            packets.append(packet)
            if len(packets) == told:
                break
    assert {p.user_id for p in packets} == {bob.id}
    assert client.receiver.stats.unmapped == stranger
    await client.disconnect()


async def test_live_voice_hears_plays_an_answer_and_stops_it_at_once(
        voice_harness: Harness) -> None:
    h, voice = voice_harness
    guild = h.add_guild()
    channel = add_voice_channel(h, guild)
    alice = h.add_member(guild, "alice")
    live = await LiveVoice.connect(channel, timeout=20)
    session = await voice.wait_connected()
    heard: list[tuple[int, bytes]] = []
    got_all = asyncio.Event()

    def on_packet(user_id: int, opus: bytes) -> None:
        heard.append((user_id, opus))
        if len(heard) == 10:
            got_all.set()

    live.on_packet = on_packet
    await voice.speak(alice.id, voiced(0.2))
    async with asyncio.timeout(20):
        await got_all.wait()
    assert {user for user, _ in heard} == {alice.id}

    answer = voiced(1.0, rate=24_000, channels=1)
    audio = AnswerAudio(24_000)
    live.play(audio)
    audio.feed(answer)
    audio.end()
    packets = await voice.wait_for_packets(45, timeout=30)
    mine = [p for p in packets if p.ssrc == session.ssrc and p.opus != b"\xf8\xff\xfe"]
    decoder = OpusDecoder()
    pcm = b"".join(decoder.decode(p.opus) for p in mine)
    assert rms(pcm) > 0.5 * rms(answer)

    long_answer = voiced(5.0, rate=24_000, channels=1)  # made before playing starts
    long = AnswerAudio(24_000)
    live.play(long)
    long.feed(long_answer)
    before = len(voice.received)
    await voice.wait_for_packets(before + 15, timeout=30)
    live.stop_playing()
    taken = long.packets_sent
    assert long.finished and long.buffered_ms == 0
    await asyncio.sleep(1.0)  # the player would have taken 50 more by now
    assert long.packets_sent == taken < 200
    assert not live.client.is_playing()
    await live.leave()
    assert not live.client.is_connected()


@pytest.mark.parametrize("leaves", ["member leaves voice"])
async def test_members_joining_and_leaving_voice_reach_the_bot(
        voice_harness: Harness, leaves: str) -> None:
    h, _ = voice_harness
    guild = h.add_guild()
    channel = add_voice_channel(h, guild)
    alice = h.add_member(guild, "alice")
    seen: list[tuple[int, object, object]] = []

    async def on_voice_state_update(member: object, before: object, after: object) -> None:
        seen.append((getattr(member, "id", 0), getattr(before, "channel", None),
                     getattr(after, "channel", None)))

    h.bot.add_listener(on_voice_state_update)
    set_voice_state(h, guild, alice, channel)
    await h.settle()
    assert [m.id for m in channel.members] == [alice.id]
    set_voice_state(h, guild, alice, None)
    await h.settle()
    assert channel.members == []
    assert seen == [(alice.id, None, channel), (alice.id, channel, None)]
