"""``SocketGateway``: Discord's gateway as a real websocket on ``FakeDiscord``'s server, for a
bot in another process (a real ``omnicord run`` under test).

discord.py connects to the URL ``GET /gateway/bot`` names (``ws://127.0.0.1:<port>/gateway``),
gets HELLO, sends IDENTIFY (recorded, intents included, in ``identifies``) and gets READY
listing the guilds made with ``add_guild`` as unavailable, then one GUILD_CREATE each, as
Discord does. Heartbeats are acknowledged; a RESUME gets INVALID_SESSION, so the bot identifies
again. ``deliver`` sends a dispatch to every connected session; what the bot creates over REST
comes back as gateway events (``FakeDiscord.gateway_sink``). discord.py asks for zlib-stream
compression in the URL, but it reads plain text frames as they are, so frames are plain JSON.

Unlike ``FakeGateway`` (in-memory, for bots in the test's own process), this gateway and the
REST API it shares a server with run in ``FakeDiscord``'s thread: the test's thread calls
``deliver``, ``message_create`` and ``wait_identified`` safely.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from dataclasses import dataclass, field

import discord
from aiohttp import WSMsgType, web

from tests.doubles.fake_discord.gateway import (
    DISPATCH,
    HEARTBEAT,
    HEARTBEAT_ACK,
    HELLO,
    IDENTIFY,
)
from tests.doubles.fake_discord.payloads import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    JSONDict,
    guild_payload,
    member_payload,
    role_payload,
    snowflake_iso,
    text_channel_payload,
    user_payload,
)
from tests.doubles.fake_discord.server import FakeDiscord

RESUME, INVALID_SESSION = 6, 9
HEARTBEAT_MS = 41_250


@dataclass
class Guild:
    """A guild the gateway announces: its id, text channel ids and GUILD_CREATE payload."""

    id: int
    channel_ids: list[int]
    payload: JSONDict


@dataclass
class _Session:
    socket: web.WebSocketResponse
    identify: JSONDict | None = None
    seq: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, op: int, data: object, event: str | None = None) -> None:
        async with self.lock:  # sequence numbers go out in order
            frame: JSONDict = {"op": op, "d": data, "s": None, "t": event}
            if op == DISPATCH:
                self.seq += 1
                frame["s"] = self.seq
            await self.socket.send_str(json.dumps(frame))


class SocketGateway:
    """A websocket gateway on ``fake`` (see the module docstring); ``fake`` must be started."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.guilds: list[Guild] = []
        self.identifies: list[JSONDict] = []
        self._sessions: list[_Session] = []
        self._identified = threading.Condition()
        self._echoes: set[asyncio.Task[None]] = set()
        fake.socket_gateway = self._serve
        fake.gateway_sink = self._echo

    # ----------------------------------------------------------------- the world

    def add_guild(self, name: str = "Omni Test", channels: tuple[str, ...] = ("general",)
                  ) -> Guild:
        """A guild with the bot, an owner and text channels, announced at the next READY."""
        fake = self.fake
        guild_id, bot_role = fake.new_id(), fake.new_id()
        roles = [role_payload(guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS),
                 role_payload(bot_role, str(fake.bot_user["username"]), DEFAULT_BOT_PERMISSIONS,
                              position=1, bot_id=int(fake.bot_user["id"]))]
        owner = user_payload(fake.new_id(), "guild-owner")
        members = [member_payload(fake.bot_user, [bot_role]), member_payload(owner)]
        chans = [text_channel_payload(fake.new_id(), guild_id, n, position=i)
                 for i, n in enumerate(channels)]
        with fake._lock:
            fake.users[int(owner["id"])] = owner
            for member in members:
                fake.members[(guild_id, int(member["user"]["id"]))] = member
            for channel in chans:
                fake.channels[int(channel["id"])] = channel
        guild = Guild(guild_id, [int(c["id"]) for c in chans],
                      guild_payload(guild_id, name, owner_id=int(owner["id"]), roles=roles,
                                    members=members, channels=chans))
        self.guilds.append(guild)
        return guild

    def add_member(self, guild: Guild, name: str) -> JSONDict:
        """A new user who is a member of ``guild``; their user payload."""
        user = user_payload(self.fake.new_id(), name)
        with self.fake._lock:
            self.fake.users[int(user["id"])] = user
            self.fake.members[(guild.id, int(user["id"]))] = member_payload(user)
        return user

    def message_create(self, guild: Guild, channel_id: int, author: JSONDict, content: str,
                       *, mention_bot: bool = False) -> JSONDict:
        """A member's message (``mention_bot`` prefixes ``<@bot>``), stored and delivered."""
        bot = self.fake.bot_user
        message_id = self.fake.new_id()
        member = {k: v for k, v in self.fake.members[(guild.id, int(author["id"]))].items()
                  if k != "user"}
        mentions = [{**bot, "member": {k: v for k, v in self.fake.members[
            (guild.id, int(bot["id"]))].items() if k != "user"}}] if mention_bot else []
        data: JSONDict = {
            "id": str(message_id), "channel_id": str(channel_id), "author": author,
            "content": f"<@{bot['id']}> {content}" if mention_bot else content,
            "timestamp": snowflake_iso(message_id), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": mentions, "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
            "components": [], "nonce": str(message_id),
        }
        with self.fake._lock:
            self.fake.messages[message_id] = dict(data)
        self.deliver("MESSAGE_CREATE", {**data, "guild_id": str(guild.id), "member": member})
        return data

    # ----------------------------------------------------------------- test thread API

    def deliver(self, event: str, data: JSONDict, timeout: float = 10.0) -> None:
        """Send a dispatch to every connected session (from the test's thread)."""
        assert self.fake._loop is not None
        asyncio.run_coroutine_threadsafe(self._dispatch(event, data),
                                         self.fake._loop).result(timeout)

    def wait_identified(self, count: int = 1, timeout: float = 30.0) -> list[JSONDict]:
        """Wait until ``count`` IDENTIFYs came; the IDENTIFY payloads (``d``)."""
        with self._identified:
            if not self._identified.wait_for(lambda: len(self.identifies) >= count, timeout):
                raise TimeoutError(f"{len(self.identifies)} of {count} IDENTIFYs came")
            return list(self.identifies)

    # ----------------------------------------------------------------- the socket

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        session = _Session(socket)
        self._sessions.append(session)
        try:
            await session.send(HELLO, {"heartbeat_interval": HEARTBEAT_MS})
            async for frame in socket:
                if frame.type is WSMsgType.TEXT:
                    await self._receive(session, json.loads(frame.data))
        finally:
            self._sessions.remove(session)
        return socket

    async def _receive(self, session: _Session, message: JSONDict) -> None:
        op = message.get("op")
        if op == HEARTBEAT:
            await session.send(HEARTBEAT_ACK, None)
        elif op == IDENTIFY:
            await self._identify(session, message["d"])
        elif op == RESUME:
            await session.send(INVALID_SESSION, False)

    async def _identify(self, session: _Session, identify: JSONDict) -> None:
        session.identify = identify
        with self._identified:
            self.identifies.append(identify)
            self._identified.notify_all()
        await session.send(DISPATCH, self._ready(request_shard=identify.get("shard")), "READY")
        for guild in self.guilds:
            await session.send(DISPATCH, json.loads(json.dumps(guild.payload)), "GUILD_CREATE")

    def _ready(self, request_shard: list[int] | None) -> JSONDict:
        data: JSONDict = {
            "v": 10, "user": self.fake.bot_user, "private_channels": [],
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds],
            "session_id": secrets.token_hex(16),
            "resume_gateway_url": f"ws://127.0.0.1:{self.fake.port}/gateway",
            "application": {"id": str(self.fake.application_id), "flags": 0},
        }
        if request_shard is not None:
            data["shard"] = request_shard
        return data

    async def _dispatch(self, event: str, data: JSONDict) -> None:
        for session in [s for s in self._sessions if s.identify is not None]:
            await session.send(DISPATCH, data, event)

    def _echo(self, event: str, data: JSONDict) -> None:
        """What the bot changed over REST, back as the gateway event (in the fake's loop)."""
        task = asyncio.get_running_loop().create_task(self._dispatch(event, data))
        self._echoes.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._echoes.discard)


def has_message_content(identify: JSONDict) -> bool:
    """Whether an IDENTIFY asked for the Message Content intent."""
    return discord.Intents._from_value(int(identify["intents"])).message_content
