"""What a stored conversation turn holds, and the interface every store implements."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from omnicord.media.types import MediaRef


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_today() -> str:
    """The current UTC day, ``YYYY-MM-DD``."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


class ReplyMode(StrEnum):
    """How replies are delivered."""


    TEXT = "text"
    VOICE = "voice"
    BOTH = "both"
    AUTO = "auto"  # spoken when the member sent a voice note, text otherwise


@dataclass(frozen=True)
class GuildPreferences:
    """What a server's admins chose (None: use the default)."""

    model: str | None = None
    voice: str | None = None
    reply_mode: ReplyMode | None = None
    thinking: bool | None = None
    system_prompt: str | None = None
    daily_token_cap: int | None = None


@dataclass(frozen=True)
class MemberPreferences:
    """What a member chose for themselves (None: follow the server)."""

    voice: str | None = None
    reply_mode: ReplyMode | None = None


@dataclass(frozen=True)
class Turn:
    """One member message and the assistant's reply to it."""

    speaker_id: str
    speaker_name: str
    text: str
    reply_text: str
    model: str
    media: tuple[MediaRef, ...] = ()
    usage: dict[str, Any] | None = None
    created_at: str = field(default_factory=utc_now)
    replied_at: str = field(default_factory=utc_now)
    source_message_id: str | None = None
    reply_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsageRow:
    """The tokens one request to the model service cost, and whom they count against."""

    user_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    guild_id: str = ""
    channel_id: str = ""
    day: str = field(default_factory=utc_today)


class ConversationStore(Protocol):
    """Persistent multi-turn history keyed by scope (a thread, channel, DM or CLI session)."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Release the connection."""

    async def history(self, scope: str, *, limit: int | None = None) -> list[Turn]:
        """The scope's turns, oldest first (the newest ``limit`` when given)."""

    def hold(self, scope: str) -> AbstractAsyncContextManager[None]:
        """Hold the scope's conversation lock: one reply at a time, across processes."""

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        """The scope's turns (as ``history``) and its persona, in one read."""

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> None:
        """Store a completed turn and its usage atomically: both or neither."""

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many were removed."""

    async def system_prompt(self, scope: str) -> str | None:
        """The scope's own persona, if one was set."""

    async def set_system_prompt(self, scope: str, prompt: str | None) -> None:
        """Set (or clear, with None) the scope's persona."""
