"""``FakeGateway``: Discord's gateway for one or more (sharded) bots, without a websocket.

``attach(bot)`` points the bot's ``http.ws_connect`` at an in-memory socket, so discord.py's own
connection code runs (``bot.connect()``): each shard gets HELLO, sends IDENTIFY (recorded as a
``Session`` with its ``[shard_id, shard_count]``) and gets READY for the shard it named. Events
then reach bots as Discord routes them (``deliver``): a guild's events only to the sessions of
shard ``(guild_id >> 22) % shard_count``, DMs to shard 0. Several bots attached to one gateway
stand for the processes of one sharded bot. A bot that IDENTIFYs without ``shard`` is
``[0, 1]``: it receives everything.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord

from tests.doubles.fake_discord.payloads import JSONDict, member_payload, voice_state_payload
from tests.doubles.fake_discord.server import FakeDiscord

#: Names of the tasks that read a shard for its whole session (``harness.settle`` skips them).
SHARD_TASK_PREFIX = "fake-gateway"

DISPATCH, HEARTBEAT, IDENTIFY, VOICE_STATE_UPDATE, HELLO, HEARTBEAT_ACK = 0, 1, 2, 4, 10, 11
#: How long Discord takes to confirm that a bot left a voice channel (a network round trip).
LEAVE_CONFIRMATION_SECONDS = 0.1
GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})  # "id" is the guild


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends a guild's events to (DMs: shard 0)."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


@dataclass
class Session:
    """One IDENTIFYed shard of one bot: its ``identify`` payload (``d``) as sent."""

    bot: discord.Client
    identify: JSONDict
    socket: _Socket

    @property
    def shard(self) -> list[int]:
        """``[shard_id, shard_count]`` as IDENTIFY named it (``[0, 1]`` when unsharded)."""
        return list(self.identify.get("shard") or [0, 1])


@dataclass
class _Frame:
    """What ``DiscordWebSocket.poll_event`` reads from ``socket.receive()``."""

    type: aiohttp.WSMsgType
    data: str | None = None


@dataclass
class _Socket:
    """The part of ``aiohttp.ClientWebSocketResponse`` that ``DiscordWebSocket`` uses."""

    gateway: FakeGateway
    bot: discord.Client
    closed: bool = False
    close_code: int | None = None
    _inbox: asyncio.Queue[_Frame] = field(default_factory=asyncio.Queue)
    _seq: int = 0

    def __post_init__(self) -> None:
        self._send(HELLO, {"heartbeat_interval": 3_600_000})  # no timed heartbeats in a test

    async def receive(self, timeout: float | None = None) -> _Frame:
        # A shard's reader waits here for its whole session: name it so settle() skips it.
        task = asyncio.current_task()
        if task is not None and not task.get_name().startswith(SHARD_TASK_PREFIX):
            task.set_name(f"{SHARD_TASK_PREFIX}-reader")
        return await self._inbox.get()  # no timeout: the fake never goes quiet on its own

    async def send_str(self, data: str) -> None:
        message = json.loads(data)
        if message["op"] == HEARTBEAT:
            self._send(HEARTBEAT_ACK, None)
        elif message["op"] == IDENTIFY:
            session = Session(self.bot, message["d"], self)
            self.gateway.sessions.append(session)
            self._dispatch("READY", self.gateway.ready_payload(session))
        elif message["op"] == VOICE_STATE_UPDATE:
            self.gateway.bot_voice_state(self, message["d"])

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self.closed:
            return False
        self.closed, self.close_code = True, code
        self.gateway.sessions[:] = [s for s in self.gateway.sessions if s.socket is not self]
        self._inbox.put_nowait(_Frame(aiohttp.WSMsgType.CLOSED))
        return True

    def _send(self, op: int, data: object, event: str | None = None) -> None:
        frame: JSONDict = {"op": op, "d": data, "s": None, "t": event}
        if op == DISPATCH:
            self._seq += 1
            frame["s"] = self._seq
        self._inbox.put_nowait(_Frame(aiohttp.WSMsgType.TEXT, json.dumps(frame)))

    def _dispatch(self, event: str, data: JSONDict) -> None:
        self._send(DISPATCH, data, event)


class FakeGateway:
    """Discord's gateway for bots whose REST API is ``fake`` (see the module docstring)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: list[Session] = []
        #: Discord's voice server (``tests.doubles.fake_voice.FakeVoiceServer``): a bot's op 4
        #: gets VOICE_SERVER_UPDATE naming it, and voice websockets reach it.
        self.voice: Any = None
        #: Every op 4 (VOICE_STATE_UPDATE) a bot sent, as sent.
        self.voice_requests: list[JSONDict] = []

    def attach(self, bot: discord.Client) -> None:
        """Make ``bot.connect()`` connect here; call after ``bot.login``."""

        async def ws_connect(url: str, *, compress: int = 0) -> Any:
            if self.voice is not None and url.startswith("wss://") and "v=8" in url:
                return await self.voice.ws_connect(url)  # a voice websocket: a real one
            return _Socket(self, bot)

        async def no_identify_pacing(shard_id: int | None, *, initial: bool = False) -> None:
            """Discord paces IDENTIFYs (5 s apart by default); this gateway takes them at once."""

        bot.http.ws_connect = ws_connect  # type: ignore[method-assign,assignment]
        bot.before_identify_hook = no_identify_pacing  # type: ignore[method-assign]
        bot._connection.guild_ready_timeout = 0  # READY lists no guilds: nothing to wait for

    def ready_payload(self, session: Session) -> JSONDict:
        """READY for a session (its guilds come later, as GUILD_CREATE)."""
        data: JSONDict = {
            "v": 10, "user": self.fake.bot_user, "guilds": [], "private_channels": [],
            "session_id": secrets.token_hex(16), "resume_gateway_url": "ws://127.0.0.1:9",
            "application": {"id": str(self.fake.application_id), "flags": 0},
        }
        if "shard" in session.identify:
            data["shard"] = session.shard
        return data

    def bot_voice_state(self, socket: _Socket, request: JSONDict) -> None:
        """The bot's op 4: Discord answers with VOICE_STATE_UPDATE for the bot (and, when it
        joins a channel, VOICE_SERVER_UPDATE naming the voice server) on the same shard."""
        self.voice_requests.append(request)
        guild_id, channel_id = request["guild_id"], request.get("channel_id")
        bot_id = int(self.fake.bot_user["id"])
        state = voice_state_payload(
            int(guild_id), int(channel_id) if channel_id else None,
            self.fake.members.get((int(guild_id), bot_id)) or member_payload(
                self.fake.bot_user), session_id=secrets.token_hex(16),
            self_mute=bool(request.get("self_mute")), self_deaf=bool(request.get("self_deaf")))
        if channel_id is None:
            # Discord confirms a leave after a round trip, once the voice websocket has closed:
            # discord.py 2.7.1 reads an instant confirmation as an outside disconnect, leaves a
            # second time and waits out its whole timeout for a confirmation that never comes.
            asyncio.get_running_loop().call_later(
                LEAVE_CONFIRMATION_SECONDS, socket._dispatch, "VOICE_STATE_UPDATE", state)
            return
        socket._dispatch("VOICE_STATE_UPDATE", state)
        if channel_id and self.voice is not None:
            socket._dispatch("VOICE_SERVER_UPDATE", {"token": secrets.token_hex(8),
                                                     "guild_id": str(guild_id),
                                                     "endpoint": self.voice.endpoint})

    def shards_of(self, bot: discord.Client) -> list[list[int]]:
        """``[shard_id, shard_count]`` of each session ``bot`` IDENTIFYed, in order."""
        return [s.shard for s in self.sessions if s.bot is bot]

    def recipients(self, guild_id: int | None) -> list[discord.Client]:
        """The bots with a session on the shard Discord routes ``guild_id`` to."""
        bots: list[discord.Client] = []
        for session in self.sessions:
            shard_id, shard_count = session.shard
            if shard_of(guild_id, shard_count) == shard_id and session.bot not in bots:
                bots.append(session.bot)
        return bots

    def deliver(self, event: str, data: JSONDict) -> list[discord.Client]:
        """Parse a dispatch in each bot that Discord routes it to; returns those bots."""
        guild_id = data.get("guild_id") or (data.get("id") if event in GUILD_EVENTS else None)
        bots = self.recipients(int(guild_id) if guild_id else None)
        for bot in bots:
            bot._connection.parsers[event](copy.deepcopy(data))
        return bots
