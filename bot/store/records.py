"""The records Omnicord keeps, as every layer sees them (no storage here).

Policy, conversation and cogs import these; the stores turn them into rows and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

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


class CaptionMode(StrEnum):
    """What an auto-caption channel posts for a voice message."""

    TRANSCRIPT = "transcript"  # the words said (the chat model); new channels' default
    DESCRIPTION = "description"  # the captioner's account of voices and sounds
    BOTH = "both"


@dataclass(frozen=True)
class GuildPreferences:
    """What a server's admins chose (None: use the default)."""

    model: str | None = None
    voice: str | None = None
    reply_mode: ReplyMode | None = None
    thinking: bool | None = None
    system_prompt: str | None = None
    daily_token_cap: int | None = None
    caption_language: str | None = None  # transcripts translated into it ("none": not)
    language: str | None = None  # Omnicord's own words in channels (None: Discord's locale)
    monthly_token_budget: int | None = None  # tokens per UTC month for the whole server
    monthly_money_budget: float | None = None  # US dollars per UTC month (priced models)


@dataclass(frozen=True)
class TalkSettings:
    """What a server chose for live talk in its voice channels (off until an admin enables it).

    ``roles`` empty: every member who may use Omnicord may talk with it.
    """

    enabled: bool = False
    minutes_per_day: int = 60
    idle_minutes: int = 5
    caption_members: bool = False  # also caption what members said, not only Omnicord
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MemberPreferences:
    """What a member chose for themselves (None: follow the server)."""

    voice: str | None = None
    reply_mode: ReplyMode | None = None
    caption_language: str | None = None  # for the transcripts they ask for ("none": never)
    #: Their Discord app's language (a catalogue code), remembered from their latest Omnicord
    #: command for Omnicord's words in direct messages; kept on the '' (DM) row only.
    language: str | None = None


@dataclass(frozen=True)
class Turn:
    """One member message and the assistant's reply to it.

    ``created_at`` is when the member's message came in (before the reply began): an erasure
    of the member at or after it keeps the turn out of the store.
    """

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
class Removed:
    """What an erasure took away."""

    turns: int = 0
    #: Content hashes of cached media that no remaining turn refers to any more.
    released_media: tuple[str, ...] = ()
    preferences: int = 0  # member preference rows
    usage: int = 0  # usage rows
    #: Ids of the messages that showed Omnicord's replies to erased turns whose member's
    #: message was deleted (``forget_messages`` only; the deleted ids themselves left out).
    orphaned_replies: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessList:
    """Who may use Omnicord in a server (ids as text). An empty set lets everyone in: no role
    entries, every role; no channel entries, every channel."""

    roles: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()


#: The kinds of allow-list entry: a role or a channel.
ACCESS_KINDS = ("role", "channel")


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
    #: When the work these tokens paid for began: a row for a member erased at or after it
    #: is not kept.
    began_at: str = field(default_factory=utc_now)


class Kept(StrEnum):
    """What became of a turn handed to the store."""

    STORED = "stored"
    FORGOTTEN = "forgotten"  # its member was erased after the message came in
    DELETED = "deleted"  # its member's message was deleted meanwhile
    EDITED = "edited"  # its member's message was edited meanwhile


#: How long tombstones are kept: far longer than any reply can take to be stored.
ERASURE_KEEP_SECONDS = 24 * 3600


#: What a channel can be opened for.
CHANNEL_ROLES = ("chat", "auto_caption")


#: The window the upstream request rate is counted over (requests per minute).
UPSTREAM_WINDOW_SECONDS = 60.0


class SlotsFull(Exception):
    """Every slot of a concurrency limit is taken."""


@dataclass(frozen=True)
class Expired:
    """What ``Limits.prune`` forgot: entries that could no longer refuse anything."""

    cooldowns: int = 0  # members' last request times, older than any cooldown
    leases: int = 0  # conversation and slot leases past their expiry (PostgreSQL)
    upstream: int = 0  # requests to the model service outside the last minute

    @property
    def total(self) -> int:
        """Everything forgotten."""
        return self.cooldowns + self.leases + self.upstream


#: (day, model, prompt tokens, completion tokens): one day's usage of one model.
DailyUsage = tuple[str, str, int, int]

#: How long a process's claim to sync the slash commands lasts if it never finishes.
SYNC_CLAIM_SECONDS = 60.0


#: A table row as ``omnicord db copy`` moves it: its columns in ``COPY_TABLES`` order.
Row = tuple[Any, ...]


class ConversationMode(StrEnum):
    """How a channel keeps its conversations."""

    REPLY_CHAIN = "reply-chain"  # a mention starts a conversation; replies continue it
    CHANNEL = "channel"  # one shared history for the whole channel or thread


@dataclass(frozen=True)
class PlaceSettings:
    """What a channel or thread chose for itself (None: follow the next place up)."""

    conversation: ConversationMode | None = None
    system_prompt: str | None = None
    model: str | None = None
