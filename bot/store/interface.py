"""The interface every store implements: conversations, preferences, limits, everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from omnicord.store.records import (
    SYNC_CLAIM_SECONDS,
    AccessList,
    CaptionMode,
    DailyUsage,
    Expired,
    GuildPreferences,
    Kept,
    MemberPreferences,
    PlaceSettings,
    Removed,
    Row,
    TalkSettings,
    Turn,
    UsageRow,
)


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

    async def replace_turn(self, scope: str, source_message_id: str, turn: Turn,
                           usage: UsageRow | None = None) -> Kept:
        """Replace the scope's turn made from ``source_message_id`` (if one is stored) with
        ``turn`` and store its usage, in one transaction: the old turn's row is deleted (no
        tombstone; the usage it cost stays). Kept out, the old turn left as it was, as
        ``add_turn`` keeps a turn out, except that an edit of the message only counts if it
        came at or after ``turn.created_at`` (the answer to an edited question)."""

    async def turn_for_message(self, message_id: str) -> tuple[str, Turn] | None:
        """(scope, turn) of the stored turn made from, or answered by, a message (a member's
        message or one of the messages that showed the reply); None when no turn is."""

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many were removed."""

    async def place_history(self, scope: str, prefix: str, *, limit: int | None = None
                            ) -> list[tuple[str, Turn]]:
        """(scope, turn) of ``scope`` and of every conversation whose scope starts with
        ``prefix`` (a channel's history and its reply chains), oldest first; only the newest
        ``limit`` turns when given."""

    async def reset_place(self, scope: str, prefix: str) -> int:
        """Delete the turns of ``scope`` and of every conversation whose scope starts with
        ``prefix``; return how many were removed."""

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

    async def remember_language(self, user_id: str, language: str) -> None:
        """Keep a member's Discord language on their direct-message preferences (one
        statement, written only when it changed; their other preferences untouched)."""

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

    async def place(self, channel_id: str) -> PlaceSettings:
        """A channel's or thread's own settings (all None when it never set any)."""

    async def save_place(self, guild_id: str, channel_id: str, chosen: PlaceSettings) -> None:
        """Replace a channel's or thread's own settings (its chat and caption switches stay)."""

    async def access(self, guild_id: str) -> AccessList:
        """The server's allow lists (empty: everyone, everywhere)."""

    async def set_access(self, guild_id: str, kind: str, target_id: str, allowed: bool) -> None:
        """Add a role or channel (``kind``) to the server's allow list, or remove it."""


class TalkStore(Protocol):
    """Live talk's settings and daily talk time per server (``omnicord.store.sql.talk``)."""

    async def settings(self, guild_id: str) -> TalkSettings:
        """What the server chose (talk off by default)."""

    async def save(self, guild_id: str, chosen: TalkSettings) -> None:
        """Replace the server's live-talk settings."""

    async def spend(self, guild_id: str, day: str, seconds: float) -> float:
        """Add talk time to the server's day; return the day's total so far."""

    async def used(self, guild_id: str, day: str) -> float:
        """The seconds the server talked on ``day``."""


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


class Store(ConversationStore, Protocol):
    """Everything Omnicord keeps: conversations, usage, preferences and shared limits.

    SQLite (``SqliteStore``) and PostgreSQL (``PostgresStore``) both implement it.
    """

    backend: str  # "sqlite" or "postgresql"

    @property
    def preferences(self) -> PreferenceStore:
        """Server, member and channel preferences."""

    @property
    def talk(self) -> TalkStore:
        """Live talk's settings per server and its talk time per day."""

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

    async def month_usage(self, key: str, month: str) -> list[tuple[str, int, int]]:
        """(model, prompt tokens, completion tokens) of a month (``YYYY-MM``, UTC) for the
        whole bot (key ``bot``) or a server (``guild:<id>``): counted by the database with
        every usage row, and never lowered by erasures or pruning."""

    async def claim_notice(self, key: str) -> bool:
        """True for exactly one caller of ``key`` ever, across processes (a notice to give
        once, such as ``budget-80:<guild or bot>:<YYYY-MM>``)."""

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
