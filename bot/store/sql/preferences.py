"""Server, member and channel preferences, written once for both backends."""

from __future__ import annotations

from omnicord.store.records import (
    AccessList,
    CaptionMode,
    GuildPreferences,
    MemberPreferences,
    PlaceSettings,
    utc_now,
)
from omnicord.store.rows import (
    GUILD_FIELDS,
    access_list,
    access_target,
    channel_role_column,
    guild_from_row,
    guild_values,
    member_from_row,
    member_values,
    storable,
)
from omnicord.store.sql import places
from omnicord.store.sql.dialect import Executor

_SAVE_GUILD = (
    f"INSERT INTO guild_settings (guild_id, {', '.join(GUILD_FIELDS)}, updated_at)"
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(GUILD_FIELDS) + 3))})"
    " ON CONFLICT (guild_id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in (*GUILD_FIELDS, "updated_at")))

_SAVE_MEMBER = (
    "INSERT INTO member_settings (guild_id, user_id, voice, reply_mode, updated_at,"
    " caption_language, language) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (guild_id, user_id) DO UPDATE SET"
    " voice = excluded.voice, reply_mode = excluded.reply_mode,"
    " updated_at = excluded.updated_at, caption_language = excluded.caption_language,"
    " language = excluded.language")

# Only the language column, so a concurrent change of the member's other preferences stands;
# no write at all when the language is the one kept.
_REMEMBER_LANGUAGE = (
    "INSERT INTO member_settings (guild_id, user_id, updated_at, language)"
    " VALUES ('', $1, $2, $3) ON CONFLICT (guild_id, user_id) DO UPDATE SET"
    " language = excluded.language, updated_at = excluded.updated_at"
    " WHERE member_settings.language IS NULL OR member_settings.language <> excluded.language")


class Preferences:
    """Preferences kept beside the conversation history, on whichever backend runs them."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def guild(self, guild_id: str) -> GuildPreferences:
        """A server's preferences (all None when it never set any)."""
        return guild_from_row(await self._db.fetchrow(
            f"SELECT {', '.join(GUILD_FIELDS)} FROM guild_settings WHERE guild_id = $1",
            guild_id))

    async def save_guild(self, guild_id: str, prefs: GuildPreferences) -> None:
        """Replace a server's preferences."""
        await self._db.execute(_SAVE_GUILD, guild_id, *guild_values(prefs), utc_now())

    async def member(self, guild_id: str, user_id: str) -> MemberPreferences:
        """A member's own preferences in a server ('' for direct messages)."""
        return member_from_row(await self._db.fetchrow(
            "SELECT voice, reply_mode, caption_language, language FROM member_settings"
            " WHERE guild_id = $1 AND user_id = $2", guild_id, user_id))

    async def save_member(self, guild_id: str, user_id: str, prefs: MemberPreferences) -> None:
        """Replace a member's preferences."""
        voice, mode, caption_language, language = member_values(prefs)
        await self._db.execute(_SAVE_MEMBER, guild_id, user_id, voice, mode, utc_now(),
                               caption_language, language)

    async def remember_language(self, user_id: str, language: str) -> None:
        """Keep a member's Discord language on their direct-message preferences (one
        statement, written only when it changed; their other preferences untouched)."""
        await self._db.execute(_REMEMBER_LANGUAGE, user_id, utc_now(), storable(language))

    async def channel_role(self, channel_id: str, role: str) -> bool:
        """Whether a channel is opened for chat or auto-captioning."""
        column = channel_role_column(role)
        row = await self._db.fetchrow(
            f"SELECT {column} FROM channel_settings WHERE channel_id = $1", channel_id)
        return bool(row and row[0])

    async def set_channel_role(
        self, guild_id: str, channel_id: str, role: str, enabled: bool
    ) -> None:
        """Open or close a channel for chat or auto-captioning."""
        column = channel_role_column(role)
        await self._db.execute(
            f"INSERT INTO channel_settings (channel_id, guild_id, {column}, updated_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET"
            f" {column} = excluded.{column}, updated_at = excluded.updated_at",
            channel_id, guild_id, int(enabled), utc_now())

    async def channels_with(self, guild_id: str, role: str) -> list[str]:
        """Ids of the server's channels with a role switched on, in byte order."""
        column = channel_role_column(role)
        rows = await self._db.fetch(
            f"SELECT channel_id FROM channel_settings WHERE guild_id = $1 AND {column} = 1"
            f" ORDER BY channel_id{self._db.dialect.byte_order}", guild_id)
        return [row[0] for row in rows]

    async def caption_mode(self, channel_id: str) -> CaptionMode:
        """What the channel's auto-captions post (``transcript`` for a channel never set)."""
        row = await self._db.fetchrow(
            "SELECT caption_mode FROM channel_settings WHERE channel_id = $1", channel_id)
        return CaptionMode(row[0]) if row and row[0] else CaptionMode.TRANSCRIPT

    async def set_caption_mode(self, guild_id: str, channel_id: str, mode: CaptionMode) -> None:
        """Choose what the channel's auto-captions post (kept while captions are off)."""
        await self._db.execute(
            "INSERT INTO channel_settings (channel_id, guild_id, caption_mode, updated_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO UPDATE SET"
            " caption_mode = excluded.caption_mode, updated_at = excluded.updated_at",
            channel_id, guild_id, CaptionMode(mode).value, utc_now())

    async def place(self, channel_id: str) -> PlaceSettings:
        """A channel's or thread's own settings (all None when it never set any)."""
        return await places.place(self._db, channel_id)

    async def save_place(self, guild_id: str, channel_id: str, chosen: PlaceSettings) -> None:
        """Replace a channel's or thread's own settings."""
        await places.save_place(self._db, guild_id, channel_id, chosen)

    async def access(self, guild_id: str) -> AccessList:
        """The server's allow lists (empty: everyone, everywhere)."""
        rows = await self._db.fetch("SELECT target FROM guild_access WHERE guild_id = $1",
                                    guild_id)
        return access_list([row[0] for row in rows])

    async def set_access(self, guild_id: str, kind: str, target_id: str, allowed: bool) -> None:
        """Add a role or channel to the server's allow list, or remove it."""
        target = access_target(kind, target_id)
        if allowed:
            await self._db.execute(
                "INSERT INTO guild_access (guild_id, target, updated_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (guild_id, target) DO UPDATE SET updated_at = excluded.updated_at",
                guild_id, target, utc_now())
        else:
            await self._db.execute(
                "DELETE FROM guild_access WHERE guild_id = $1 AND target = $2", guild_id, target)
