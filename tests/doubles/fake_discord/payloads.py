"""Discord API v10 payload builders: the plain dicts the gateway and the REST API carry.

``DiscordHarness`` feeds these to discord.py's own parsers and ``FakeDiscord`` answers with them,
so both sides agree on one shape for users, roles, members, channels, threads and DMs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import discord

JSONDict = dict[str, Any]

#: What @everyone may do in a guild made by ``DiscordHarness.add_guild`` (Discord's defaults).
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True,
    create_public_threads=True, create_private_threads=True, embed_links=True,
    attach_files=True, add_reactions=True, read_message_history=True,
    use_application_commands=True, send_voice_messages=True, use_external_emojis=True,
    connect=True, speak=True,
)
#: The bot's managed role: what Omnicord's invite link asks for.
DEFAULT_BOT_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True,
    create_public_threads=True, embed_links=True, attach_files=True,
    read_message_history=True, send_voice_messages=True, add_reactions=True,
)


def iso(ts: datetime | None = None) -> str:
    """ISO-8601 timestamp as Discord writes it."""
    return (ts or datetime.now(UTC)).isoformat()


def snowflake_iso(snowflake: int) -> str:
    """The creation time encoded in a snowflake, as an ISO timestamp."""
    return iso(discord.utils.snowflake_time(snowflake))


def strip_reference(msg: JSONDict) -> JSONDict:
    """A message object as Discord nests it in ``referenced_message`` (one level only)."""
    return {k: v for k, v in msg.items() if k not in ("referenced_message", "member")}


def user_payload(user_id: int, name: str, *, bot: bool = False,
                 global_name: str | None = None) -> JSONDict:
    """A Discord user object."""
    return {"id": str(user_id), "username": name, "discriminator": "0",
            "global_name": global_name if global_name is not None else name.title(),
            "avatar": None, "bot": bot, "system": False, "public_flags": 0, "flags": 0,
            "banner": None, "accent_color": None, "avatar_decoration_data": None}


def role_payload(role_id: int, name: str, permissions: discord.Permissions, *,
                 position: int = 0, bot_id: int | None = None) -> JSONDict:
    """A Discord role object (``bot_id`` makes it the bot's managed role)."""
    role: JSONDict = {"id": str(role_id), "name": name, "color": 0,
                      "colors": {"primary_color": 0, "secondary_color": None,
                                 "tertiary_color": None},
                      "hoist": False, "icon": None, "unicode_emoji": None, "position": position,
                      "permissions": str(permissions.value), "managed": bot_id is not None,
                      "mentionable": False, "flags": 0}
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def member_payload(user: JSONDict, roles: Iterable[int] = (), *,
                   nick: str | None = None) -> JSONDict:
    """A guild member object (with its ``user``)."""
    return {"user": user, "nick": nick, "avatar": None, "banner": None,
            "roles": [str(r) for r in roles], "joined_at": iso(), "premium_since": None,
            "deaf": False, "mute": False, "flags": 0, "pending": False,
            "communication_disabled_until": None}


def text_channel_payload(channel_id: int, guild_id: int, name: str, *, position: int = 0,
                         overwrites: Sequence[JSONDict] = (), nsfw: bool = False,
                         topic: str | None = None) -> JSONDict:
    """A guild text channel object."""
    return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name,
            "position": position, "permission_overwrites": list(overwrites), "nsfw": nsfw,
            "parent_id": None, "topic": topic, "last_message_id": None,
            "rate_limit_per_user": 0, "flags": 0, "default_auto_archive_duration": 4320}


def voice_channel_payload(channel_id: int, guild_id: int, name: str, *,
                          position: int = 0) -> JSONDict:
    """A guild voice channel object (type 2)."""
    return {"id": str(channel_id), "type": 2, "guild_id": str(guild_id), "name": name,
            "position": position, "permission_overwrites": [], "nsfw": False,
            "parent_id": None, "bitrate": 64_000, "user_limit": 0, "rtc_region": None,
            "video_quality_mode": 1, "last_message_id": None, "rate_limit_per_user": 0,
            "flags": 0}


def voice_state_payload(guild_id: int, channel_id: int | None, member: JSONDict, *,
                        session_id: str = "", self_mute: bool = False,
                        self_deaf: bool = False) -> JSONDict:
    """VOICE_STATE_UPDATE's data: ``member`` in ``channel_id`` (``None``: left voice)."""
    return {"guild_id": str(guild_id), "channel_id": str(channel_id) if channel_id else None,
            "user_id": member["user"]["id"], "member": member, "session_id": session_id,
            "deaf": False, "mute": False, "self_deaf": self_deaf, "self_mute": self_mute,
            "self_stream": False, "self_video": False, "suppress": False,
            "request_to_speak_timestamp": None}


def thread_payload(thread_id: int, guild_id: int, parent_id: int, name: str, *, owner_id: int,
                   private: bool = False, auto_archive_duration: int = 4320) -> JSONDict:
    """A thread channel object (public thread, or private with ``private=True``)."""
    now = iso()
    return {"id": str(thread_id), "type": 12 if private else 11, "guild_id": str(guild_id),
            "parent_id": str(parent_id), "owner_id": str(owner_id), "name": name,
            "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0,
            "member_count": 1, "total_message_sent": 0, "flags": 0, "applied_tags": [],
            "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                "archive_timestamp": now, "locked": False, "invitable": True,
                                "create_timestamp": now}}


def dm_channel_payload(channel_id: int, recipient: JSONDict) -> JSONDict:
    """A DM channel object."""
    return {"id": str(channel_id), "type": 1, "last_message_id": None,
            "recipients": [recipient], "flags": 0}


def guild_payload(guild_id: int, name: str, *, owner_id: int, roles: Sequence[JSONDict],
                  members: Sequence[JSONDict], channels: Sequence[JSONDict],
                  premium_tier: int = 0, preferred_locale: str = "en-US") -> JSONDict:
    """A guild object as GUILD_CREATE carries it (available, with its members and channels)."""
    return {
        "id": str(guild_id), "name": name, "icon": None, "splash": None,
        "discovery_splash": None, "owner_id": str(owner_id), "afk_channel_id": None,
        "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "roles": list(roles), "emojis": [], "stickers": [],
        "features": [], "mfa_level": 0, "application_id": None,
        "system_channel_id": channels[0]["id"] if channels else None,
        "system_channel_flags": 0, "rules_channel_id": None, "max_members": 500_000,
        "vanity_url_code": None, "description": None, "banner": None,
        "premium_tier": premium_tier, "premium_subscription_count": 0,
        "preferred_locale": preferred_locale, "public_updates_channel_id": None, "nsfw_level": 0,
        "premium_progress_bar_enabled": False, "joined_at": iso(), "large": False,
        "unavailable": False, "member_count": len(members), "voice_states": [],
        "members": list(members), "channels": list(channels), "threads": [], "presences": [],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    }
