"""Transcripts: the words of a recording, verbatim, through the chat model in text only.

Qwen3-Omni-Captioner describes sound and cannot be steered; the Qwen-Omni chat models write
down speech in many languages and dialects when asked. So a transcript is made of chat
requests, one per part of the recording (each within the model's audio limit, cut by
``prepare_media`` with the ``transcript`` purpose): text output only, no voice, no history,
one user message holding the audio and the transcription instruction. Parts are joined in
order, each labelled with its time range. A recording without speech is not transcribed: a
part ffmpeg finds silent is not sent at all, the instruction asks for a fixed marker for any
other part without speech, and a recording of nothing but such parts becomes one line.

What a transcript may spend is an ``Allowance``: asked before every request (the member's
daily cap), told each request's usage as it completes. When it refuses mid-way, the transcript
ends there with one line saying how many parts were done and why; the parts already written
stay.

Translation is a second text-only request per part, over the transcript's text (the
instruction as the system message, the transcript as the user's): the transcript stays
verbatim (one request asked for both tends to blend them), the audio is not sent or paid for
twice, each reply stays within the model's output limit, and a part already in the target
language answers a marker instead of a copy of itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from omnicord.i18n import DEFAULT_LANGUAGE, t, text
from omnicord.media.durations import clock
from omnicord.media.silence import is_silent
from omnicord.media.types import PreparedMedia, PreparedPart
from omnicord.model.catalog import find_model
from omnicord.model.events import Finished, TextDelta, Usage, add_usage
from omnicord.model.omni import OmniClient
from omnicord.model.parts import Part, text_part
from omnicord.model.rules import ChatRequest
from omnicord.policy.usage import OverDailyCap

NO_SPEECH = "<<NO_SPEECH>>"
SAME_LANGUAGE = "<<SAME_LANGUAGE>>"
NO_SPEECH_LINE = str(text("captions.no_speech_line"))
#: Characters of a reply held back while it may still turn out to be a marker.
MARKER_WINDOW = 40

TRANSCRIBE_INSTRUCTION = (
    "Transcribe the speech in this audio verbatim, in the language or dialect in which it is "
    "spoken: write down exactly the words said, with punctuation. Do not translate, summarise, "
    "correct or comment, and do not describe voices, music or other sounds. When the speaker "
    "changes, start a new line. If the audio holds no speech at all, answer with exactly "
    f'"{NO_SPEECH}" and nothing else.'
)

#: Receives the transcript's text as it arrives, in the order and spacing of ``plain()``.
TextSink = Callable[[str], Awaitable[None]]


class Allowance(Protocol):
    """What a transcript may spend: asked before each request, told each request's usage."""

    async def check(self) -> None:
        """Raise ``OverDailyCap`` when no more may be spent."""

    async def spend(self, usage: Usage) -> None:
        """Count one finished request's usage."""


def stopped_line(done: int, total: int, why: OverDailyCap, *, translation: bool = False,
                 labels: str = DEFAULT_LANGUAGE) -> str:
    """The line that ends a transcript (or its translation) cut short by the member's cap, in
    the ``labels`` language."""
    reason = (why.text.render(labels) if why.text is not None else str(why)).rstrip(".。")
    if translation and not done:
        return t(labels, "captions.not_translated", why=reason)
    key = "captions.translation_stopped_after" if translation else "captions.stopped_after"
    return t(labels, key, done=done, total=total, why=reason)


def translate_instruction(language: str) -> str:
    """The system message of a translation request."""
    return (
        f"Translate the user's message into {language}. It is a transcript of speech: keep "
        "its meaning, tone and line breaks, and write only the translation, with no notes. "
        f'If it is already entirely in {language}, answer with exactly "{SAME_LANGUAGE}".'
    )


def transcript_request(model_name: str, audio: Part) -> ChatRequest:
    """One part's transcription: text only, no voice, no history."""
    message = {"role": "user", "content": [audio, text_part(TRANSCRIBE_INSTRUCTION)]}
    return ChatRequest(model=model_name, messages=[message])


def translation_request(model_name: str, language: str, text: str) -> ChatRequest:
    """One part's translation: text in, text out, no history."""
    return ChatRequest(model=model_name, messages=[
        {"role": "system", "content": [text_part(translate_instruction(language))]},
        {"role": "user", "content": [text_part(text)]},
    ])


def is_marker(text: str, marker: str) -> bool:
    """Whether a reply is ``marker`` (or opens with it), however the model dressed it."""
    def letters(value: str) -> str:
        return re.sub(r"[^A-Z]", "", value.upper())

    text = text.strip()
    if text.startswith(marker):
        return True
    return len(text) <= MARKER_WINDOW and letters(text) == letters(marker)


def time_range(part: PreparedPart) -> str:
    """``[0:00–3:00] ``: where a part lies in the recording."""
    return f"[{clock(part.start or 0)}–{clock(part.end or 0)}] "


@dataclass(frozen=True)
class TranscriptPart:
    """One request's worth of a recording, written down."""

    span: str  # "[0:00–3:00] " in a recording of several parts, else ""
    text: str  # the words, "" when there was no speech
    translation: str = ""  # "" when not translated, or already in the language

    @property
    def speech(self) -> bool:
        """Whether anything was said in this part."""
        return bool(self.text)


@dataclass(frozen=True)
class Transcription:
    """A recording's transcript, its translation if one was asked for, and what it cost."""

    model: str
    parts: tuple[TranscriptPart, ...]
    language: str | None = None  # the translation's language
    usage: Usage | None = None
    notices: tuple[str, ...] = ()
    stopped: str = ""  # why it ends early ('' when whole): shown last
    labels: str = DEFAULT_LANGUAGE  # the language of Omnicord's own words in it

    @property
    def speech(self) -> bool:
        """Whether anything was said in the recording."""
        return any(part.speech for part in self.parts)

    @property
    def text(self) -> str:
        """The transcript, part after part (one line when nothing was said in any part)."""
        if not self.speech and not self.stopped:
            return t(self.labels, "captions.no_speech_line")
        silent = t(self.labels, "captions.no_speech_part")
        return "\n\n".join(f"{p.span}{p.text or silent}" for p in self.parts)

    @property
    def translation(self) -> str:
        """The translated parts ('' when there is no translation to show)."""
        return "\n\n".join(f"{p.span}{p.translation}" for p in self.parts if p.translation)

    def translation_heading(self) -> str:
        """``Translation (French):``, in the ``labels`` language."""
        return t(self.labels, "captions.translation_heading", language=self.language) + ":"

    def plain(self) -> str:
        """The transcript, then its translation under it, then why it stopped early if it did:
        what the command line prints."""
        blocks = [self.text]
        if self.translation:
            blocks.append(f"{self.translation_heading()}\n{self.translation}")
        return "\n\n".join([*blocks, *filter(None, [self.stopped])])


class _Held:
    """A reply's text as it streams: held back while it may still be a marker, trimmed at
    both ends as the finished text will be."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.text = ""
        self.released = 0

    def feed(self, delta: str) -> str:
        """Add a piece; return the text that may be shown now (possibly empty)."""
        self.text += delta
        shown = self.text.strip()
        if not self.released and (len(shown) < MARKER_WINDOW or is_marker(shown, self.marker)):
            return ""
        piece, self.released = shown[self.released:], len(shown)
        return piece

    def finish(self) -> tuple[str, str]:
        """The finished text ('' for the marker) and what of it is still to be shown."""
        text = self.text.strip()
        if is_marker(text, self.marker):
            return "", ""
        return text, text[self.released:]


class _Blocks:
    """Writes blank-line-separated blocks to a sink as they are released."""

    def __init__(self, sink: TextSink | None) -> None:
        self.sink = sink
        self.count = 0

    async def start(self, opening: str) -> None:
        """Begin a block with ``opening`` (a time range, a heading, or a whole line)."""
        await self.write(("\n\n" if self.count else "") + opening)
        self.count += 1

    async def write(self, text: str) -> None:
        """More of the current block."""
        if self.sink is not None and text:
            await self.sink(text)


class Transcriber:
    """Transcribes prepared recordings (and translates them) with one chat model."""

    def __init__(self, client: OmniClient, model_name: str, *,
                 labels: str = DEFAULT_LANGUAGE) -> None:
        self.client = client
        self.model_name = model_name
        self.labels = labels  # the language of Omnicord's own words (headings, notes)

    async def transcribe(
        self, media: PreparedMedia, *, language: str | None = None,
        on_text: TextSink | None = None, allowance: Allowance | None = None,
    ) -> Transcription:
        """The transcript of every part of ``media``, translated into ``language`` when given;
        ``on_text`` receives it as it arrives. ``allowance`` is asked before every request;
        if it refuses before the first, ``OverDailyCap`` is raised and nothing is written."""
        run = _Run(self, _Blocks(on_text), allowance)
        parts, stopped = await run.transcribe_all(media.parts)
        await run.end_transcript(parts, stopped)
        if language and not stopped and any(part.speech for part in parts):
            stopped = await run.translate_all(parts, language)
        return Transcription(self.model_name, tuple(parts), language, run.usage, media.notices,
                             stopped, self.labels)


class _Silences:
    """Whether each part of a recording is silent, measured one part ahead, so a part's check
    runs while the part before it is transcribed (or checked)."""

    def __init__(self, parts: tuple[PreparedPart, ...]) -> None:
        self.parts = parts
        self.checks: dict[int, asyncio.Task[bool]] = {}

    async def get(self, index: int) -> bool:
        """Whether part ``index`` is silent."""
        for ahead in (index, index + 1):
            if ahead < len(self.parts) and ahead not in self.checks:
                self.checks[ahead] = asyncio.ensure_future(is_silent(self.parts[ahead]))
        return await self.checks.pop(index)

    async def close(self) -> None:
        """Stop the check still running ahead (its ffmpeg is killed)."""
        for check in self.checks.values():
            check.cancel()
        await asyncio.gather(*self.checks.values(), return_exceptions=True)


class _Run:
    """One transcription under way: its output layout and the usage it has cost so far."""

    def __init__(self, transcriber: Transcriber, blocks: _Blocks,
                 allowance: Allowance | None) -> None:
        self.client = transcriber.client
        self.model_name = transcriber.model_name
        self.labels = transcriber.labels
        self.blocks = blocks
        self.allowance = allowance
        self.usage: Usage | None = None
        self.silent: list[str] = []  # blocks of silent parts, shown once speech follows

    async def transcribe_all(
        self, parts: tuple[PreparedPart, ...]
    ) -> tuple[list[TranscriptPart], str]:
        """Each part written down in order, and why they stopped early ('' if they did not)."""
        done: list[TranscriptPart] = []
        silences = _Silences(parts)
        try:
            for index, part in enumerate(parts):
                silent = await silences.get(index)
                done.append(await self.transcribe(part, multi=len(parts) > 1, silent=silent))
        except OverDailyCap as over:
            if not done:
                raise
            return done, stopped_line(len(done), len(parts), over, labels=self.labels)
        finally:
            await silences.close()
        return done, ""

    async def transcribe(self, part: PreparedPart, *, multi: bool,
                         silent: bool = False) -> TranscriptPart:
        """One part's words ('' when it holds no speech; no request when ``silent``)."""
        span = time_range(part) if multi else ""
        if silent:
            self.silent.append(f"{span}{t(self.labels, 'captions.no_speech_part')}")
            return TranscriptPart(span, "")

        async def opening() -> None:
            for block in self.silent:
                await self.blocks.start(block)
            self.silent.clear()
            await self.blocks.start(span)

        text = await self._reply(transcript_request(self.model_name, part.part), NO_SPEECH,
                                 opening)
        if not text:
            self.silent.append(f"{span}{t(self.labels, 'captions.no_speech_part')}")
        return TranscriptPart(span, text)

    async def end_transcript(self, parts: list[TranscriptPart], stopped: str) -> None:
        """Close the transcript: one line if nothing was said, else the silent parts left (and
        the line saying why it stopped early)."""
        if not stopped and not any(part.speech for part in parts):
            await self.blocks.start(t(self.labels, "captions.no_speech_line"))
            return
        for block in [*self.silent, *filter(None, [stopped])]:
            await self.blocks.start(block)

    async def translate_all(self, parts: list[TranscriptPart], language: str) -> str:
        """Translate the parts with speech in place; why it stopped early ('' if it did not)."""
        heading = t(self.labels, "captions.translation_heading", language=language) + ":\n"
        spoken = [index for index, part in enumerate(parts) if part.speech]
        for done, index in enumerate(spoken):
            try:
                parts[index], heading = await self.translate(parts[index], language, heading)
            except OverDailyCap as over:
                line = stopped_line(done, len(spoken), over, translation=True,
                                    labels=self.labels)
                await self.blocks.start(line)
                return line
        return ""

    async def translate(
        self, part: TranscriptPart, language: str, heading: str
    ) -> tuple[TranscriptPart, str]:
        """The part with its translation, and the heading still to show ('' once shown)."""
        shown = heading

        async def opening() -> None:
            nonlocal shown
            await self.blocks.start(f"{shown}{part.span}")
            shown = ""

        request = translation_request(self.model_name, language, part.text)
        translated = await self._reply(request, SAME_LANGUAGE, opening)
        return replace(part, translation=translated), shown

    async def _reply(
        self, request: ChatRequest, marker: str, opening: Callable[[], Awaitable[None]]
    ) -> str:
        """A reply's text ('' for the marker), shown as it arrives after ``opening``."""
        if self.allowance is not None:
            await self.allowance.check()
        held = _Held(marker)
        opened = False

        async def show(piece: str) -> None:
            nonlocal opened
            if piece and not opened:
                await opening()
                opened = True
            await self.blocks.write(piece)

        cut, spent = False, None
        async for event in self.client.stream(request):
            if isinstance(event, TextDelta):
                await show(held.feed(event.text))
            elif isinstance(event, Usage):
                spent = add_usage(spent, event)
            elif isinstance(event, Finished):
                cut = event.reason == "length"
        if spent is not None:
            self.usage = add_usage(self.usage, spent)
            if self.allowance is not None:  # counted now, so the next check sees it
                await self.allowance.spend(spent)
        text, rest = held.finish()
        if cut and text:  # say so rather than pass off half a recording as all of it
            note = t(self.labels, "captions.part_cut",
                     limit=find_model(self.model_name).max_output)
            text, rest = text + note, rest + note
        await show(rest)
        return text
