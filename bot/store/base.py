"""What a stored conversation turn holds, and the interface every store implements."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
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


@dataclass(frozen=True)
class MemberPreferences:
    """What a member chose for themselves (None: follow the server)."""

    voice: str | None = None
    reply_mode: ReplyMode | None = None
    caption_language: str | None = None  # for the transcripts they ask for ("none": never)


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


def media_hashes(media_json: Iterable[str]) -> set[str]:
    """The content hashes named in turns' stored ``media_json`` lists."""
    return {item["content_hash"] for text in media_json for item in json.loads(text)
            if item.get("content_hash")}


def orphaned_replies(rows: Iterable[Record], deleted: Sequence[str]) -> tuple[str, ...]:
    """The reply message ids, still in Discord, of erased turns (rows of ``source_message_id``
    and ``reply_message_ids``) whose member's message is among the ``deleted`` messages."""
    gone = set(deleted)
    return tuple(reply for row in rows if row["source_message_id"] in gone
                 for reply in json.loads(row["reply_message_ids"]) if reply not in gone)


ACCESS_KINDS = ("role", "channel")


def access_target(kind: str, target_id: str) -> str:
    """How an allow-list entry is stored: ``role:<id>`` or ``channel:<id>``."""
    if kind not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {kind!r}")
    return f"{kind}:{target_id}"


def access_list(targets: Sequence[str]) -> AccessList:
    """An ``AccessList`` from stored entries."""
    kinds: dict[str, set[str]] = {kind: set() for kind in ACCESS_KINDS}
    for target in targets:
        kind, _, target_id = target.partition(":")
        kinds.setdefault(kind, set()).add(target_id)
    return AccessList(roles=frozenset(kinds["role"]), channels=frozenset(kinds["channel"]))


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


#: Tombstone kinds: an erased member (subject: a user id), a deleted or edited message
#: (subject: a message id). The message kinds' values are ``Kept`` values.
MEMBER_ERASED = "member"
MESSAGE_ERASURES = (Kept.DELETED.value, Kept.EDITED.value)
#: How long tombstones are kept: far longer than any reply can take to be stored.
ERASURE_KEEP_SECONDS = 24 * 3600
#: Newest turns first, made from a Discord message since a time (placeholders: since, limit).
RECENT_SOURCES = ("SELECT c.scope, t.source_message_id FROM turns t"
                  " JOIN conversations c ON c.id = t.conversation_id"
                  " WHERE t.source_message_id IS NOT NULL AND t.created_at >= {}"
                  " ORDER BY t.id DESC LIMIT {}")
#: Which tombstone decides a turn's fate when several apply.
VERDICT_ORDER = ("CASE kind WHEN 'deleted' THEN 0 WHEN 'edited' THEN 1 ELSE 2 END")


def storable(value: Any) -> Any:
    """A value as both backends store it: text without NUL characters, anything else as is."""
    return without_nul(value) if isinstance(value, str) else value


def without_nul(text: str) -> str:
    """``text`` without NUL characters: PostgreSQL's text cannot hold them, so both backends
    store text without them (nothing a member could mean is lost)."""
    return text.replace("\x00", "") if "\x00" in text else text


class ConversationStore(Protocol):
    """Persistent multi-turn history keyed by scope (a thread, channel, DM or CLI session)."""

    async def open(self, *, migrate: bool = True) -> None:
        """Connect and (unless ``migrate`` is False) apply pending migrations."""

    async def close(self) -> None:
        """Release the connection."""

    async def history(self, scope: str, *, limit: int | None = None) -> list[Turn]:
        """The scope's turns, oldest first (the newest ``limit`` when given)."""

    def hold(self, scope: str) -> AbstractAsyncContextManager[None]:
        """Hold the scope's conversation lock: one reply at a time, across processes."""

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        """The scope's turns (as ``history``) and its persona, in one read."""

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> Kept:
        """Store a completed turn and its usage atomically: both or neither. Neither is kept
        (and the verdict says why) if the turn's message was deleted or edited, or its member
        (or the usage's) erased at or after ``turn.created_at``: across processes, atomic
        with the erasures. Written once even if retried after a lost connection."""

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many were removed."""

    async def system_prompt(self, scope: str) -> str | None:
        """The scope's own persona, if one was set."""

    async def set_system_prompt(self, scope: str, prompt: str | None) -> None:
        """Set (or clear, with None) the scope's persona."""


class PreferenceStore(Protocol):
    """Server, member and channel preferences."""

    async def guild(self, guild_id: str) -> GuildPreferences:
        """A server's preferences (all None when it never set any)."""

    async def save_guild(self, guild_id: str, prefs: GuildPreferences) -> None:
        """Replace a server's preferences."""

    async def member(self, guild_id: str, user_id: str) -> MemberPreferences:
        """A member's own preferences in a server ('' for direct messages)."""

    async def save_member(self, guild_id: str, user_id: str, prefs: MemberPreferences) -> None:
        """Replace a member's preferences."""

    async def channel_role(self, channel_id: str, role: str) -> bool:
        """Whether a channel is opened for chat or auto-captioning."""

    async def set_channel_role(
        self, guild_id: str, channel_id: str, role: str, enabled: bool
    ) -> None:
        """Open or close a channel for chat or auto-captioning."""

    async def channels_with(self, guild_id: str, role: str) -> list[str]:
        """Ids of the server's channels with a role switched on."""

    async def caption_mode(self, channel_id: str) -> CaptionMode:
        """What the channel's auto-captions post (``transcript`` for a channel never set)."""

    async def set_caption_mode(self, guild_id: str, channel_id: str, mode: CaptionMode) -> None:
        """Choose what the channel's auto-captions post (kept while captions are off)."""

    async def access(self, guild_id: str) -> AccessList:
        """The server's allow lists (empty: everyone, everywhere)."""

    async def set_access(self, guild_id: str, kind: str, target_id: str, allowed: bool) -> None:
        """Add a role or channel (``kind``) to the server's allow list, or remove it."""


CHANNEL_ROLES = ("chat", "auto_caption")


def channel_role_column(role: str) -> str:
    """The column storing a channel role (checked: the name goes into SQL)."""
    if role not in CHANNEL_ROLES:
        raise ValueError(f"unknown channel role {role!r}")
    return role


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


class Limits(Protocol):
    """Counters behind cooldowns, concurrency limits and the upstream request rate.

    In memory they hold within one process; a shared database makes them hold across every
    process using it.
    """

    async def try_cooldown(self, key: str, seconds: float) -> float:
        """Record a request under ``key`` unless one came less than ``seconds`` ago.

        Returns 0 when recorded, else the seconds left to wait (nothing recorded).
        """

    def slot(self, key: str, limit: int) -> AbstractAsyncContextManager[None]:
        """Hold one of ``limit`` slots of ``key`` while the block runs; SlotsFull if none."""

    async def try_upstream(self, per_minute: int) -> float:
        """Record one request to the model service if fewer than ``per_minute`` were made in
        the last 60 s; returns 0 then, else the seconds until one is free."""

    async def prune(self, *, cooldowns_older_than: float) -> Expired:
        """Forget cooldown times older than ``cooldowns_older_than`` seconds, expired leases
        and upstream requests outside the window: nothing that could still refuse a request.
        Safe while other callers (and processes) use the limits."""


#: The tables ``omnicord db copy`` moves, parents first, with the columns both backends share.
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "conversations": ("id", "scope", "system_prompt", "created_at", "updated_at"),
    "turns": ("id", "conversation_id", "speaker_id", "speaker_name", "text", "media_json",
              "reply_text", "model", "usage_json", "created_at", "replied_at",
              "source_message_id", "reply_message_ids"),
    "usage": ("id", "day", "guild_id", "channel_id", "user_id", "model", "prompt_tokens",
              "completion_tokens", "created_at"),
    "guild_settings": ("guild_id", "model", "voice", "reply_mode", "thinking", "system_prompt",
                       "daily_token_cap", "updated_at", "caption_language"),
    "member_settings": ("guild_id", "user_id", "voice", "reply_mode", "updated_at",
                        "caption_language"),
    "channel_settings": ("channel_id", "guild_id", "chat", "auto_caption", "updated_at",
                         "caption_mode"),
    "guild_access": ("guild_id", "target", "updated_at"),
}

#: Each copied table's key: its leading columns in ``COPY_TABLES``.
COPY_KEYS: dict[str, tuple[str, ...]] = {
    "conversations": ("id",), "turns": ("id",), "usage": ("id",),
    "guild_settings": ("guild_id",), "member_settings": ("guild_id", "user_id"),
    "channel_settings": ("channel_id",), "guild_access": ("guild_id", "target"),
}

Row = tuple[Any, ...]


class Record(Protocol):
    """A result row read by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: str, /) -> Any: ...


def usage_filter(
    mark: Callable[[int], str], since_day: str, *, until_day: str | None = None,
    user_id: str | None = None, guild_id: str | None = None,
) -> tuple[str, list[str]]:
    """The WHERE condition choosing usage rows (from a day, up to a day, for a member and/or
    server) and its parameters; ``mark(n)`` spells the n-th placeholder (``?`` or ``$n``)."""
    where, params = [f"day >= {mark(1)}"], [since_day]
    for column, test, given in (("day", "<=", until_day), ("user_id", "=", user_id),
                                ("guild_id", "=", guild_id)):
        if given is not None:
            params.append(given)
            where.append(f"{column} {test} {mark(len(params))}")
    return " AND ".join(where), params


def check_table(table: str) -> str:
    """``table`` if it is one of ``COPY_TABLES`` (safe to put in SQL), else ValueError."""
    if table not in COPY_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table


def turn_from_row(row: Record) -> Turn:
    """A stored turn from its row, on either backend."""
    return Turn(
        speaker_id=row["speaker_id"],
        speaker_name=row["speaker_name"],
        text=row["text"],
        reply_text=row["reply_text"],
        model=row["model"],
        media=tuple(MediaRef.from_dict(m) for m in json.loads(row["media_json"])),
        usage=json.loads(row["usage_json"]) if row["usage_json"] else None,
        created_at=row["created_at"],
        replied_at=row["replied_at"],
        source_message_id=row["source_message_id"],
        reply_message_ids=tuple(json.loads(row["reply_message_ids"])),
    )


#: guild_settings' preference columns, in the order of ``guild_values``.
GUILD_FIELDS = ("model", "voice", "reply_mode", "thinking", "system_prompt", "daily_token_cap",
                "caption_language")


def guild_values(prefs: GuildPreferences) -> tuple[Any, ...]:
    """A server's preferences as the values of ``GUILD_FIELDS`` (text without NULs)."""
    return tuple(map(storable, (
        prefs.model, prefs.voice, prefs.reply_mode.value if prefs.reply_mode else None,
        None if prefs.thinking is None else int(prefs.thinking), prefs.system_prompt,
        prefs.daily_token_cap, prefs.caption_language)))


def member_values(prefs: MemberPreferences) -> tuple[Any, ...]:
    """A member's preferences as (voice, reply_mode, caption_language), text without NULs."""
    return tuple(map(storable, (prefs.voice, prefs.reply_mode.value if prefs.reply_mode else None,
                                prefs.caption_language)))


def guild_from_row(row: Sequence[Any] | None) -> GuildPreferences:
    """A server's preferences from its ``GUILD_FIELDS`` (all None without a row)."""
    if row is None:
        return GuildPreferences()
    model, voice, mode, thinking, prompt, cap, language = tuple(row)
    return GuildPreferences(
        model=model, voice=voice, reply_mode=ReplyMode(mode) if mode else None,
        thinking=None if thinking is None else bool(thinking), system_prompt=prompt,
        daily_token_cap=cap, caption_language=language,
    )


def member_from_row(row: Sequence[Any] | None) -> MemberPreferences:
    """A member's preferences from (voice, reply_mode, caption_language)."""
    if row is None:
        return MemberPreferences()
    return MemberPreferences(voice=row[0], reply_mode=ReplyMode(row[1]) if row[1] else None,
                             caption_language=row[2])


#: (day, model, prompt tokens, completion tokens): one day's usage of one model.
DailyUsage = tuple[str, str, int, int]

#: How long a process's claim to sync the slash commands lasts if it never finishes.
SYNC_CLAIM_SECONDS = 60.0


def command_hash_key(application_id: str) -> str:
    """The ``bot_state`` key of the hash of an application's slash commands last synced."""
    return f"commands:{application_id}"


def command_claim_key(application_id: str) -> str:
    """The ``bot_state`` key of the claim to sync an application's slash commands: its value
    is ``"<expiry> <token>"``, the expiry an ISO 8601 UTC time."""
    return f"commands-sync:{application_id}"


class Store(ConversationStore, Protocol):
    """Everything Omnicord keeps: conversations, usage, preferences and shared limits.

    SQLite (``SqliteStore``) and PostgreSQL (``PostgresStore``) both implement it.
    """

    backend: str  # "sqlite" or "postgresql"

    @property
    def preferences(self) -> PreferenceStore:
        """Server, member and channel preferences."""

    @property
    def limits(self) -> Limits:
        """The counters behind cooldowns, concurrency and the upstream rate."""

    async def schema_version(self) -> int:
        """The highest migration applied."""

    async def pending_migrations(self) -> list[str]:
        """Names of the migrations not applied yet."""

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""

    async def add_usage(self, usage: UsageRow) -> bool:
        """Record one request's usage (requests that make no turn, such as captions); False
        (nothing kept) if its member was erased at or after ``usage.began_at``."""

    async def usage_by_model(
        self, *, since_day: str, user_id: str | None = None, guild_id: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(model, prompt tokens, completion tokens) since a day, for a member and/or server."""

    async def usage_by_day(
        self, *, since_day: str, until_day: str | None = None, user_id: str | None = None,
        guild_id: str | None = None,
    ) -> list[DailyUsage]:
        """(day, model, prompt tokens, completion tokens) for each day and model with usage
        from ``since_day`` to ``until_day`` (inclusive), for a member and/or server; oldest
        day first. Days without usage are not listed."""

    async def command_tree_hash(self, application_id: str) -> str | None:
        """The hash of the slash commands last synced for an application (None: never)."""

    async def claim_command_sync(self, application_id: str, tree_hash: str, *,
                                 seconds: float = SYNC_CLAIM_SECONDS) -> str | None:
        """Claim the sync of ``tree_hash`` for ``seconds``: a claim token when this caller
        should sync, None when that tree is already synced or another caller's claim is live.
        Atomic across processes: of processes starting together, one gets the claim."""

    async def set_command_tree_hash(self, application_id: str, tree_hash: str, *,
                                    claim: str | None = None) -> None:
        """Record that ``tree_hash`` was synced, ending ``claim`` if given."""

    async def release_command_sync(self, application_id: str, claim: str) -> None:
        """End a claim without recording a sync (the sync failed): the next start retries."""

    async def count_rows(self, table: str) -> int:
        """How many rows one of ``COPY_TABLES`` holds."""

    def export_rows(self, table: str, *, batch: int = 1000) -> AsyncIterator[list[Row]]:
        """Every row of one of ``COPY_TABLES``, its columns in ``COPY_TABLES`` order, in
        batches, in key order."""

    async def import_rows(self, table: str, rows: list[Row]) -> None:
        """Insert rows exported by ``export_rows`` (of any backend), keeping their ids."""

    async def remove_rows(self, table: str, keys: list[Row]) -> None:
        """Delete the rows of one of ``COPY_TABLES`` with these keys (``COPY_KEYS``): what an
        ``import_rows`` of a copy that failed put there."""

    async def forget_messages(self, message_ids: Sequence[str], *,
                              why: Kept = Kept.DELETED) -> Removed:
        """Delete every turn made from, or answered by, one of these messages, and leave a
        tombstone (``why``: deleted or edited) so a turn from them stored later is not kept
        (one transaction)."""

    async def forget_member(self, user_id: str, *, own_scopes: Sequence[str] = ()) -> Removed:
        """Delete, in one transaction, every turn the member spoke (the replies to them are in
        the same rows), the conversations in ``own_scopes`` (their DMs) whole, their
        preferences in every server and their usage; and leave a tombstone so nothing of
        theirs begun before now is stored later, by any process."""

    async def recent_sources(self, *, since: str, limit: int) -> list[tuple[str, str]]:
        """(scope, member's message id) of the newest ``limit`` turns made from a Discord
        message since ``since``, newest first: what to check for deletions missed while the
        bot was away."""

    async def prune_erasures(self, *, older_than: str) -> int:
        """Forget tombstones from before ``older_than`` (no reply takes that long)."""

    async def scrub(self) -> None:
        """Make rows erased so far physically gone from the database's files (SQLite: the
        write-ahead log truncated; PostgreSQL: the touched tables vacuumed). Erasures do this
        by themselves (PostgreSQL within ``SCRUB_DELAY`` seconds); this does it now."""

    async def prune(self, *, turns_before: str, usage_before: str) -> Removed:
        """Delete turns created before a timestamp and usage of days before a day."""

    async def referenced_media(self, content_hashes: Sequence[str]) -> set[str]:
        """Which of these content hashes a stored turn refers to (one query; keep batches to
        a few hundred)."""
