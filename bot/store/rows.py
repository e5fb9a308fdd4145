"""Turning records into rows and rows into records, the same on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from omnicord.media.types import MediaRef
from omnicord.store.records import (
    ACCESS_KINDS,
    CHANNEL_ROLES,
    AccessList,
    GuildPreferences,
    MemberPreferences,
    ReplyMode,
    Row,
    Turn,
    UsageRow,
)


class Record(Protocol):
    """A result row read by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: str, /) -> Any: ...


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
                "caption_language", "monthly_token_budget", "monthly_money_budget", "language")


def guild_values(prefs: GuildPreferences) -> tuple[Any, ...]:
    """A server's preferences as the values of ``GUILD_FIELDS`` (text without NULs)."""
    return tuple(map(storable, (
        prefs.model, prefs.voice, prefs.reply_mode.value if prefs.reply_mode else None,
        None if prefs.thinking is None else int(prefs.thinking), prefs.system_prompt,
        prefs.daily_token_cap, prefs.caption_language, prefs.monthly_token_budget,
        prefs.monthly_money_budget, prefs.language)))


def member_values(prefs: MemberPreferences) -> tuple[Any, ...]:
    """A member's preferences as (voice, reply_mode, caption_language, language), text without
    NULs."""
    return tuple(map(storable, (prefs.voice, prefs.reply_mode.value if prefs.reply_mode else None,
                                prefs.caption_language, prefs.language)))


def guild_from_row(row: Sequence[Any] | None) -> GuildPreferences:
    """A server's preferences from its ``GUILD_FIELDS`` (all None without a row)."""
    if row is None:
        return GuildPreferences()
    model, voice, mode, thinking, prompt, cap, captions, tokens, dollars, language = tuple(row)
    return GuildPreferences(
        model=model, voice=voice, reply_mode=ReplyMode(mode) if mode else None,
        thinking=None if thinking is None else bool(thinking), system_prompt=prompt,
        daily_token_cap=cap, caption_language=captions, monthly_token_budget=tokens,
        monthly_money_budget=None if dollars is None else float(dollars), language=language,
    )


def member_from_row(row: Sequence[Any] | None) -> MemberPreferences:
    """A member's preferences from (voice, reply_mode, caption_language, language)."""
    if row is None:
        return MemberPreferences()
    return MemberPreferences(voice=row[0], reply_mode=ReplyMode(row[1]) if row[1] else None,
                             caption_language=row[2], language=row[3])


def usage_values(usage: UsageRow | None) -> tuple[str | int | None, ...]:
    """A request's usage as (day, guild, channel, member, model, prompt, completion) tokens
    (all None without usage)."""
    if usage is None:
        return (None,) * 7
    return (usage.day, usage.guild_id, usage.channel_id, usage.user_id, usage.model,
            usage.prompt_tokens, usage.completion_tokens)


def turn_values(turn: Turn) -> tuple[Any, ...]:
    """A turn's (speaker id, speaker name, text, media json, reply text, model, usage json,
    created at, replied at, source message id, reply message ids json), text without NULs."""
    return (turn.speaker_id, without_nul(turn.speaker_name), without_nul(turn.text),
            json.dumps([m.to_dict() for m in turn.media]), without_nul(turn.reply_text),
            turn.model, json.dumps(turn.usage) if turn.usage is not None else None,
            turn.created_at, turn.replied_at, turn.source_message_id,
            json.dumps(list(turn.reply_message_ids)))


def row_without_nul(row: Row) -> Row:
    """A copied row as both backends store it: its text without NUL characters."""
    return tuple(map(storable, row))
