"""Per-server and per-member preferences, and the effective settings they add up to.

Resolution: a member's own choice, else the server's, else the bot's defaults (environment).
Invalid combinations are refused with a reason: a voice the model lacks, or spoken replies
while thinking mode is on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from omnicord.errors import InputError
from omnicord.model.catalog import ModelSpec, find_model
from omnicord.store.records import GuildPreferences, MemberPreferences, ReplyMode


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


def resolve(defaults: Defaults, guild: GuildPreferences, member: MemberPreferences) -> Effective:
    """Member over server over defaults; a voice the model lacks is skipped for the next."""
    model_name = guild.model or defaults.model
    model = find_model(model_name, "chat")
    candidates = (member.voice, guild.voice, defaults.voice)
    voices = [v for name in candidates if name and (v := model.find_voice(name)) is not None]
    voice = voices[0] if voices else (model.voices[0] if model.voices else None)
    return Effective(
        model=model,
        model_name=model_name,
        voice=voice.name if voice else "",
        reply_mode=member.reply_mode or guild.reply_mode or defaults.reply_mode,
        thinking=guild.thinking if guild.thinking is not None else defaults.thinking,
        system_prompt=guild.system_prompt or defaults.system_prompt,
        daily_token_cap=(
            guild.daily_token_cap if guild.daily_token_cap is not None
            else defaults.daily_token_cap
        ),
    )


def check_voice(model: ModelSpec, voice: str) -> str:
    """The voice's catalog spelling, or SettingRefused naming the model's voices."""
    found = model.find_voice(voice)
    if found is None:
        raise SettingRefused(
            f"{model.name} has no voice {voice!r}; choose from {', '.join(model.voice_names())}"
        )
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
        raise SettingRefused(f"{model.name} has no thinking mode (only qwen3-omni-flash does)")
    mode = merged.reply_mode or defaults.reply_mode
    if thinking and mode in (ReplyMode.VOICE, ReplyMode.BOTH):
        raise SettingRefused(
            "Thinking mode answers in text only: turn thinking off for voice replies, "
            "or set replies to text or auto"
        )
    if merged.daily_token_cap is not None and merged.daily_token_cap < 0:
        raise SettingRefused("The daily token cap cannot be negative (0 removes it)")
    return merged


def check_member_change(effective: Effective, change: MemberPreferences) -> MemberPreferences:
    """A member's new preferences, or SettingRefused (voice not in the model, voice+thinking)."""
    voice = check_voice(effective.model, change.voice) if change.voice else None
    if change.reply_mode in (ReplyMode.VOICE, ReplyMode.BOTH) and effective.thinking:
        raise SettingRefused(
            "This server has thinking mode on, which answers in text only"
        )
    return replace(change, voice=voice)
