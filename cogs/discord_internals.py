"""The one module that touches discord.py's private internals; every other module calls these.

discord.py 2.7 has no public API for what these do: sending a message with a hand-built
multipart body (a native voice message), telling which guilds a command tree holds commands
for, Discord's REST API without a gateway (``omnicord doctor``), and hearing a voice channel
(live talk: ``omnicord.cogs.voice``). Each use is checked by
``tests/cogs/test_discord_internals.py``, and pyproject pins discord.py below its next minor
release: adapt this module (only) when a release changes one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.http import HTTPClient, Route

if TYPE_CHECKING:
    from discord.abc import MessageableChannel

Tree = app_commands.CommandTree[Any]


def api_base() -> str:
    """The base URL of Discord's REST API that discord.py sends requests to (tests point it at
    a fake Discord)."""
    return Route.BASE


async def target_channel(channel: discord.abc.Messageable) -> MessageableChannel:
    """The channel a messageable sends into (a member or user: their DM channel)."""
    return await channel._get_channel()


async def post_message(target: MessageableChannel, payload: dict[str, Any], file: discord.File, *,
                       content_type: str) -> discord.Message:
    """``POST /channels/{id}/messages`` with ``payload`` as its ``payload_json`` and ``file``
    as its one attachment, sent as ``content_type`` (discord.py sends every file as
    application/octet-stream), through discord.py's own HTTP client: rate limits, retries and
    errors (``discord.HTTPException``) as for any message. The caller closes ``file``."""
    state = target._state
    form: list[dict[str, Any]] = [
        {"name": "payload_json", "value": discord.utils._to_json(payload)},
        {"name": "files[0]", "value": file.fp, "filename": file.filename,
         "content_type": content_type},
    ]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=target.id)
    data = await state.http.request(route, files=[file], form=form)
    return state.create_message(channel=target, data=data)


def guilds_with_commands(tree: Tree) -> set[int]:
    """The guilds ``tree`` holds guild-only slash commands (or groups) for."""
    return set(tree._guild_commands)


def guilds_with_context_menus(tree: Tree) -> set[int]:
    """The guilds ``tree`` holds guild-only context menus for."""
    return {guild for (_, guild, _) in tree._context_menus if guild is not None}


class RestApi:
    """Discord's REST API for one bot token, without a gateway connection: discord.py's own
    HTTP client (rate limits, retries, errors as ``discord.HTTPException``)."""

    def __init__(self, *, max_ratelimit_timeout: float) -> None:
        self._http = HTTPClient(asyncio.get_running_loop(),
                                max_ratelimit_timeout=max_ratelimit_timeout)

    async def login(self, token: str) -> Any:
        """Log in with ``token``: the bot's user (``discord.LoginFailure`` if refused)."""
        return await self._http.static_login(token)

    async def get(self, path: str) -> Any:
        """``GET path`` (such as ``/applications/@me``), as decoded JSON."""
        return await self._http.request(Route("GET", path))

    async def guilds(self, limit: int, *, after: Any = None) -> Any:
        """One page of the servers the bot is in (partial guilds, with its permissions)."""
        return await self._http.get_guilds(limit, after=after, with_counts=False)

    async def close(self) -> None:
        """Close the client's connections."""
        await self._http.close()


# --------------------------------------------------------------------------- voice
# discord.py 2.7 sends voice but does not receive it; live talk hears members through the
# voice connection's state object (``VoiceClient._connection``, a ``VoiceConnectionState``):
# its websocket hook (voice gateway events), its socket listeners (raw UDP datagrams) and its
# DAVE session.

VoiceHook = Callable[[Any, dict[str, Any]], Coroutine[Any, Any, Any]]


def voice_connection_state(client: discord.VoiceClient, hook: VoiceHook) -> Any:
    """A ``VoiceConnectionState`` for ``client`` whose voice websocket calls ``hook(ws, msg)``
    after handling each JSON message (for ``VoiceClient.create_connection_state``)."""
    from discord.voice_state import VoiceConnectionState

    return VoiceConnectionState(client, hook=hook)


def add_socket_listener(client: discord.VoiceClient, callback: Callable[[bytes], Any]) -> None:
    """Call ``callback(datagram)`` for each UDP datagram the voice socket receives, in
    discord.py's socket reader thread."""
    client._connection.add_socket_listener(callback)


def remove_socket_listener(client: discord.VoiceClient,
                           callback: Callable[[bytes], Any]) -> None:
    """Stop calling ``callback`` (a no-op if it is not listening)."""
    client._connection.remove_socket_listener(callback)


def dave_state(client: discord.VoiceClient) -> tuple[int, Any]:
    """The connection's DAVE protocol version (0: off) and its live ``davey.DaveSession``
    (``None`` before one exists); read again for every frame, as discord.py replaces and
    re-keys the session."""
    connection = client._connection
    return connection.dave_protocol_version, connection.dave_session
