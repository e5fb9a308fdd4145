"""Live talk benchmark: the latency Omnicord adds to a spoken turn, barge-in, and the event
loop's health with four voice channels talking at once, measured in one run.

    .venv/bin/python bench/voice.py [--turns N] [--barge-ins N] [--seconds S]

The real bot with every cog (simulated gateway, Discord HTTP on a local server), discord.py's
own voice connections to the stand-in voice server (real websocket and UDP, encrypted Opus RTP
both ways) and the realtime stand-in (tests/doubles/fake_realtime/: energy VAD, answers as a
tone in 100 ms deltas, the first after 100 ms, then one every 50 ms). Members speak in real
time: a packet every 20 ms on an absolute schedule, encoded before the run, then five Opus
silence frames as Discord clients send (the stand-in's ``speak`` sends about 20x faster than
real time, which would put the whole utterance in the model's stream at once and measure that
buffering, not the bot). The utterance ends at a syllable's peak, so the VAD's silence window
starts at its last packet. Every time is ``time.monotonic()`` in this one process; a bot
packet's time is its arrival at the stand-in voice server, which runs on the bot's event loop.

Phases, in one world of four servers, each with a voice channel and a member:
1. idle: the bot logged in, no talk session (CPU and loop-lag baseline);
2. latency: one session, ``--turns`` sequential turns (speak, wait for the answer to play out);
   added latency = first answer packet - last member packet - the stand-in's VAD silence
   window - its first-audio delay, split into: VAD (speech_stopped sent - last packet - the
   window: the bot's receive path and 40 ms pump, and the stand-in's 20 ms frames), stand-in
   (its first audio delta - speech_stopped - its delay: its own work), to the bot (the delta
   reaching ``LiveTalk``) and playback (the first answer packet arriving);
3. barge-in: 8 s answers streamed at about real time; ``--barge-ins`` times the member speaks
   again 0.3 s into the answer; barge-in = the answer's last packet - the first packet of the
   new speech (packets before the next ``response.created`` only);
4. idle sessions: four sessions open, nobody speaking (the pumps stream silence);
5. talking: the four members speak in turns in their channels at once for ``--seconds``.
Loop lag: a probe task sleeps 10 ms again and again and records the overshoot, and from
``/proc/thread-self/schedstat`` whether the loop's thread was on a CPU meanwhile, runnable but
waiting for one (the machine's other load), or neither (blocked: another thread holding the
GIL, or a blocking call); garbage collections are timed too. CPU: the process's
(``resource.getrusage``), with the stand-ins' own threads (``fake-realtime``, ``fake-discord``,
``fake-dashscope``: per-thread CPU clocks) apart; the stand-in voice server and this driver run
on the bot's loop (a small share: pre-encoded packets, one seal or open per packet).
Goals: added latency p95 <= 150 ms; barge-in p95 <= 250 ms; loop lag max <= 50 ms while four
channels talk; CPU per talking channel reported.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import os
import resource
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
import nacl.bindings  # noqa: E402
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX  # noqa: E402
from omnicord.cogs.runner import OmnicordBot  # noqa: E402
from omnicord.live.session import LiveTalk  # noqa: E402
from omnicord.voice.codec import OPUS_SILENCE, OpusEncoder  # noqa: E402

from tests.doubles.fake_dashscope import FakeDashScope  # noqa: E402
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord, FakeGateway  # noqa: E402
from tests.doubles.fake_realtime import FakeRealtime  # noqa: E402
from tests.doubles.fake_voice import FakeVoiceServer, VoiceSession  # noqa: E402
from tests.doubles.fake_voice.fixtures import add_voice_channel, set_voice_state  # noqa: E402
from tests.doubles.fake_voice.speech import frames, voiced  # noqa: E402
from tests.doubles.omnicord_bot import make_settings  # noqa: E402

FRAME = 0.02
#: A syllable and a half of ``voiced``: it ends at a syllable's peak, so the stand-in's VAD
#: starts counting its silence window at the last packet (an utterance ending on a syllable's
#: fade is quiet for its last ~50 ms, which would take that off the added latency).
UTTERANCE_SECONDS = 0.44
FIRST_AUDIO_DELAY = 0.1  # the stand-in waits this long before an answer's first audio
DELTA_INTERVAL = 0.05  # then a 100 ms delta every 50 ms: faster than it plays
CHANNELS = 4
FAKE_THREADS = ("fake-realtime", "fake-discord", "fake-dashscope")


# ---------------------------------------------------------------------------- the world


class BenchVoiceServer(FakeVoiceServer):
    """The stand-in voice server, for several voice connections at once: a bot packet is
    opened with the key of the session whose UDP address sent it (the stand-in uses its first
    session's) and kept as its arrival time only (per session, non-silence packets), and a
    member's packet goes to a chosen session (the stand-in's ``rtp``, ``send_raw`` and
    ``announce`` use its latest)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer_at: dict[int, list[float]] = {}  # by the bot's SSRC: non-silence packets
        self.silences: dict[int, int] = {}
        self._chosen: VoiceSession | None = None

    @property
    def session(self) -> VoiceSession:
        return self._chosen or self.sessions[-1]

    @contextlib.contextmanager
    def using(self, session: VoiceSession) -> Iterator[None]:
        """``rtp``, ``send_raw`` and ``announce`` act on ``session`` (set around synchronous
        code, or up to an await whose first step reads ``self.session``)."""
        self._chosen = session
        try:
            yield
        finally:
            self._chosen = None

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        at = time.monotonic()
        if len(data) == 74 and data[:2] == b"\x00\x01":
            super()._datagram(data, addr)
            return
        session = next((s for s in self.sessions
                        if s.client_address == addr and s.secret_key), None)
        opus = None if session is None else self._open(session, data)
        if session is None or opus is None:
            self.undecryptable += 1
        elif opus == OPUS_SILENCE:
            self.silences[session.ssrc] = self.silences.get(session.ssrc, 0) + 1
        else:
            self.answer_at.setdefault(session.ssrc, []).append(at)

    @staticmethod
    def _open(session: VoiceSession, data: bytes) -> bytes | None:
        """The stand-in's ``_bot_packet`` with this session's key: the Opus payload."""
        if len(data) < 12 + 16 + 4:
            return None
        header_size = 12 + 4 * (data[0] & 0x0F) + (4 if data[0] & 0x10 else 0)
        header = data[:header_size]
        try:
            plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                data[header_size:-4], header, data[-4:] + bytes(20), session.secret_key)
        except Exception:
            return None
        if data[0] & 0x10:
            plain = plain[4 * struct.unpack_from(">H", header, header_size - 2)[0]:]
        return plain


@dataclass
class Channel:
    """One server's voice channel with its member, and the bot's talk session there."""

    guild: discord.Guild
    text: discord.TextChannel
    lounge: discord.VoiceChannel
    admin: discord.Member
    member: discord.Member
    session: VoiceSession | None = None
    connection: int = -1  # index of the realtime stand-in's connection
    live: LiveTalk | None = None
    client: Any = None  # the bot's voice client

    @property
    def ssrc(self) -> int:
        assert self.session is not None
        return self.session.ssrc


@dataclass
class World:
    h: DiscordHarness
    fake: FakeDiscord
    voice: BenchVoiceServer
    realtime: FakeRealtime
    bot: OmnicordBot
    channels: list[Channel]


async def until(predicate: Callable[[], bool], timeout: float = 30.0,
                every: float = 0.02) -> None:
    """Wait until ``predicate()`` holds (the stand-ins fill what it reads from other threads
    and signal nothing)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(every)


async def slash(world: World, channel: discord.TextChannel, user: discord.Member,
                command: str, **options: object) -> str:
    """A slash command; waits for the bot's private answer (as tests/cogs/test_talk.py)."""
    token = world.h.slash(channel, user, command, options)["token"]

    def said() -> str:
        sent = [*world.fake.interaction_responses(token), *world.fake.followups(token)]
        return " ".join(str((r.json or {}).get("content") or
                            ((r.json or {}).get("data") or {}).get("content") or "")
                        for r in sent).strip()

    await until(said, timeout=60, every=0.05)
    return said()


async def start_talking(world: World, ch: Channel) -> None:
    """``/omni talk start`` in ``ch``; binds the voice session, realtime connection and
    LiveTalk of it."""
    set_voice_state(world.h, ch.guild, ch.member, ch.lounge)

    def in_lounge() -> bool:
        member = ch.guild.get_member(ch.member.id)
        return bool(member and member.voice and member.voice.channel
                    and member.voice.channel.id == ch.lounge.id)

    await until(in_lounge)  # not settle: a running session keeps the bot busy
    before = len(world.voice.sessions)
    handshakes = len(world.realtime.handshakes)
    answer = await slash(world, ch.text, ch.member, "omni talk start")
    assert "listening" in answer, answer
    await until(lambda: len(world.voice.sessions) > before
                and bool(world.voice.sessions[-1].secret_key)
                and world.voice.sessions[-1].client_address is not None)
    ch.session = world.voice.sessions[-1]
    assert ch.session.identify and ch.session.identify["server_id"] == str(ch.guild.id)
    await until(lambda: len(world.realtime.handshakes) > handshakes)
    ch.connection = len(world.realtime.handshakes) - 1
    cog: Any = world.bot.get_cog("OmnicordTalk")
    running = cog.sessions[ch.guild.id]
    ch.live, ch.client = running.live, running.voice.client
    await until(lambda: "session.updated" in world.realtime.sent_types(ch.connection))


@contextlib.asynccontextmanager
async def running_world(folder: Path) -> Any:
    with FakeDashScope() as dashscope, FakeRealtime(api_key=dashscope.api_key) as realtime:
        fake = FakeDiscord()
        fake.start()
        gateway = FakeGateway(fake)
        bot = OmnicordBot(make_settings(dashscope, folder, OMNICORD_REALTIME_URL=realtime.url))
        try:
            async with BenchVoiceServer() as voice:
                gateway.voice = voice
                async with DiscordHarness(bot, fake=fake, gateway=gateway) as h:
                    h.ignored_task_prefixes += [CLEANUP_TASK_PREFIX, "omnicord-talk",
                                                "omnicord-live", "omnicord-voice", "bench-"]
                    channels = []
                    for index in range(1, CHANNELS + 1):
                        guild = h.add_guild(f"Talk {index}", channels=("general",))
                        channels.append(Channel(
                            guild, guild.text_channels[0], add_voice_channel(h, guild),
                            h.add_member(guild, f"ada{index}", manage_guild=True),
                            h.add_member(guild, f"bo{index}")))
                    world = World(h, fake, voice, realtime, bot, channels)
                    for ch in channels:
                        await slash(world, ch.text, ch.admin, "omni-admin talk", enabled=True,
                                    caption_members=True)
                    yield world
                    with contextlib.suppress(Exception):
                        await bot.unload_extension("omnicord.cogs.talk")
        finally:
            fake.stop()


# ---------------------------------------------------------------------------- members


def utterance() -> list[bytes]:
    """A member's utterance as Opus packets, encoded once before the run."""
    encoder = OpusEncoder()
    return [encoder.encode(frame) for frame in frames(voiced(UTTERANCE_SECONDS))]


#: What a Discord client sends after speech: five Opus silence frames.
TRAILING_SILENCE = 5


async def say(world: World, ch: Channel, packets: list[bytes]) -> tuple[float, float]:
    """``ch``'s member says ``packets`` in real time (SPEAKING, then a packet every 20 ms on
    an absolute schedule, then five frames of Opus silence as Discord clients do: without
    them the member's decoder would carry the abrupt end into the next utterance's first
    frame); the send moments of the first and the last packet of speech."""
    assert ch.session is not None
    ssrc = 20_000 + ch.member.id % 10_000
    with world.voice.using(ch.session):
        announced = world.voice.announce(ch.member.id, ssrc)
        await announced  # reads self.session before its first await
    await asyncio.sleep(0.05)  # the websocket message before the first datagram
    start = time.monotonic()
    first = last = start
    for index, opus in enumerate([*packets, *[OPUS_SILENCE] * TRAILING_SILENCE]):
        delay = start + index * FRAME - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        with world.voice.using(ch.session):
            world.voice.send_raw(world.voice.rtp(ssrc, opus))
        if index == 0:
            first = time.monotonic()
        if index == len(packets) - 1:
            last = time.monotonic()
    return first, last


def answer_packets(world: World, ch: Channel, after: float, before: float = float("inf")
                   ) -> list[float]:
    """Arrival times of the bot's non-silence packets in ``ch`` within (after, before)."""
    times = world.voice.answer_at.get(ch.ssrc, [])
    return times[bisect.bisect_right(times, after):bisect.bisect_left(times, before)]


async def wait_answer_finished(world: World, ch: Channel, after: float,
                               timeout: float = 20.0) -> None:
    """Until the answer to an utterance ending at ``after`` has played out."""
    assert ch.live is not None

    def finished() -> bool:
        played = answer_packets(world, ch, after)
        return (bool(played) and time.monotonic() - played[-1] > 0.15
                and not ch.live.answering and not ch.client.is_playing())  # type: ignore[union-attr]

    await until(finished, timeout=timeout)


# ---------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Lag:
    at: float
    late: float  # how late the wake-up was
    running: float  # the loop's thread on a CPU during the sleep (schedstat)
    queued: float  # the loop's thread runnable but waiting for a CPU (schedstat)


class LagProbe:
    """Sleeps 10 ms again and again on the loop; records how late each wake-up was, and what
    the loop's thread did meanwhile (``/proc/thread-self/schedstat``: time on a CPU, time
    runnable but waiting for one): a late wake-up with the thread mostly queued is the
    machine's other load, mostly running is work on the loop, neither is the thread blocked
    (the GIL held by another thread, or a blocking call)."""

    def __init__(self) -> None:
        self.samples: list[Lag] = []
        self.gc_pauses: list[tuple[float, float]] = []  # (end, seconds)
        self._gc_start = 0.0

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.monotonic()
        else:
            now = time.monotonic()
            self.gc_pauses.append((now, now - self._gc_start))

    async def run(self) -> None:
        gc.callbacks.append(self._on_gc)
        stat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        try:
            running, queued = _schedstat(stat)
            while True:
                start = time.monotonic()
                await asyncio.sleep(0.01)
                end = time.monotonic()
                now_running, now_queued = _schedstat(stat)
                self.samples.append(Lag(end, end - start - 0.01, now_running - running,
                                        now_queued - queued))
                running, queued = now_running, now_queued
        finally:
            os.close(stat)
            gc.callbacks.remove(self._on_gc)

    def between(self, start: float, end: float) -> list[Lag]:
        return [lag for lag in self.samples if start <= lag.at <= end]

    def gc_between(self, start: float, end: float) -> list[float]:
        return [pause for at, pause in self.gc_pauses if start <= at <= end]


def _schedstat(fd: int) -> tuple[float, float]:
    on_cpu, waiting, _ = os.pread(fd, 128, 0).split()
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def thread_cpu() -> dict[str, float]:
    """CPU seconds of the stand-ins' long-lived threads, by name."""
    spent: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.name in FAKE_THREADS and thread.ident is not None:
            with contextlib.suppress(OSError):
                clock = time.pthread_getcpuclockid(thread.ident)
                spent[thread.name] = spent.get(thread.name, 0.0) + time.clock_gettime(clock)
    return spent


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    name: str
    probe: LagProbe
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    fakes: float = 0.0
    _cpu0: float = 0.0
    _fakes0: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Phase:
        self.start, self._cpu0, self._fakes0 = time.monotonic(), process_cpu(), thread_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end = time.monotonic()
        self.cpu = process_cpu() - self._cpu0
        now = thread_cpu()
        self.fakes = sum(now[name] - self._fakes0.get(name, 0.0) for name in now)

    @property
    def wall(self) -> float:
        return self.end - self.start

    def share(self, seconds: float) -> float:
        """CPU seconds as a share of one core over the phase."""
        return seconds / self.wall

    def lags(self) -> list[float]:
        return [lag.late for lag in self.probe.between(self.start, self.end)]

    def stalls(self, over: float = 0.05) -> list[Lag]:
        return [lag for lag in self.probe.between(self.start, self.end) if lag.late > over]

    def gc_max(self) -> float:
        return max(self.probe.gc_between(self.start, self.end), default=0.0)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def events_of(world: World, connection: int) -> list[dict[str, Any]]:
    return [e for e in list(world.realtime.sent) if e["_connection"] == connection]


def first_event(events: list[dict[str, Any]], kind: str, after: float) -> float | None:
    return next((e["_at"] for e in events if e["type"] == kind and e["_at"] > after), None)


@dataclass
class TurnTimes:
    last_packet: float
    first_answer: float
    speech_stopped: float
    first_delta: float
    bot_first_audio: float


def turn_times(world: World, ch: Channel, events: list[dict[str, Any]], last_packet: float
               ) -> TurnTimes:
    assert ch.live is not None
    stopped = first_event(events, "input_audio_buffer.speech_stopped", last_packet)
    assert stopped is not None, "no speech_stopped after the utterance"
    delta = first_event(events, "response.audio.delta", stopped)
    assert delta is not None, "no audio delta after speech_stopped"
    bot_audio = next(t for t in ch.live.stats.first_audio_at if t > delta)
    first_answer = answer_packets(world, ch, last_packet)[0]
    return TurnTimes(last_packet, first_answer, stopped, delta, bot_audio)


def stalled_turns(probe: LagProbe, ends: list[float], added: list[float], silence: float
                  ) -> list[bool]:
    """Whether a loop stall over 50 ms ended between a turn's last packet and its answer."""
    return [any(lag.late > 0.05 for lag in
                probe.between(end, end + silence + FIRST_AUDIO_DELAY + value))
            for end, value in zip(ends, added, strict=True)]


# ---------------------------------------------------------------------------- phases


async def latency_turns(world: World, ch: Channel, packets: list[bytes], turns: int,
                        deadline: float = float("inf")) -> list[float]:
    """Sequential turns in ``ch``: the last member packet of each."""
    ends = []
    for _ in range(turns):
        if time.monotonic() >= deadline:
            break
        _, last = await say(world, ch, packets)
        ends.append(last)
        await wait_answer_finished(world, ch, last)
        await asyncio.sleep(0.1)
    return ends


async def barge_ins(world: World, ch: Channel, packets: list[bytes], trials: int
                    ) -> list[float]:
    """Each trial talks over an 8 s answer 0.3 s into it; the first packet of each."""
    realtime = world.realtime
    realtime.answer_seconds, realtime.delta_interval = 8.0, 0.08
    _, last = await say(world, ch, packets)
    firsts = []
    for trial in range(trials):
        await until(lambda since=last: len(answer_packets(world, ch, since)) >= 15, timeout=20)
        if trial == trials - 1:  # the answer to the last one plays out quickly
            realtime.answer_seconds, realtime.delta_interval = 1.0, DELTA_INTERVAL
        first, last = await say(world, ch, packets)
        firsts.append(first)
    await wait_answer_finished(world, ch, last)
    return firsts


def added_latency(world: World, ch: Channel, ends: list[float]) -> tuple[list[float],
                                                                           dict[str, list[float]]]:
    silence = world.realtime.vad_silence_ms / 1000
    events = events_of(world, ch.connection)
    added: list[float] = []
    parts: dict[str, list[float]] = {"vad": [], "model": [], "to bot": [], "playback": []}
    for end in ends:
        t = turn_times(world, ch, events, end)
        added.append(t.first_answer - t.last_packet - silence - FIRST_AUDIO_DELAY)
        parts["vad"].append(t.speech_stopped - t.last_packet - silence)
        parts["model"].append(t.first_delta - t.speech_stopped - FIRST_AUDIO_DELAY)
        parts["to bot"].append(t.bot_first_audio - t.first_delta)
        parts["playback"].append(t.first_answer - t.bot_first_audio)
    return added, parts


def barge_in_times(world: World, ch: Channel, firsts: list[float]
                   ) -> tuple[list[float], list[float], list[float]]:
    events = events_of(world, ch.connection)
    total, detect, after_started = [], [], []
    for first in firsts:
        started = first_event(events, "input_audio_buffer.speech_started", first)
        created = first_event(events, "response.created", first)
        assert started is not None
        played = answer_packets(world, ch, 0.0, created or float("inf"))
        total.append(played[-1] - first)
        detect.append(started - first)
        after_started.append(played[-1] - started)
    return total, detect, after_started


async def main_async(turns: int, trials: int, seconds: float) -> None:
    packets = utterance()
    probe = LagProbe()
    probe_task = asyncio.create_task(probe.run(), name="bench-lag-probe")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        async with running_world(Path(folder)) as world:
            realtime = world.realtime
            realtime.first_audio_delay, realtime.delta_interval = FIRST_AUDIO_DELAY, DELTA_INTERVAL
            realtime.answer_seconds = 1.0
            await asyncio.sleep(1.0)
            with Phase("idle, no session", probe) as idle:
                await asyncio.sleep(5.0)

            one = world.channels[0]
            await start_talking(world, one)
            await asyncio.sleep(0.5)
            with Phase("latency: 1 channel, sequential turns", probe) as single:
                ends = await latency_turns(world, one, packets, turns)
            added, parts = added_latency(world, one, ends)
            with Phase("barge-in: 1 channel", probe) as barging:
                firsts = await barge_ins(world, one, packets, trials)
            barge, detect, after_started = barge_in_times(world, one, firsts)

            for ch in world.channels[1:]:
                await start_talking(world, ch)
            await asyncio.sleep(1.0)
            with Phase("idle: 4 sessions, nobody speaking", probe) as quiet:
                await asyncio.sleep(5.0)
            realtime.answer_seconds, realtime.delta_interval = 1.0, DELTA_INTERVAL
            with Phase(f"talking: {CHANNELS} channels at once", probe) as talking:
                deadline = time.monotonic() + seconds

                async def channel_turns(index: int, ch: Channel) -> list[float]:
                    await asyncio.sleep(0.35 * index)  # not in step
                    return await latency_turns(world, ch, packets, 1000, deadline)

                per_channel = await asyncio.gather(*(
                    channel_turns(i, ch) for i, ch in enumerate(world.channels)))
            loaded: list[float] = []
            loaded_parts: dict[str, list[float]] = {}
            for ch, ends4 in zip(world.channels, per_channel, strict=True):
                values, split = added_latency(world, ch, ends4)
                loaded += values
                for name, part in split.items():
                    loaded_parts.setdefault(name, []).extend(part)
            silence = realtime.vad_silence_ms / 1000
            hit = stalled_turns(probe, ends, added, silence)
            loaded_hit = stalled_turns(probe, [e for ends4 in per_channel for e in ends4],
                                       loaded, silence)
            handshakes, undecryptable = len(realtime.handshakes), world.voice.undecryptable
            cancels = len(realtime.received_of("response.cancel"))
            silence_ms = realtime.vad_silence_ms
    probe_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await probe_task
    load_after = os.getloadavg()

    print(f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"{os.cpu_count()} CPUs; stand-in VAD silence {silence_ms} ms, first-audio delay "
          f"{ms(FIRST_AUDIO_DELAY)} ms; utterances {UTTERANCE_SECONDS} s spoken in real time")
    print(f"realtime connections {handshakes}, bot packets not opened {undecryptable}, "
          f"response.cancel sent {cancels} (barge-in trials {len(firsts)})")
    print()
    print("| measure | n | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")

    def row(name: str, values: list[float]) -> None:
        print(f"| {name} | {len(values)} | {ms(pct(values, 0.5))} | {ms(pct(values, 0.95))} | "
              f"{ms(max(values))} |")

    row("added latency, 1 channel", added)
    row("- VAD: speech_stopped - last packet - silence window", parts["vad"])
    row("- stand-in: first audio delta - speech_stopped - first-audio delay", parts["model"])
    row("- to the bot: first delta in LiveTalk - delta sent", parts["to bot"])
    row("- playback: first answer packet - first delta in LiveTalk", parts["playback"])
    row("added latency less the stand-in's own time, 1 channel",
        [a - m for a, m in zip(added, parts["model"], strict=True)])
    row("added latency, 4 channels talking", loaded)
    for name, label in (("vad", "VAD"), ("model", "stand-in"), ("to bot", "to the bot"),
                        ("playback", "playback")):
        row(f"- {label}, 4 channels", loaded_parts[name])
    row("added latency less the stand-in's own time, 4 channels",
        [a - m for a, m in zip(loaded, loaded_parts["model"], strict=True)])
    row("barge-in: last answer packet - first packet of new speech", barge)
    row("- speech_started sent - first packet of new speech", detect)
    row("- last answer packet - speech_started sent", after_started)
    for name, (values, stalled) in (("1 channel", (added, hit)),
                                    ("4 channels", (loaded, loaded_hit))):
        clean = [v for v, s in zip(values, stalled, strict=True) if not s]
        others = (f"p50 {ms(pct(clean, 0.5))} / p95 {ms(pct(clean, 0.95))} ms" if clean
                  else "none")
        print(f"added latency, {name}: {sum(stalled)} of {len(values)} turns had a loop stall "
              f"> 50 ms between the last packet and the answer; the others: {others}")
    print()
    print("| phase | wall s | process CPU % of a core | stand-in threads % | rest % | "
          "loop lag p99 ms | loop lag max ms | stalls > 50 ms | their lateness: loop thread "
          "on a CPU / waiting for a CPU / neither | longest GC ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for phase in (idle, single, barging, quiet, talking):
        lags = phase.lags()
        stalls = phase.stalls()
        late = sum(lag.late for lag in stalls)
        running = sum(min(lag.running, lag.late) for lag in stalls)
        queued = sum(min(lag.queued, lag.late) for lag in stalls)
        split = "-" if not stalls else (
            f"{running / late * 100:.0f}% / {queued / late * 100:.0f}% / "
            f"{max(0.0, 1 - (running + queued) / late) * 100:.0f}%")
        print(f"| {phase.name} | {phase.wall:.1f} | {phase.share(phase.cpu) * 100:.1f} | "
              f"{phase.share(phase.fakes) * 100:.1f} | "
              f"{phase.share(phase.cpu - phase.fakes) * 100:.1f} | {pct(lags, 0.99) * 1000:.1f} | "
              f"{max(lags) * 1000:.1f} | {len(stalls)} | {split} | "
              f"{phase.gc_max() * 1000:.1f} |")

    def rest(phase: Phase) -> float:
        return phase.share(phase.cpu - phase.fakes)

    per_channel_total = (talking.share(talking.cpu) - idle.share(idle.cpu)) / CHANNELS
    per_channel_rest = (rest(talking) - rest(idle)) / CHANNELS
    per_channel_quiet = (rest(quiet) - rest(idle)) / CHANNELS
    print()
    print(f"CPU per talking channel (talking - idle without sessions, / {CHANNELS}): "
          f"{per_channel_total * 100:.1f}% of a core with the stand-ins, "
          f"{per_channel_rest * 100:.1f}% without their threads; an open silent session: "
          f"{per_channel_quiet * 100:.1f}%")
    talk_lag = max(talking.lags())
    print()
    verdict = {True: "met", False: "not met"}
    print(f"goal added latency p95 <= 150 ms: {ms(pct(added, 0.95))} ms -> "
          f"{verdict[pct(added, 0.95) <= 0.150]}")
    print(f"goal barge-in p95 <= 250 ms: {ms(pct(barge, 0.95))} ms -> "
          f"{verdict[pct(barge, 0.95) <= 0.250]}")
    print(f"goal loop lag max <= 50 ms with {CHANNELS} channels talking: {talk_lag * 1000:.1f} ms "
          f"-> {verdict[talk_lag <= 0.050]}")
    print(f"CPU per talking channel: {per_channel_total * 100:.1f}% of a core (reported)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=22, help="sequential turns, 1 channel")
    parser.add_argument("--barge-ins", type=int, default=12, help="barge-in trials")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long the four channels talk at once")
    args = parser.parse_args()
    asyncio.run(main_async(args.turns, args.barge_ins, args.seconds))


if __name__ == "__main__":
    main()
