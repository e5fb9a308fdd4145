"""Per-server and per-member preferences, and the effective settings they add up to.

Resolution: a member's own choice, else the server's, else the bot's defaults (environment);
for the model and the persona, a thread's own choice, else its channel's, else the server's, else
the defaults.
Invalid combinations are refused with a reason: a voice the model lacks, or spoken replies
while thinking mode is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from omnicord.errors import InputError
from omnicord.i18n import text
from omnicord.model.catalog import ModelSpec, find_model
from omnicord.store.records import (
    ConversationMode,
    GuildPreferences,
    MemberPreferences,
    PlaceSettings,
    ReplyMode,
)

T = TypeVar("T")
#: Where a model or persona came from, the most specific first ("default": the bot's own).
SOURCES = ("thread", "channel", "server", "default")
#: A place's own settings, labelled "thread" or "channel", the most specific first.
PlaceLevels = Sequence[tuple[str, PlaceSettings]]


@dataclass(frozen=True)
class Place:
    """Where a reply is made: a channel or thread (its id), and a thread's channel."""

    channel_id: str
    parent_id: str | None = None  # set for a thread

    @property
    def is_thread(self) -> bool:
        """Whether the place is a thread."""
        return self.parent_id is not None


class SettingRefused(InputError):
    """A setting change that would not work; the message says why."""


@dataclass(frozen=True)
class Defaults:
    """The bot-wide defaults, from the environment."""

    model: str
    voice: str
    reply_mode: ReplyMode = ReplyMode.AUTO
    thinking: bool = False
    system_prompt: str | None = None  # None: the conversation's default persona
    daily_token_cap: int | None = None


@dataclass(frozen=True)
class Effective:
    """The settings one reply is made with."""

    model: ModelSpec
    model_name: str
    voice: str
    reply_mode: ReplyMode
    thinking: bool
    system_prompt: str | None  # None: the default persona
    daily_token_cap: int | None
    model_from: str = "default"  # one of SOURCES
    persona_from: str = "default"
    #: The place's own conversation mode (None: the place's default).
    conversation: ConversationMode | None = None

    def speaks(self, *, member_sent_voice: bool) -> bool:
        """Whether this reply should include speech."""
        if self.thinking or not self.model.speaks:
            return False
        if self.reply_mode is ReplyMode.AUTO:
            return member_sent_voice
        return self.reply_mode in (ReplyMode.VOICE, ReplyMode.BOTH)

    def shows_text(self, *, member_sent_voice: bool) -> bool:
        """Whether the reply text is posted (it always is when there is no speech)."""
        return self.reply_mode is not ReplyMode.VOICE or not self.speaks(
            member_sent_voice=member_sent_voice
        )


def resolve(defaults: Defaults, guild: GuildPreferences, member: MemberPreferences,
            places: PlaceLevels = ()) -> Effective:
    """Member over server over defaults (a voice the model lacks is skipped for the next);
    for the model and persona, the place's own (thread, then channel) over the server's."""
    model_name, model_from = _first(
        [*((label, p.model) for label, p in places), ("server", guild.model)], defaults.model)
    prompt, persona_from = _first(
        [*((label, p.system_prompt) for label, p in places), ("server", guild.system_prompt)],
        defaults.system_prompt)
    model = find_model(model_name, "chat")
    candidates = (member.voice, guild.voice, defaults.voice)
    voices = [v for name in candidates if name and (v := model.find_voice(name)) is not None]
    voice = voices[0] if voices else (model.voices[0] if model.voices else None)
    thinking = guild.thinking if guild.thinking is not None else defaults.thinking
    return Effective(
        model=model,
        model_name=model_name,
        voice=voice.name if voice else "",
        reply_mode=member.reply_mode or guild.reply_mode or defaults.reply_mode,
        # A place's model without thinking mode answers without it.
        thinking=thinking and model.supports_thinking,
        system_prompt=prompt,
        daily_token_cap=(
            guild.daily_token_cap if guild.daily_token_cap is not None
            else defaults.daily_token_cap
        ),
        model_from=model_from, persona_from=persona_from,
        conversation=next((p.conversation for _, p in places if p.conversation), None),
    )


def _first(levels: Sequence[tuple[str, T | None]], default: T) -> tuple[T, str]:
    """The first level's value that is set, and the level's name ("default" if none is)."""
    return next(((value, label) for label, value in levels if value),
                (default, "default"))


def check_voice(model: ModelSpec, voice: str) -> str:
    """The voice's catalog spelling, or SettingRefused naming the model's voices."""
    found = model.find_voice(voice)
    if found is None:
        raise SettingRefused(text("settings.no_voice", model=model.name, voice=voice,
                                  voices=", ".join(model.voice_names())))
    return found.name


def check_guild_change(
    defaults: Defaults, current: GuildPreferences, change: GuildPreferences
) -> GuildPreferences:
    """The server's preferences after ``change`` (fields set in it), or SettingRefused."""
    merged = replace(current, **{k: v for k, v in vars(change).items() if v is not None})
    model = find_model(merged.model or defaults.model, "chat")
    if merged.voice is not None:
        merged = replace(merged, voice=check_voice(model, merged.voice))
    thinking = merged.thinking if merged.thinking is not None else defaults.thinking
    if thinking and not model.supports_thinking:
        raise SettingRefused(text("settings.no_thinking", model=model.name))
    mode = merged.reply_mode or defaults.reply_mode
    if thinking and mode in (ReplyMode.VOICE, ReplyMode.BOTH):
        raise SettingRefused(text("settings.thinking_text_only"))
    if merged.daily_token_cap is not None and merged.daily_token_cap < 0:
        raise SettingRefused(text("settings.cap_negative"))
    return merged


def check_member_change(effective: Effective, change: MemberPreferences) -> MemberPreferences:
    """A member's new preferences, or SettingRefused (voice not in the model, voice+thinking)."""
    voice = check_voice(effective.model, change.voice) if change.voice else None
    if change.reply_mode in (ReplyMode.VOICE, ReplyMode.BOTH) and effective.thinking:
        raise SettingRefused(text("settings.member_thinking_text_only"))
    return replace(change, voice=voice)
