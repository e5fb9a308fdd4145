"""What a stored conversation turn holds, and the interface every store implements."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_today() -> str:
    """The current UTC day, ``YYYY-MM-DD``."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class MediaRef:
    """What a turn's attachment was, so it can be described (or re-sent) later."""

    kind: str  # "image", "audio", "video"
    name: str
    description: str = ""
    content_hash: str = ""
    format: str = ""
    seconds: float | None = None
    size_bytes: int | None = None
    tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaRef:
        """Inverse of ``to_dict``; unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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
