"""Live talk end to end: the real bot with every cog in the simulated Discord, discord.py's own
voice connection to the stand-in voice server, and the realtime stand-in answering aloud."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import pytest_asyncio
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX
from omnicord.cogs.runner import OmnicordBot
from omnicord.live.rules import voice_scope
from omnicord.voice.codec import OPUS_SILENCE, OpusDecoder
from omnicord.voice.pcm import rms

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord, FakeGateway
from tests.doubles.fake_realtime import FakeRealtime
from tests.doubles.fake_realtime.fixtures import fake_realtime as fake_realtime
from tests.doubles.fake_realtime.fixtures import fake_realtime_server as fake_realtime_server
from tests.doubles.fake_voice import FakeVoiceServer
from tests.doubles.fake_voice.fixtures import add_voice_channel, set_voice_state
from tests.doubles.fake_voice.speech import voiced
from tests.doubles.omnicord_bot import make_settings


@dataclass
class Talk:
    h: DiscordHarness
    fake: FakeDiscord
    voice: FakeVoiceServer
    realtime: FakeRealtime
    bot: OmnicordBot
    guild: discord.Guild
    text: discord.TextChannel
    lounge: discord.VoiceChannel
    admin: discord.Member
    member: discord.Member

    async def slash(self, user: discord.Member, command: str, **options: object) -> str:
        """Run a slash command in the text channel; the bot's private answer (a talk session
        keeps the bot busy, so this waits for the answer, not for the bot to settle)."""
        token = self.h.slash(self.text, user, command, options)["token"]

        def said() -> str:
            sent = [*self.fake.interaction_responses(token), *self.fake.followups(token)]
            return " ".join(str((r.json or {}).get("content") or
                                ((r.json or {}).get("data") or {}).get("content") or "")
                            for r in sent).strip()

        await until(lambda: bool(said()), timeout=60)
        return said()

    def lounge_texts(self) -> list[str]:
        me = str(self.bot.user.id)
        return [m.get("content") or "" for m in self.fake.channel_messages(self.lounge.id)
                if m["author"]["id"] == me]

    def answer_packets(self) -> list[bytes]:
        ssrc = self.voice.session.ssrc
        return [p.opus for p in self.voice.received if p.ssrc == ssrc and p.opus != OPUS_SILENCE]


@pytest_asyncio.fixture
async def talk(dashscope: FakeDashScope, fake_realtime: FakeRealtime,
               tmp_path: Path) -> AsyncIterator[Talk]:
    fake = FakeDiscord()
    fake.start()
    gateway = FakeGateway(fake)
    bot = OmnicordBot(make_settings(dashscope, tmp_path, OMNICORD_REALTIME_URL=fake_realtime.url))
    try:
        async with FakeVoiceServer() as voice:
            gateway.voice = voice
            async with DiscordHarness(bot, fake=fake, gateway=gateway) as h:
                h.ignored_task_prefixes += [CLEANUP_TASK_PREFIX, "omnicord-talk",
                                            "omnicord-live", "omnicord-voice"]
                guild = h.add_guild("Talk Test", channels=("general",))
                lounge = add_voice_channel(h, guild)
                admin = h.add_member(guild, "ada", manage_guild=True)
                member = h.add_member(guild, "bo")
                yield Talk(h, fake, voice, fake_realtime, bot, guild, guild.text_channels[0],
                           lounge, admin, member)
                with contextlib.suppress(Exception):
                    await bot.unload_extension("omnicord.cogs.talk")
    finally:
        fake.stop()


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``predicate()`` holds: what it reads is filled by other threads (the fake
    servers), which signal nothing."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def start_talking(t: Talk) -> None:
    await t.slash(t.admin, "omni-admin talk", enabled=True, caption_members=True)
    set_voice_state(t.h, t.guild, t.member, t.lounge)
    await t.h.settle()
    await t.slash(t.member, "omni talk start")
    await t.voice.wait_connected(timeout=30)
    await until(lambda: any("listening" in text for text in t.lounge_texts()))


async def test_talk_is_off_until_an_admin_enables_it(talk: Talk) -> None:
    set_voice_state(talk.h, talk.guild, talk.member, talk.lounge)
    await talk.h.settle()
    answer = await talk.slash(talk.member, "omni talk start")
    assert "Live talk is off in this server" in answer
    assert talk.h.gateway is not None and talk.h.gateway.voice_requests == []
    refused = await talk.slash(talk.member, "omni-admin talk", enabled=True)
    assert "Manage Server" in refused
    store = talk.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    assert not (await store.talk.settings(str(talk.guild.id))).enabled


async def test_a_member_speaks_and_omnicord_answers_aloud_with_a_caption(talk: Talk) -> None:
    talk.realtime.answer_text = "Hello from the lounge."
    await start_talking(talk)
    await talk.voice.speak(talk.member.id, voiced(1.2))
    await until(lambda: len(talk.answer_packets()) >= 40)  # 0.8 s of the 1 s answer
    decoder = OpusDecoder()
    pcm = b"".join(decoder.decode(packet) for packet in talk.answer_packets())
    assert rms(pcm) > 500  # a real tone, not silence
    await until(lambda: any("Hello from the lounge." in text for text in talk.lounge_texts()))
    await until(lambda: any("Hello, I spoke for" in text and "**Bo:**" in text
                            for text in talk.lounge_texts()))
    store = talk.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    await until(lambda: talk.realtime.sent_types().count("response.done") >= 1)

    async def kept() -> list:
        return await store.history(voice_scope(talk.lounge.id))

    turns: list = []
    async with asyncio.timeout(20):
        while not turns:
            turns = await kept()
            await asyncio.sleep(0.05)
    [turn] = turns
    assert turn.speaker_id == str(talk.member.id) and turn.reply_text == "Hello from the lounge."
    assert turn.text.startswith("Hello, I spoke for")
    assert await store.talk.used(str(talk.guild.id), turn.created_at[:10]) >= 0


async def test_a_member_who_talks_over_the_answer_stops_it(talk: Talk) -> None:
    talk.realtime.answer_seconds = 8.0
    talk.realtime.delta_interval = 0.08  # the answer arrives about as fast as it plays
    await start_talking(talk)
    await talk.voice.speak(talk.member.id, voiced(1.0))
    await until(lambda: len(talk.answer_packets()) >= 25)
    await talk.voice.speak(talk.member.id, voiced(1.0))  # barge-in
    await until(lambda: "response.cancel" in talk.realtime.received_types())
    started = [e["_at"] for e in talk.realtime.sent
               if e["type"] == "input_audio_buffer.speech_started"]
    barge_in = started[1]
    # Whatever answers the second question comes after its own response.created.
    await asyncio.sleep(3.0)
    created = [e["_at"] for e in talk.realtime.sent
               if e["type"] == "response.created" and e["_at"] > barge_in]
    next_answer = created[0] if created else float("inf")
    ssrc = talk.voice.session.ssrc
    after = [p for p in talk.voice.received if p.ssrc == ssrc and p.opus != OPUS_SILENCE
             and barge_in < p.at < next_answer]
    assert len(after) < 50  # the 8 s answer stopped: under 1 s of it after the barge-in
    assert len(talk.realtime.received_of("response.cancel")) == 1


async def test_stop_and_everyone_leaving_end_the_session(talk: Talk) -> None:
    await start_talking(talk)
    await talk.slash(talk.member, "omni talk stop")
    await until(lambda: any("someone used `/omni talk stop`" in text
                            for text in talk.lounge_texts()))
    assert talk.h.gateway is not None
    await until(lambda: talk.h.gateway.voice_requests[-1]["channel_id"] is None)

    await talk.slash(talk.member, "omni talk start")
    await until(lambda: talk.h.gateway.voice_requests[-1]["channel_id"] is not None)
    await until(lambda: sum("listening" in text for text in talk.lounge_texts()) >= 2)
    set_voice_state(talk.h, talk.guild, talk.member, None)
    await until(lambda: any("everyone left" in text for text in talk.lounge_texts()))


@pytest.mark.parametrize("limit", [1])
async def test_a_spent_day_refuses_to_start(talk: Talk, limit: int) -> None:
    await talk.slash(talk.admin, "omni-admin talk", enabled=True, minutes_per_day=limit)
    await talk.h.settle()
    store = talk.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    from omnicord.store.records import utc_today

    await store.talk.spend(str(talk.guild.id), utc_today(), 61.0)
    set_voice_state(talk.h, talk.guild, talk.member, talk.lounge)
    await talk.h.settle()
    answer = await talk.slash(talk.member, "omni talk start")
    assert "talk time for today is used up" in answer
    assert talk.h.gateway is not None and talk.h.gateway.voice_requests == []
