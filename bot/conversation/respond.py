"""Answering a member in a conversation: history in, streamed reply out, turn stored.

``Conversations.respond`` takes one member message (already prepared media), holds the scope's
lock so replies in one conversation come strictly in order, composes the request under the
model's rules and budget, streams the reply to a callback, and stores the turn only when the
reply finished: an error or a cancellation leaves no half turn behind, and a reply already
delivered is stored even if it is cancelled meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TypeVar

from omnicord.conversation.budget import Budget
from omnicord.conversation.compose import (
    DEFAULT_RESEND_MEDIA_TURNS,
    Composition,
    Instructions,
    NewMessage,
    PastTurn,
    compose_request,
)
from omnicord.conversation.reply import Reply
from omnicord.errors import InputError
from omnicord.i18n import text
from omnicord.media.cache import MediaCache
from omnicord.media.types import MediaTarget, PreparedMedia
from omnicord.model.catalog import ModelSpec
from omnicord.model.events import ReplyEvent, TextDelta, Transcript
from omnicord.model.omni import OmniClient
from omnicord.model.rules import ChatRequest
from omnicord.policy.usage import usage_row
from omnicord.pseudonyms import member_tag, reveal, scope_tag
from omnicord.store.interface import ConversationStore
from omnicord.store.records import Kept, Turn, UsageRow, utc_now

log = logging.getLogger("omnicord.reply")
T = TypeVar("T")
EventSink = Callable[[ReplyEvent], Awaitable[None]]
#: Stored turns read back per request; older ones could never fit anyway.
HISTORY_WINDOW = 200
#: Replies one process streams at once (OMNICORD_PROCESS_REPLIES).
DEFAULT_STREAMS = 32
NOT_NEWEST = text("chat.not_newest")


@dataclass(frozen=True)
class ReplyOptions:
    """How to answer: model, voice (None: text only), thinking, persona, group mode."""

    model: ModelSpec
    model_name: str
    voice: str | None = None
    thinking: bool = False
    instructions: Instructions = field(default_factory=Instructions)
    resend_media_turns: int = DEFAULT_RESEND_MEDIA_TURNS


@dataclass(frozen=True)
class Payer:
    """Whom a reply's tokens count against in the usage ledger."""

    user_id: str
    guild_id: str = ""
    channel_id: str = ""


@dataclass(frozen=True)
class Answer:
    """A finished reply and how its request was composed."""

    reply: Reply
    composition: Composition
    turn: Turn
    kept: Kept = Kept.STORED  # what the store made of the turn (erasures may forbid it)
    previous: Turn | None = None  # the conversation's newest turn before this one


class Conversations:
    """History-aware replies over a store, a media cache and an Omni client."""

    def __init__(
        self, store: ConversationStore, client: OmniClient, cache: MediaCache | None = None,
        *, streams: int = DEFAULT_STREAMS,
    ) -> None:
        self.store = store
        self.client = client
        self.cache = cache
        # Each reply in flight holds its stream, audio and delivery buffers: a process carries
        # a bounded number at once, and the rest wait their turn (more capacity = more processes).
        self._streams = asyncio.Semaphore(streams)

    async def respond(
        self,
        scope: str,
        *,
        speaker_id: str,
        new: NewMessage,
        options: ReplyOptions,
        on_event: EventSink | None = None,
        target: MediaTarget | None = None,
        deliver: Callable[[Reply], Awaitable[Sequence[str] | None]] | None = None,
        payer: Payer | None = None,
        stop: asyncio.Event | None = None,
        replaces: str | None = None,
    ) -> Answer:
        """Answer ``new`` in ``scope``; store the turn once the reply has finished.

        Replies in one scope come strictly one after another, across processes too.
        ``deliver`` runs after the stream ends and before the turn is stored: if it fails
        (say, the reply could not be shown), nothing is stored. It may return the ids of the
        messages that showed the reply; they are kept with the turn. With a ``payer``, the reply's
        usage is stored in the same transaction as the turn.

        Setting ``stop`` ends the stream at once (the upstream request is closed): the reply
        so far is ``stopped``, delivered and stored. ``replaces`` (a member's message id)
        redoes the answer to that message: its stored turn, which must be the conversation's
        newest (else ``InputError``), is left out of the history and replaced by the new one.
        """
        clock = _Clock()
        came_in = utc_now()  # an erasure of the member from now on keeps the turn out
        async with self.store.hold(scope):
            turns, persona = await self.store.recall(scope, limit=HISTORY_WINDOW)
            if replaces is not None:
                turns = _without(turns, replaces)
            history = await self._history(turns, options, target)
            instructions = options.instructions
            if persona:  # the conversation's own persona wins over the default
                instructions = replace(instructions, system_prompt=persona)
            composition = compose_request(
                options.model, history=history, new=new,
                budget=Budget.for_model(options.model, thinking=options.thinking),
                instructions=instructions, speech=options.voice is not None,
                resend_media_turns=options.resend_media_turns,
            )
            request = ChatRequest(model=options.model_name, messages=composition.messages,
                                  voice=options.voice, thinking=options.thinking)
            reply = Reply(speech_rate=options.model.audio_output_rate)
            async with self._streams:
                await _stream(self.client.stream(request), reply, clock, on_event, stop)
                delivered = await deliver(reply) if deliver is not None else None
            turn = Turn(
                speaker_id=speaker_id, speaker_name=new.speaker_name, text=new.text,
                reply_text=reply.spoken_text, model=options.model_name,
                media=tuple(m.ref() for m in new.media) if new.keep_media else (),
                usage=asdict(reply.usage) if reply.usage else None, created_at=came_in,
                source_message_id=new.source_id, reply_message_ids=tuple(delivered or ()),
            )
            # The member has seen the reply: a cancellation now must not lose its turn.
            kept = await _to_the_end(self._keep(
                scope, turn, new.media if new.keep_media else (), target,
                _usage(reply, options, payer, came_in), replaces))
        reveal(log, turn.speaker_id, scope)
        log.info("%s", reply_line(scope, turn, new.media, clock, kept))
        return Answer(reply=reply, composition=composition, turn=turn, kept=kept,
                      previous=turns[-1] if turns else None)

    async def _history(
        self, turns: list[Turn], options: ReplyOptions, target: MediaTarget | None
    ) -> list[PastTurn]:
        recent = len(turns) - options.resend_media_turns
        return [
            PastTurn(turn, await self._cached(turn, target) if index >= recent else ())
            for index, turn in enumerate(turns)
        ]

    async def _cached(self, turn: Turn, target: MediaTarget | None) -> tuple[PreparedMedia, ...]:
        if self.cache is None or target is None or not turn.media:
            return ()
        found = [await self.cache.get(ref.content_hash, target) for ref in turn.media]
        return tuple(m for m in found if m is not None)

    async def _keep(self, scope: str, turn: Turn, media: Sequence[PreparedMedia],
                    target: MediaTarget | None, usage: UsageRow | None,
                    replaces: str | None = None) -> Kept:
        if replaces is None:
            kept = await self.store.add_turn(scope, turn, usage)
        else:
            kept = await self.store.replace_turn(scope, replaces, turn, usage)
        if kept is Kept.STORED:  # an erased turn's media is not cached either
            await self._remember(media, target)
        return kept

    async def _remember(self, media: Sequence[PreparedMedia], target: MediaTarget | None) -> None:
        if self.cache is None or target is None:
            return
        for item in media:
            await self.cache.put(item, target)


def _without(turns: list[Turn], replaced: str) -> list[Turn]:
    """The history without the turn being replaced, which must be the newest (if stored)."""
    index = next((i for i, t in enumerate(turns) if t.source_message_id == replaced), None)
    if index is None:
        return turns  # erased already (an edited question): nothing to leave out
    if index != len(turns) - 1:
        raise InputError(NOT_NEWEST)
    return turns[:-1]


async def _stream(events: AsyncIterator[ReplyEvent], reply: Reply, clock: _Clock,
                  on_event: EventSink | None, stop: asyncio.Event | None) -> None:
    """Fold the stream's events into ``reply`` (passing each on) until it ends or ``stop``
    is set; then the stream is closed, and with it the upstream request."""

    async def consume() -> None:
        async for event in events:
            clock.saw(event)
            reply.add(event)
            if on_event is not None:
                await on_event(event)

    try:
        if stop is None:
            await consume()
            return
        reading = asyncio.ensure_future(consume())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
                reply.stopped = True
        if not reply.stopped:
            reading.result()  # the stream's own error, if it failed
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def _to_the_end(work: Awaitable[T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile (then re-raise)."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


def _usage(reply: Reply, options: ReplyOptions, payer: Payer | None, began_at: str
           ) -> UsageRow | None:
    if payer is None or reply.usage is None:
        return None
    return usage_row(user_id=payer.user_id, model=options.model_name,
                     prompt_tokens=reply.usage.prompt_tokens,
                     completion_tokens=reply.usage.completion_tokens,
                     guild_id=payer.guild_id, channel_id=payer.channel_id, began_at=began_at)


class _Clock:
    """When a reply started and when its first text came (``time.monotonic``)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first_text: float | None = None

    def saw(self, event: ReplyEvent) -> None:
        """Note the first event that carries reply text (spoken or written)."""
        if self.first_text is None and isinstance(event, TextDelta | Transcript) and event.text:
            self.first_text = time.monotonic()


def reply_line(scope: str, turn: Turn, media: Sequence[PreparedMedia], clock: _Clock,
               kept: Kept = Kept.STORED) -> str:
    """The one log line of a finished reply: where, for whom, which model, what media, tokens
    in/out and timings (``first_text`` from the request's start to its first text), and why
    its turn was not kept if an erasure forbade it. Never the member's words or the reply's;
    the member (and a DM scope) by pseudonym."""
    kinds = ",".join(dict.fromkeys(m.kind for m in media)) or "none"
    usage = turn.usage or {}
    tokens = f"{usage.get('prompt_tokens', 0)}/{usage.get('completion_tokens', 0)}"
    first = (f"{clock.first_text - clock.started:.2f}s" if clock.first_text is not None
             else "-")
    return (f"reply scope={scope_tag(scope)} member={member_tag(turn.speaker_id)} "
            f"model={turn.model} media={kinds} tokens={tokens} first_text={first} "
            f"total={time.monotonic() - clock.started:.2f}s"
            + ("" if kept is Kept.STORED else f" turn={kept.value}"))
