"""Composing the ``messages`` list for a request, under the API's rules and the model's budget.

Rules kept here:

- A user message holds text plus at most one kind of media: a member message carrying, say, an
  image and a voice note becomes consecutive user messages (the images with the text, then the
  audio); several audio files or videos likewise go one per message.
- Assistant messages are text only: a spoken reply is kept as its text.
- In a group conversation every user turn starts with its speaker's name, and the instructions
  say so. Where the model takes no system message (qwen-omni-turbo answering with speech), the
  instructions open the first user message instead.

Budget, in order of priority: the newest message (never cut: if it cannot fit, the member is
told why), then past turns as text from newest to oldest (the oldest go first), then the media of
the most recent turns, re-sent from the cache while tokens and bytes allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from omnicord.conversation.budget import (
    MESSAGE_OVERHEAD_TOKENS,
    Budget,
    BudgetExceeded,
    Tally,
    over_bytes,
    over_tokens,
)
from omnicord.conversation.prompts import DEFAULT_SYSTEM_PROMPT, GROUP_NOTE, LANGUAGE_NOTE
from omnicord.i18n import DEFAULT_LANGUAGE, Text, language_name
from omnicord.media.tokens import text_tokens
from omnicord.media.types import PreparedMedia, describe_media
from omnicord.model.catalog import ModelSpec
from omnicord.model.parts import Message, Modality, Part, part_modality, text_part
from omnicord.store.records import Turn

DEFAULT_RESEND_MEDIA_TURNS = 2


@dataclass(frozen=True)
class PastTurn:
    """A stored turn, with the prepared media still cached for it (in ``turn.media`` order)."""

    turn: Turn
    media: tuple[PreparedMedia, ...] = ()


@dataclass(frozen=True)
class NewMessage:
    """The member message being answered."""

    speaker_name: str
    text: str
    media: tuple[PreparedMedia, ...] = ()
    source_id: str | None = None  # the platform's id of the message, kept with the turn
    #: False when the media is someone else's (quoted from another member's message): it
    #: serves this one answer and is neither cached nor kept with the turn.
    keep_media: bool = True


@dataclass(frozen=True)
class Instructions:
    """The persona and whether the conversation is a group one."""

    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    group: bool = False

    @classmethod
    def with_persona(cls, persona: str | None, *, group: bool = False,
                     language: str = DEFAULT_LANGUAGE) -> Instructions:
        """A conversation's own persona, or the default one asking for answers in the
        member's language (``language``, a catalogue language, when nothing says which)."""
        if persona:
            return cls(persona, group=group)
        note = LANGUAGE_NOTE.format(language=language_name(language))
        return cls(f"{DEFAULT_SYSTEM_PROMPT} {note}", group=group)

    def text(self) -> str:
        """The full instruction text."""
        return "\n\n".join(filter(None, [self.system_prompt, GROUP_NOTE if self.group else ""]))


@dataclass
class Composition:
    """A composed request and how it was fitted."""

    messages: list[Message]
    tokens: int
    inline_bytes: int
    turns_sent: int = 0
    turns_dropped: int = 0
    media_resent: int = 0
    notes: list[str] = field(default_factory=list)


def split_by_modality(text: str, media: Sequence[Part]) -> list[Message]:
    """One member message as user messages that each carry at most one kind of media.

    The text rides with the first media group; parts keep their order within a group.
    """
    groups: dict[Modality, list[Part]] = {}
    for part in media:
        modality = part_modality(part)
        if modality is None:
            raise ValueError("media parts must be image, audio or video")
        groups.setdefault(modality, []).append(part)
    messages: list[Message] = []
    for modality, parts in groups.items():
        batches = [[p] for p in parts] if modality in ("audio", "video") else [parts]
        messages.extend({"role": "user", "content": list(batch)} for batch in batches)
    if not messages:
        return [{"role": "user", "content": [text_part(text or "(no text)")]}]
    if text:
        messages[0]["content"].append(text_part(text))
    return messages


@dataclass(frozen=True)
class _Block:
    """Messages for one turn and what they cost."""

    messages: list[Message]
    tokens: int
    inline_bytes: int = 0


def _cost(messages: list[Message], media: Sequence[PreparedMedia], text: str) -> _Block:
    tokens = text_tokens(text) + sum(m.tokens for m in media)
    tokens += MESSAGE_OVERHEAD_TOKENS * len(messages)
    return _Block(messages, tokens, sum(m.inline_bytes for m in media))


def _user_block(speaker: str, text: str, media: Sequence[PreparedMedia], group: bool) -> _Block:
    """A member message: text attachments and media accounts join the text."""
    texts = [f"{speaker}: {text}" if group else text]
    texts += [p.part["text"] for m in media for p in m.parts if p.kind == "text"]
    texts += [m.extra_text for m in media if m.extra_text]
    body = "\n\n".join(t for t in texts if t.strip())
    parts = [p.part for m in media for p in m.parts if p.kind != "text"]
    return _cost(split_by_modality(body, parts), media, body)


def _assistant(turn: Turn) -> Message:
    return {"role": "assistant", "content": turn.reply_text or "(no reply)"}


def _text_form(past: PastTurn, group: bool) -> _Block:
    turn = past.turn
    text = " ".join(filter(None, [describe_media(turn.media), turn.text]))
    user = _user_block(turn.speaker_name, text, (), group)
    reply = text_tokens(turn.reply_text) + MESSAGE_OVERHEAD_TOKENS
    return _Block([*user.messages, _assistant(turn)], user.tokens + reply)


def _full_form(past: PastTurn, group: bool) -> _Block | None:
    if not past.turn.media or len(past.media) != len(past.turn.media):
        return None  # nothing to re-send, or some of it is no longer cached
    turn = past.turn
    user = _user_block(turn.speaker_name, turn.text, past.media, group)
    reply = text_tokens(turn.reply_text) + MESSAGE_OVERHEAD_TOKENS
    return _Block([*user.messages, _assistant(turn)], user.tokens + reply, user.inline_bytes)


def compose_request(
    model: ModelSpec,
    *,
    history: Sequence[PastTurn],
    new: NewMessage,
    budget: Budget,
    instructions: Instructions = Instructions(),
    speech: bool = False,
    resend_media_turns: int = DEFAULT_RESEND_MEDIA_TURNS,
) -> Composition:
    """Fit instructions, history and the new message into one request for ``model``."""
    tally = Tally(budget)
    instruction_text = instructions.text()
    tally.take(text_tokens(instruction_text) + MESSAGE_OVERHEAD_TOKENS)
    newest = _user_block(new.speaker_name, new.text, new.media, instructions.group)
    if not tally.fits(newest.tokens, newest.inline_bytes):
        raise BudgetExceeded(_too_big(newest, budget))
    tally.take(newest.tokens, newest.inline_bytes)
    chosen = _fit_text(history, instructions.group, tally)
    resent = _upgrade_media(history, chosen, instructions.group, tally, resend_media_turns)
    messages = [m for index in sorted(chosen) for m in chosen[index].messages]
    messages += newest.messages
    composition = Composition(
        messages=_place_instructions(model, messages, instruction_text, speech),
        tokens=tally.tokens, inline_bytes=tally.inline_bytes, turns_sent=len(chosen),
        turns_dropped=len(history) - len(chosen), media_resent=resent,
    )
    if composition.turns_dropped:
        composition.notes.append(f"{composition.turns_dropped} older turns left out to fit")
    return composition


def _fit_text(history: Sequence[PastTurn], group: bool, tally: Tally) -> dict[int, _Block]:
    chosen: dict[int, _Block] = {}
    for index in range(len(history) - 1, -1, -1):
        block = _text_form(history[index], group)
        if not tally.fits(block.tokens):
            break  # everything older goes too, so the history stays contiguous
        tally.take(block.tokens)
        chosen[index] = block
    return chosen


def _upgrade_media(
    history: Sequence[PastTurn], chosen: dict[int, _Block], group: bool, tally: Tally,
    limit: int,
) -> int:
    upgraded = 0
    for index in sorted(chosen, reverse=True)[:limit]:
        full = _full_form(history[index], group)
        if full is None:
            continue
        extra_tokens = full.tokens - chosen[index].tokens
        if tally.fits(extra_tokens, full.inline_bytes):
            tally.take(extra_tokens, full.inline_bytes)
            chosen[index] = full
            upgraded += 1
    return upgraded


def _place_instructions(
    model: ModelSpec, messages: list[Message], instructions: str, speech: bool
) -> list[Message]:
    if not instructions:
        return messages
    if speech and not model.system_message_with_audio_output:
        first = messages[0]
        first["content"] = [text_part(f"(Instructions: {instructions})"), *first["content"]]
        return messages
    return [{"role": "system", "content": instructions}, *messages]


def _too_big(block: _Block, budget: Budget) -> Text:
    if block.inline_bytes > budget.max_inline_bytes:
        return over_bytes(block.inline_bytes, budget.max_inline_bytes)
    return over_tokens(block.tokens, budget.max_tokens)
