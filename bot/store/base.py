"""SQL helpers both stores share (the records and interface re-exported for now)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from omnicord.media.types import MediaRef
from omnicord.store.interface import ConversationStore, Limits, PreferenceStore, Store
from omnicord.store.records import (
    ACCESS_KINDS,
    CHANNEL_ROLES,
    ERASURE_KEEP_SECONDS,
    SYNC_CLAIM_SECONDS,
    AccessList,
    CaptionMode,
    DailyUsage,
    Expired,
    GuildPreferences,
    Kept,
    MemberPreferences,
    Removed,
    ReplyMode,
    Row,
    SlotsFull,
    Turn,
    UsageRow,
    utc_now,
    utc_today,
)

__all__ = [  # the records and interface, re-exported while callers move to their modules
    "ACCESS_KINDS", "CHANNEL_ROLES", "ERASURE_KEEP_SECONDS", "SYNC_CLAIM_SECONDS", "AccessList",
    "CaptionMode", "ConversationStore", "DailyUsage", "Expired", "GuildPreferences", "Kept",
    "Limits", "MemberPreferences", "PreferenceStore", "Removed", "ReplyMode", "Row", "SlotsFull",
    "Store", "Turn", "UsageRow", "utc_now", "utc_today",
]


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


#: Tombstone kinds: an erased member (subject: a user id), a deleted or edited message
#: (subject: a message id). The message kinds' values are ``Kept`` values.
MEMBER_ERASED = "member"
MESSAGE_ERASURES = (Kept.DELETED.value, Kept.EDITED.value)
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


def channel_role_column(role: str) -> str:
    """The column storing a channel role (checked: the name goes into SQL)."""
    if role not in CHANNEL_ROLES:
        raise ValueError(f"unknown channel role {role!r}")
    return role


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


def command_hash_key(application_id: str) -> str:
    """The ``bot_state`` key of the hash of an application's slash commands last synced."""
    return f"commands:{application_id}"


def command_claim_key(application_id: str) -> str:
    """The ``bot_state`` key of the claim to sync an application's slash commands: its value
    is ``"<expiry> <token>"``, the expiry an ISO 8601 UTC time."""
    return f"commands-sync:{application_id}"
