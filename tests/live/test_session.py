"""A talk session's core with real parts: the realtime client against the realtime stand-in,
real Opus from generated speech, a real SQLite store; only Discord is left out (the output
below plays answers by pulling their packets, as discord.py's player thread does)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from omnicord.errors import UpstreamError
from omnicord.live.rules import voice_scope
from omnicord.live.session import Caption, LiveTalk, Place
from omnicord.realtime.client import RealtimeClient, SessionOptions
from omnicord.store import SqliteStore
from omnicord.store.records import TalkSettings, utc_today
from omnicord.voice.codec import FRAME_BYTES, OpusEncoder
from omnicord.voice.playback import AnswerAudio

from tests.doubles.fake_realtime import FakeRealtime
from tests.doubles.fake_realtime.fixtures import API_KEY
from tests.doubles.fake_voice.speech import voiced

PLACE = Place(guild_id="g1", channel_id="42")
TALKING = TalkSettings(enabled=True, caption_members=True)


class Player:
    """Plays answers as discord.py would: a thread takes a packet every 20 ms."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self.captions: list[Caption] = []
        self.stops = 0
        self._audio: AnswerAudio | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def play(self, audio: AnswerAudio) -> None:
        with self._lock:
            self._audio = audio

    def stop_playing(self) -> None:
        self.stops += 1
        with self._lock:
            self._audio = None

    def caption(self, line: Caption) -> None:
        self.captions.append(line)

    def name_of(self, user_id: str) -> str:
        return f"member {user_id}"

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._done.wait(0.02):
            with self._lock:
                audio = self._audio
            packet = audio.next_packet() if audio is not None else None
            if packet is not None:
                self.packets.append(packet)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "talk.db")
    await opened.open()
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def client(fake_realtime: FakeRealtime) -> AsyncIterator[RealtimeClient]:
    made = RealtimeClient(url=fake_realtime.url, api_key=API_KEY)
    yield made
    await made.aclose()


@pytest.fixture
def player() -> AsyncIterator[Player]:
    made = Player()
    yield made
    made.close()


def session(client: RealtimeClient, store: SqliteStore, player: Player,
            chosen: TalkSettings = TALKING, **options: float) -> LiveTalk:
    return LiveTalk(client, store, PLACE, SessionOptions(model="qwen3-omni-flash-realtime",
                                                         voice="Cherry"),
                    chosen, player, **options)


async def speak(live: LiveTalk, user_id: str, seconds: float) -> None:
    """A member's speech as Opus packets, one every 20 ms, as Discord delivers them."""
    encoder = OpusEncoder()
    pcm = voiced(seconds)
    for start in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        live.hear(user_id, encoder.encode(pcm[start:start + FRAME_BYTES]))
        await asyncio.sleep(0.02)


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for state other threads fill (the stand-in, the player)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_member_is_answered_aloud_and_the_exchange_is_kept(
        client: RealtimeClient, store: SqliteStore, player: Player,
        fake_realtime: FakeRealtime) -> None:
    fake_realtime.answer_text = "Nice to hear you."
    live = session(client, store, player)
    running = asyncio.create_task(live.run())
    await until(lambda: "session.update" in fake_realtime.received_types())
    await speak(live, "7", 1.0)
    await until(lambda: any(c.final and not c.speaker_id for c in player.captions))
    await until(lambda: live.stats.turns_kept == 1)
    await until(lambda: len(player.packets) >= 40)  # most of the 1 s answer played
    live.stop()
    assert await running == "stopped"
    [turn] = await store.history(voice_scope("42"))
    assert (turn.speaker_id, turn.speaker_name, turn.reply_text) == (
        "7", "member 7", "Nice to hear you.")
    assert turn.text.startswith("Hello, I spoke for")
    assert any(c.speaker_id == "7" and c.final for c in player.captions)
    assert [c.text for c in player.captions if not c.speaker_id][-1] == "Nice to hear you."
    [(model, prompt, completion)] = await store.usage_by_model(since_day=utc_today(),
                                                               user_id="7", guild_id="g1")
    assert model == "qwen3-omni-flash-realtime" and prompt > 0 and completion > 0
    assert await store.talk.used("g1", utc_today()) > 0


async def test_the_audio_streams_in_real_time_with_silence_between_words(
        client: RealtimeClient, store: SqliteStore, player: Player,
        fake_realtime: FakeRealtime) -> None:
    live = session(client, store, player)
    running = asyncio.create_task(live.run())
    await until(lambda: "session.update" in fake_realtime.received_types())
    await asyncio.sleep(1.0)  # nobody speaks
    live.stop()
    await running
    streamed = sum(fake_realtime.appended_sizes())
    assert 0.5 * 32_000 <= streamed <= 3 * 32_000  # about a second of 16 kHz PCM16 silence


async def test_a_spent_day_ends_the_session(client: RealtimeClient, store: SqliteStore,
                                            player: Player) -> None:
    await store.talk.spend("g1", utc_today(), 59.9)
    chosen = TalkSettings(enabled=True, minutes_per_day=1)
    assert await session(client, store, player, chosen, spend_every=0.2).run() == "budget"
    await store.talk.spend("g1", utc_today(), 1.0)
    assert await session(client, store, player, chosen).run() == "budget"  # not even opened


async def test_a_quiet_channel_ends_the_session(client: RealtimeClient, store: SqliteStore,
                                                player: Player) -> None:
    quiet = TalkSettings(enabled=True, idle_minutes=0)
    async with asyncio.timeout(20):
        assert await session(client, store, player, quiet).run() == "idle"


async def test_an_upstream_failure_ends_the_session_with_its_error(
        client: RealtimeClient, store: SqliteStore, player: Player,
        fake_realtime: FakeRealtime) -> None:
    fake_realtime.drop_after_audio_deltas = 2
    live = session(client, store, player)
    running = asyncio.create_task(live.run())
    await until(lambda: "session.update" in fake_realtime.received_types())
    await speak(live, "7", 1.0)
    with pytest.raises(UpstreamError):
        async with asyncio.timeout(20):
            await running
    assert await store.talk.used("g1", utc_today()) > 0  # the time it ran is still counted


async def test_a_member_forgotten_while_answered_is_not_kept(
        client: RealtimeClient, store: SqliteStore, player: Player,
        fake_realtime: FakeRealtime) -> None:
    fake_realtime.answer_seconds, fake_realtime.delta_interval = 2.0, 0.05
    live = session(client, store, player)
    running = asyncio.create_task(live.run())
    await until(lambda: "session.update" in fake_realtime.received_types())
    await speak(live, "7", 1.0)
    await until(lambda: live.answering)
    await store.forget_member("7")
    await until(lambda: "response.done" in fake_realtime.sent_types())
    await asyncio.sleep(0.5)
    live.stop()
    await running
    assert await store.history(voice_scope("42")) == []
    assert live.stats.turns_kept == 0


async def test_sessions_in_two_servers_at_once_keep_their_own_turns_and_time(
        client: RealtimeClient, store: SqliteStore, fake_realtime: FakeRealtime) -> None:
    players = [Player(), Player()]
    places = [Place(guild_id="g1", channel_id="41"), Place(guild_id="g2", channel_id="42")]
    lives = [LiveTalk(client, store, place, SessionOptions(model="qwen3-omni-flash-realtime",
                                                           voice="Cherry"), TALKING, player)
             for place, player in zip(places, players, strict=True)]
    try:
        runs = [asyncio.create_task(live.run()) for live in lives]
        await until(lambda: fake_realtime.received_types().count("session.update") == 2)
        await asyncio.gather(speak(lives[0], "7", 1.0), speak(lives[1], "8", 1.0))
        await until(lambda: all(live.stats.turns_kept == 1 for live in lives))
        for live in lives:
            live.stop()
        assert await asyncio.gather(*runs) == ["stopped", "stopped"]
    finally:
        for player in players:
            player.close()
    [first] = await store.history(voice_scope("41"))
    [second] = await store.history(voice_scope("42"))
    assert (first.speaker_id, second.speaker_id) == ("7", "8")
    assert await store.talk.used("g1", utc_today()) > 0
    assert await store.talk.used("g2", utc_today()) > 0


async def test_a_monthly_budget_spent_mid_session_ends_it(client: RealtimeClient,
                                                          store: SqliteStore,
                                                          player: Player) -> None:
    from omnicord.policy.budgets import Budgets
    from omnicord.store.records import UsageRow

    budgets = Budgets(store, {}, bot_tokens=1_000)
    live = session(client, store, player, spend_every=0.2)
    live.check_budget = functools.partial(budgets.check, "g1")
    running = asyncio.create_task(live.run())
    await asyncio.sleep(0.5)
    assert not running.done()  # under budget: the session goes on
    # Another process's replies spend the month's budget meanwhile.
    await store.add_usage(UsageRow(user_id="9", model="qwen3-omni-flash", prompt_tokens=900,
                                   completion_tokens=200, guild_id="g2"))
    assert await asyncio.wait_for(running, 5) == "monthly budget"
