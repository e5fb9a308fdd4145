"""One voice channel's live talk: members' voices in, Omnicord's spoken answer out.

``LiveTalk`` is the core of a talk session, with nothing of Discord in it. The Discord side
hands it each member's Opus packets (``hear``) and gives it a ``LiveOutput`` to play answers,
stop them, and post captions. Inside, packets are decoded per member and mixed to 16 kHz mono
(``omnicord.voice``), streamed to the realtime model session, and the session's events drive
everything else:

- the server's voice activity detection decides when a member's turn ends; the answer's audio
  becomes Opus packets (``AnswerAudio``) the Discord side plays;
- a member who starts speaking while Omnicord answers stops it at once (barge-in): playback is
  cleared and the response cancelled;
- each exchange is kept as a turn of the channel's ``voice:`` scope (what the member said,
  what Omnicord answered) with its usage, under the same erasure rules as any turn; the audio
  itself is never kept;
- talk time is added to the server's day in the store as it goes; a spent budget, a quiet
  channel (``idle_minutes``) or ``stop`` ends the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from omnicord.live.rules import SPEND_EVERY_SECONDS, seconds_left, voice_scope
from omnicord.policy.budgets import OverBudget
from omnicord.realtime.client import RealtimeClient, RealtimeSession, SessionOptions
from omnicord.realtime.events import (
    AnswerDone,
    AnswerStarted,
    AudioDelta,
    InputTranscript,
    RealtimeEvent,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
)
from omnicord.store.interface import Store
from omnicord.store.records import TalkSettings, Turn, UsageRow, utc_now, utc_today
from omnicord.voice.codec import OpusDecoder
from omnicord.voice.mixer import Mixer
from omnicord.voice.playback import AnswerAudio

log = logging.getLogger("omnicord.live")

#: How often mixed audio goes to the model: small enough to add little delay, large enough
#: not to send a message per packet.
PUMP_SECONDS = 0.04
#: The model hears PCM16 mono at this rate.
INPUT_RATE = 16_000
#: How far before the VAD's speech start members' audio counts towards who spoke.
_ATTRIBUTION_SLACK = 1.0
#: Who was heard, per pump window, kept for attribution (about 40 s).
_HEARD_WINDOWS = 1000
#: Members whose packets stop for this long are forgotten (their decoder freed).
_SPEAKER_GONE_SECONDS = 30.0


@dataclass(frozen=True)
class Caption:
    """A line for the voice channel's text chat: Omnicord's answer, or a member's words."""

    speaker_id: str  # "" for Omnicord
    text: str
    final: bool
    answer_id: str = ""


class LiveOutput(Protocol):
    """What the Discord side does for a talk session."""

    def play(self, audio: AnswerAudio) -> None:
        """Start playing an answer as its packets arrive."""

    def stop_playing(self) -> None:
        """Stop the answer at once (barge-in)."""

    def caption(self, line: Caption) -> None:
        """Show a caption line soon, without waiting (an answer's line grows as it is
        spoken: the same ``answer_id`` again, ``final`` at its end)."""

    def name_of(self, user_id: str) -> str:
        """A member's display name, for the transcript."""


@dataclass(frozen=True)
class Place:
    """Where a talk session happens."""

    guild_id: str
    channel_id: str


@dataclass
class _Utterance:
    """What the session knows of the member turn under way."""

    since: float  # monotonic: who was heard from then on said it
    began_at: str = field(default_factory=utc_now)
    frames: Counter[str] = field(default_factory=Counter)
    transcript: str = ""

    def speaker(self) -> str:
        return self.frames.most_common(1)[0][0] if self.frames else ""


@dataclass
class TalkStats:
    """Counters for the operator (and the benchmark)."""

    packets_heard: int = 0
    answers: int = 0
    barge_ins: int = 0
    turns_kept: int = 0
    first_audio_at: list[float] = field(default_factory=list)  # monotonic, per answer
    speech_stopped_at: list[float] = field(default_factory=list)


class LiveTalk:
    """A talk session in one voice channel (see the module docstring)."""

    def __init__(self, client: RealtimeClient, store: Store, place: Place,
                 options: SessionOptions, chosen: TalkSettings, output: LiveOutput, *,
                 spend_every: float = SPEND_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 check_budget: Callable[[], Awaitable[None]] | None = None) -> None:
        self.client, self.store, self.place = client, store, place
        self.options, self.chosen, self.output = options, chosen, output
        self.spend_every = spend_every
        self.clock = clock
        self.check_budget = check_budget  # raises OverBudget once the month's budget is spent
        self.stats = TalkStats()
        self._mixer = Mixer()
        self._decoders: dict[str, tuple[OpusDecoder, float]] = {}
        self._session: RealtimeSession | None = None
        self._audio: AnswerAudio | None = None
        self._utterance: _Utterance | None = None
        self._last_turn: _Utterance | None = None
        self._answer_text: list[str] = []
        self._answer_id = ""
        self._stopped = asyncio.Event()
        self._reason = "stopped"
        self._last_voice = self._spent_until = clock()
        self._heard: deque[tuple[float, frozenset[str]]] = deque(maxlen=_HEARD_WINDOWS)

    # ------------------------------------------------------------------ Discord side

    def hear(self, user_id: str, opus: bytes) -> None:
        """One Opus packet of a member allowed to be heard (on the event loop's thread)."""
        now = self.clock()
        entry = self._decoders.get(user_id)
        decoder = entry[0] if entry else OpusDecoder()
        self._decoders[user_id] = (decoder, now)
        self._mixer.add(int(user_id), decoder.decode(opus))
        self.stats.packets_heard += 1

    def stop(self, reason: str = "stopped") -> None:
        """End the session (the first reason given is the one reported)."""
        if not self._stopped.is_set():
            self._reason = reason
            self._stopped.set()

    @property
    def answering(self) -> bool:
        """Whether Omnicord is speaking or about to."""
        return self._audio is not None

    # ------------------------------------------------------------------ the session

    async def run(self) -> str:
        """Talk until stopped, the day's talk time is spent, or the channel goes quiet;
        return why it ended. Upstream errors end it too (raised)."""
        if seconds_left(self.chosen, await self.store.talk.used(self.place.guild_id,
                                                                utc_today())) <= 0:
            return "budget"
        session = await self.client.open(self.options)
        self._session = session
        self._spent_until = self._last_voice = self.clock()
        tasks = [asyncio.create_task(work(), name=f"omnicord-live-{name}")
                 for name, work in (("pump", self._pump), ("events", self._events),
                                    ("budget", self._budget), ("idle", self._idle))]
        stopped = asyncio.create_task(self._stopped.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in (*tasks, stopped):
                task.cancel()
            await asyncio.gather(*tasks, stopped, return_exceptions=True)
            self._finish_answer(cleared=True)
            await session.close()
            await self._spend()
        return self._reason

    async def _pump(self) -> None:
        """Stream the mix to the model in real time, silence included: members' clients stop
        sending when they stop talking, and the server's VAD ends a turn on heard silence."""
        session = self._require_session()
        began, sent = self.clock(), 0
        while True:
            await asyncio.sleep(PUMP_SECONDS)
            self._forget_quiet_speakers()
            pcm = self._mixer.drain()
            self._note_speakers(self._mixer.active_speakers())
            due = int((self.clock() - began) * INPUT_RATE) * 2 - sent
            if len(pcm) < due:
                pcm += bytes(due - len(pcm))
            if pcm:
                await session.append(pcm)
                sent += len(pcm)

    def _note_speakers(self, speakers: set[int]) -> None:
        if speakers:
            self._last_voice = self.clock()
            self._heard.append((self._last_voice, frozenset(str(s) for s in speakers)))

    async def _events(self) -> None:
        session = self._require_session()
        async for event in session.events():
            await self._on(event)

    async def _on(self, event: RealtimeEvent) -> None:
        match event:
            case SpeechStarted():
                await self._speech_started()
            case SpeechStopped():
                self._speech_stopped()
            case InputTranscript(text=text):
                self._input_transcript(text)
            case AnswerStarted(response_id=response_id):
                self._answer_started(response_id)
            case TranscriptDelta(text=text):
                self._answer_text.append(text)
                self.output.caption(Caption(speaker_id="", text="".join(self._answer_text),
                                            final=False, answer_id=self._answer_id))
            case AudioDelta(pcm=pcm):
                self._audio_delta(pcm)
            case AnswerDone():
                await self._answer_done(event)

    async def _speech_started(self) -> None:
        self._utterance = _Utterance(since=self.clock() - _ATTRIBUTION_SLACK)
        self._last_voice = self.clock()
        if self.answering:  # barge-in: the member talks over the answer
            self.stats.barge_ins += 1
            self.output.stop_playing()
            self._finish_answer(cleared=True)
            await self._require_session().cancel()

    def _speech_stopped(self) -> None:
        now = self.clock()
        self.stats.speech_stopped_at.append(now)
        heard = self._utterance or _Utterance(since=now - _ATTRIBUTION_SLACK)
        # The server's VAD reports speech a little after it began: count who was heard from
        # a moment before its start.
        for when, speakers in self._heard:
            if when >= heard.since:
                heard.frames.update(speakers)
        self._last_turn, self._utterance = heard, None

    def _input_transcript(self, text: str) -> None:
        turn = self._last_turn
        if turn is not None:
            turn.transcript = text
        if self.chosen.caption_members and text.strip():
            speaker = turn.speaker() if turn else ""
            self.output.caption(Caption(speaker_id=speaker, text=text, final=True))

    def _answer_started(self, response_id: str) -> None:
        self._answer_text, self._answer_id = [], response_id
        self._audio = AnswerAudio(self._require_session().output_rate)
        self.stats.answers += 1
        self.output.play(self._audio)

    def _audio_delta(self, pcm: bytes) -> None:
        if self._audio is None:
            return  # the tail of a cancelled answer
        if self._audio.packets_sent == 0 and self._audio.buffered_ms == 0:
            self.stats.first_audio_at.append(self.clock())
        self._audio.feed(pcm)

    async def _answer_done(self, event: AnswerDone) -> None:
        self._finish_answer(cleared=False)
        text = event.transcript or "".join(self._answer_text)
        if text.strip():
            self.output.caption(Caption(speaker_id="", text=text, final=True,
                                        answer_id=event.response_id))
        await self._keep(text, event)

    def _finish_answer(self, *, cleared: bool) -> None:
        audio, self._audio = self._audio, None
        if audio is not None:
            audio.clear() if cleared else audio.end()

    async def _keep(self, answer: str, event: AnswerDone) -> None:
        """Keep the exchange as a turn of the channel (never the audio)."""
        heard = self._last_turn
        if heard is None or not (heard.transcript.strip() or answer.strip()):
            return
        speaker = heard.speaker()
        if not speaker:
            return  # nobody Omnicord may hear said it (say, a voice it could not place)
        usage = None
        if event.usage is not None:
            usage = UsageRow(user_id=speaker, model=self.options.model,
                             prompt_tokens=event.usage.input_tokens,
                             completion_tokens=event.usage.output_tokens,
                             guild_id=self.place.guild_id, channel_id=self.place.channel_id,
                             began_at=heard.began_at)
        turn = Turn(speaker_id=speaker, speaker_name=self.output.name_of(speaker),
                    text=heard.transcript, reply_text=answer, model=self.options.model,
                    created_at=heard.began_at)
        kept = await self.store.add_turn(voice_scope(self.place.channel_id), turn, usage)
        self.stats.turns_kept += kept.value == "stored"

    # ------------------------------------------------------------------ limits

    async def _budget(self) -> None:
        while True:
            await asyncio.sleep(self.spend_every)
            used = await self._spend()
            if seconds_left(self.chosen, used) <= 0:
                self.stop("budget")
                return
            if await self._over_monthly_budget():
                self.stop("monthly budget")
                return

    async def _over_monthly_budget(self) -> bool:
        """Whether the server's (or the bot's) monthly budget is spent: checked with the talk
        time, so a session started under budget ends when the month's tokens run out."""
        if self.check_budget is None:
            return False
        try:
            await self.check_budget()
        except OverBudget:
            return True
        return False

    async def _spend(self) -> float:
        now = self.clock()
        elapsed, self._spent_until = now - self._spent_until, now
        return await self.store.talk.spend(self.place.guild_id, utc_today(), elapsed)

    async def _idle(self) -> None:
        limit = self.chosen.idle_minutes * 60.0
        while True:
            await asyncio.sleep(min(5.0, limit / 4 or 1.0))
            if not self.answering and self.clock() - self._last_voice >= limit:
                self.stop("idle")
                return

    def _forget_quiet_speakers(self) -> None:
        now = self.clock()
        for user_id, (_, last) in list(self._decoders.items()):
            if now - last > _SPEAKER_GONE_SECONDS:
                del self._decoders[user_id]

    def _require_session(self) -> RealtimeSession:
        assert self._session is not None, "run() opens the session"
        return self._session

