"""``DiscordHarness``: a real discord.py bot driven by injected gateway events, its HTTP
pointed at ``FakeDiscord``, and the pytest fixtures that start one.

Only Discord's *gateway* is simulated: the harness builds real gateway payload dicts
(``payloads.py``) and feeds them to the bot's ``ConnectionState`` parsers, so discord.py creates
its real objects and dispatches its real events (``on_message``, the app-command tree).
Everything the bot sends goes over real HTTP to the fake server. The harness points
``bot.http.get_from_cdn`` (``Attachment.read``) at the fake CDN and gives the bot's aiohttp
session a resolver that refuses every host name, so nothing leaves 127.0.0.1.

Fixtures (``harness``, ``discord_harness``) live here, not in conftest.py:
import them into a test module as ``from tests.doubles.fake_discord import harness as harness``
(the ``as`` form keeps ruff's F811 quiet), or list this module in a conftest's
``pytest_plugins``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import mimetypes
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
import discord
import discord.http
import pytest_asyncio
from aiohttp.abc import AbstractResolver, ResolveResult
from discord import app_commands
from discord.ext import commands

from tests.doubles.fake_discord.gateway import SHARD_TASK_PREFIX, FakeGateway
from tests.doubles.fake_discord.payloads import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    JSONDict,
    dm_channel_payload,
    guild_payload,
    member_payload,
    role_payload,
    snowflake_iso,
    strip_reference,
    text_channel_payload,
    user_payload,
)
from tests.doubles.fake_discord.rules import IS_VOICE_MESSAGE, UPLOAD_LIMIT
from tests.doubles.fake_discord.server import CapturedRequest, FakeDiscord


class _LocalOnlyResolver(AbstractResolver):
    """Refuses to resolve any host name, so the bot under test cannot reach the network."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve ``localhost`` only."""
        if host == "localhost":
            return [ResolveResult(hostname=host, host="127.0.0.1", port=port,
                                  family=socket.AF_INET, proto=0,
                                  flags=socket.AI_NUMERICHOST)]
        raise OSError(f"fake_discord: refusing to resolve {host!r}; tests stay on 127.0.0.1")

    async def close(self) -> None:
        """Nothing to release."""


class _ErrorLog(logging.Handler):
    """Collects the ERROR records discord.py logs for exceptions in events and commands."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def default_intents() -> discord.Intents:
    """Guilds, guild and DM messages and message content (what Omnicord asks for)."""
    from omnicord.cogs.runner import intents

    return intents()


OptionValue = Any
AnyBot = commands.Bot | commands.AutoShardedBot  # an AutoShardedBot is no commands.Bot
ChannelLike = discord.TextChannel | discord.Thread | discord.DMChannel


class DiscordHarness:
    """Drive a real ``commands.Bot`` with injected gateway events against ``FakeDiscord``.

    ``async with DiscordHarness(bot) as h``: starts a ``FakeDiscord`` (unless one is given),
    points ``discord.http.Route.BASE`` at it (restored on exit), runs ``bot.login`` (which calls
    ``setup_hook``, so extensions load and ``tree.sync()`` hits the fake), then marks the bot
    ready and dispatches ``on_ready``. On exit it closes the bot (unloading extensions) and, when
    ``strict``, fails if discord.py logged errors (unhandled exceptions in listeners or commands)
    that the test did not clear from ``h.errors``.

    With a ``gateway`` (``FakeGateway``), the bot instead connects its shards through it
    (``bot.connect()``: IDENTIFY, READY, ``on_ready`` from discord.py itself) and every injected
    event goes where Discord routes it, so harnesses sharing one ``fake`` and one ``gateway``
    stand for the processes of one sharded bot; ``token`` tells their requests apart.

    Only one harness may run at a time (``Route.BASE`` is global), except harnesses sharing a
    ``fake``, entered and exited in nested order.
    """

    def __init__(self, bot: AnyBot | None = None, *, intents: discord.Intents | None = None,
                 fake: FakeDiscord | None = None, ready: bool = True, strict: bool = True,
                 gateway_echo: bool = True, gateway: FakeGateway | None = None,
                 token: str = "fake-token") -> None:
        self.bot: AnyBot = bot or commands.Bot(
            command_prefix=(),  # no prefix commands: a mention is not a CommandNotFound error
            intents=intents or default_intents(), help_command=None,
        )
        self._owns_fake = fake is None
        self.fake = fake or FakeDiscord()
        self.ready = ready
        self.strict = strict
        self.gateway_echo = gateway_echo
        self.gateway = gateway
        self.token = token
        self._gateway_task: asyncio.Task[None] | None = None
        self.ignored_task_prefixes: list[str] = ["discord-ext-tasks", "discord-ui-view-timeout"]
        self._baseline: set[asyncio.Task[Any]] = set()
        self._errors = _ErrorLog()
        self._old_base = ""
        self._guild_roles: dict[int, dict[int, discord.Role]] = {}

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> DiscordHarness:
        self._baseline = set(asyncio.all_tasks())
        self.fake.start()
        self._old_base = discord.http.Route.BASE
        discord.http.Route.BASE = self.fake.api_base
        logging.getLogger("discord").addHandler(self._errors)
        http = self.bot.http
        if http.connector is discord.utils.MISSING:
            http.connector = aiohttp.TCPConnector(limit=0, resolver=_LocalOnlyResolver())
        self.bot._connection._chunk_guilds = False  # no gateway to request member chunks from
        if self.gateway_echo:
            self.fake.gateway_sink = self._threadsafe_sink(asyncio.get_running_loop())
        try:
            await self.bot.login(self.token)
            self._route_cdn_downloads()
            if self.ready and self.gateway is not None:
                await self._connect(self.gateway)
        except BaseException:
            await self._shutdown()
            raise
        if self.ready and self.gateway is None:
            self.bot._ready.set()
            self.bot.dispatch("ready")
        return self

    async def _connect(self, gateway: FakeGateway, timeout: float = 10.0) -> None:
        """Connect the bot's shards through ``gateway`` and wait until discord.py is ready."""
        gateway.attach(self.bot)
        self.ignored_task_prefixes.append(SHARD_TASK_PREFIX)
        self._gateway_task = asyncio.create_task(self.bot.connect(reconnect=False),
                                               name=f"{SHARD_TASK_PREFIX}-connect")
        ready = asyncio.create_task(self.bot.wait_until_ready())
        await asyncio.wait({ready, self._gateway_task}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if self._gateway_task.done():
                self._gateway_task.result()  # raises why the connection ended
            raise TimeoutError(f"bot not ready {timeout}s after connecting to the fake gateway")

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._shutdown()
        if self.strict and exc_type is None and self.errors:
            lines = "\n".join(self._format_error(r) for r in self.errors)
            raise AssertionError(f"discord.py logged errors during the test:\n{lines}")

    async def _shutdown(self) -> None:
        self.fake.gateway_sink = None
        with contextlib.suppress(Exception):
            await self.bot.close()
        if self._gateway_task is not None:  # connect() returns once close() closed the shards
            await asyncio.wait([self._gateway_task], timeout=2)
            if self._gateway_task.done() and not self._gateway_task.cancelled():
                self._gateway_task.exception()  # how it ended no longer matters: retrieved
            self._gateway_task.cancel()
        await self._cancel_leftover_tasks()
        logging.getLogger("discord").removeHandler(self._errors)
        discord.http.Route.BASE = self._old_base or discord.http.Route.BASE
        if self._owns_fake:
            self.fake.stop()

    async def _cancel_leftover_tasks(self) -> None:
        leftovers = [t for t in self._candidate_tasks() if not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=2)

    @staticmethod
    def _format_error(record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        return f"  [{record.name}] {text}"

    def _route_cdn_downloads(self) -> None:
        original = self.bot.http.get_from_cdn

        async def get_from_cdn(url: str) -> bytes:
            return await original(self.fake.local_url_for(url))

        self.bot.http.get_from_cdn = get_from_cdn  # type: ignore[method-assign]

    def _threadsafe_sink(self, loop: asyncio.AbstractEventLoop) -> Callable[[str, JSONDict], None]:
        def sink(event: str, data: JSONDict) -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be closing
                loop.call_soon_threadsafe(self.dispatch_gateway, event, data)

        return sink

    # ----------------------------------------------------------------- basic accessors

    @property
    def state(self) -> Any:
        """The bot's ``ConnectionState`` (where gateway events are parsed)."""
        return self.bot._connection

    @property
    def me(self) -> discord.ClientUser:
        """The logged-in bot user."""
        assert self.bot.user is not None
        return self.bot.user

    @property
    def errors(self) -> list[logging.LogRecord]:
        """ERROR records discord.py logged (clear this list to expect errors under ``strict``)."""
        return self._errors.records

    def dispatch_gateway(self, event: str, data: JSONDict) -> None:
        """Parse one gateway event (``"MESSAGE_CREATE"``, ...) exactly as the websocket would.

        With a ``gateway``, the bots Discord routes it to parse it (maybe not this one).
        """
        if self.gateway is not None:
            self.gateway.deliver(event, data)
        else:
            self.state.parsers[event](data)

    # ----------------------------------------------------------------- users, guilds, channels

    def user(self, name: str = "alice", *, bot: bool = False,
             global_name: str | None = None) -> discord.User:
        """A new Discord user (not in any guild)."""
        data = user_payload(self.fake.new_id(), name, bot=bot, global_name=global_name)
        self.fake.users[int(data["id"])] = data
        return self.state.store_user(data)

    def add_guild(self, name: str = "Test Guild", *, channels: Sequence[str] = ("general",),
                  everyone_permissions: discord.Permissions = DEFAULT_EVERYONE_PERMISSIONS,
                  bot_permissions: discord.Permissions = DEFAULT_BOT_PERMISSIONS,
                  premium_tier: int = 0, guild_id: int | None = None,
                  preferred_locale: str = "en-US") -> discord.Guild:
        """Inject GUILD_CREATE for a guild the bot is in; it is cached when this returns.

        The guild has @everyone (``everyone_permissions``), the bot's managed role
        (``bot_permissions``), an owner member (``guild.owner_id``) and one text channel per name
        in ``channels``. Pass ``guild_id`` (``fake.new_guild_id``) to place it on a shard, and
        ``preferred_locale`` for the server's language in Discord.
        """
        guild_id = guild_id or self.fake.new_id()
        bot_role_id = self.fake.new_id()
        roles = [role_payload(guild_id, "@everyone", everyone_permissions),
                 role_payload(bot_role_id, self.me.name, bot_permissions, position=1,
                              bot_id=self.me.id)]
        owner = user_payload(self.fake.new_id(), "guild-owner")
        members = [member_payload(self.fake.users[self.me.id], [bot_role_id]),
                   member_payload(owner, [])]
        channel_payloads = [text_channel_payload(self.fake.new_id(), guild_id, n, position=i)
                            for i, n in enumerate(channels)]
        data = guild_payload(guild_id, name, owner_id=int(owner["id"]), roles=roles,
                             members=members, channels=channel_payloads,
                             premium_tier=premium_tier, preferred_locale=preferred_locale)
        self._remember_guild(guild_id, owner, members, channel_payloads)
        self.dispatch_gateway("GUILD_CREATE", data)
        guild = self.bot.get_guild(guild_id)
        assert guild is not None
        self._guild_roles[guild_id] = {}
        return guild

    def _remember_guild(self, guild_id: int, owner: JSONDict, members: list[JSONDict],
                        channels: list[JSONDict]) -> None:
        self.fake.users[int(owner["id"])] = owner
        for member in members:
            self.fake.members[(guild_id, int(member["user"]["id"]))] = member
        for channel in channels:
            self.fake.channels[int(channel["id"])] = channel

    def add_role(self, guild: discord.Guild, name: str,
                 permissions: discord.Permissions) -> discord.Role:
        """Inject GUILD_ROLE_CREATE; returns the cached role."""
        data = role_payload(self.fake.new_id(), name, permissions, position=len(guild.roles))
        self.dispatch_gateway("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": data})
        role = guild.get_role(int(data["id"]))
        assert role is not None
        return role

    def _role_for(self, guild: discord.Guild, permissions: discord.Permissions) -> discord.Role:
        roles = self._guild_roles.setdefault(guild.id, {})
        if permissions.value not in roles:
            name = "Admin" if permissions.administrator else (
                "Moderator" if permissions.manage_guild else f"perms-{permissions.value}")
            roles[permissions.value] = self.add_role(guild, name, permissions)
        return roles[permissions.value]

    def add_member(self, guild: discord.Guild, user: discord.abc.User | str = "alice", *,
                   roles: Sequence[discord.Role] = (),
                   permissions: discord.Permissions | None = None, manage_guild: bool = False,
                   administrator: bool = False, nick: str | None = None) -> discord.Member:
        """A guild member; ``manage_guild``/``administrator``/``permissions`` add a role.

        Pass a name to create a new user, or an existing ``discord.User``. The member is cached
        in the guild only when the bot has the members intent (as on Discord).
        """
        if isinstance(user, str):
            user = self.user(user)
        extra = discord.Permissions(manage_guild=manage_guild, administrator=administrator)
        if permissions is not None:
            extra |= permissions
        role_ids = [r.id for r in roles]
        if extra.value:
            role_ids.append(self._role_for(guild, extra).id)
        data = member_payload(self.fake.users[user.id], role_ids, nick=nick)
        self.fake.members[(guild.id, user.id)] = data
        if self.bot.intents.members:
            self.dispatch_gateway("GUILD_MEMBER_ADD", {**data, "guild_id": str(guild.id)})
        return discord.Member(data=dict(data), guild=guild, state=self.state)

    def _member_data(self, guild: discord.Guild, user: discord.abc.User) -> JSONDict:
        key = (guild.id, user.id)
        if key not in self.fake.members:
            self.add_member(guild, self._user_obj(user.id))
        return self.fake.members[key]

    def dm_channel(self, user: discord.abc.User) -> discord.DMChannel:
        """The DM channel between the bot and ``user`` (cached like a real one)."""
        existing = self.bot.get_user(user.id)
        if existing is not None and existing.dm_channel is not None:
            return existing.dm_channel
        data = dm_channel_payload(self.fake.new_id(), self.fake.users[user.id])
        self.fake.channels[int(data["id"])] = data
        return self.state.add_dm_channel(data)

    # ----------------------------------------------------------------- messages

    def attachment(self, filename: str, data: bytes = b"", *, content_type: str | None = None,
                   channel: discord.abc.Snowflake | None = None, duration: float | None = None,
                   waveform: bytes | None = None, description: str | None = None) -> JSONDict:
        """An attachment object whose URL the fake CDN serves (``data`` is the file).

        Images get ``width``/``height`` from Pillow; ``duration``/``waveform`` make it a voice
        message attachment (``duration_secs`` and base64 ``waveform``).
        """
        attachment_id = self.fake.new_id()
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        channel_id = channel.id if channel is not None else self.fake.new_id()
        url, proxy = self.fake._cdn_store(channel_id, attachment_id, filename, data, ctype)
        payload: JSONDict = {"id": str(attachment_id), "filename": filename, "size": len(data),
                             "url": url, "proxy_url": proxy, "content_type": ctype}
        payload.update(_image_size(data) if ctype.startswith("image/") else {})
        if description is not None:
            payload["description"] = description
        if duration is not None:
            payload["duration_secs"] = duration
            points = waveform if waveform is not None else bytes([128] * 64)
            payload["waveform"] = base64.b64encode(points).decode()
        return payload

    def message_create(self, channel: ChannelLike, author: discord.abc.User,
                       content: str = "", *, attachments: Sequence[JSONDict] = (),
                       embeds: Sequence[JSONDict] = (), mentions: Sequence[discord.abc.User] = (),
                       mention_bot: bool = False, reference: discord.Message | None = None,
                       reply_ping: bool = True, flags: int = 0) -> discord.Message:
        """Inject MESSAGE_CREATE from ``author``; returns discord.py's ``Message``.

        ``mention_bot`` prefixes ``<@bot>`` and lists the bot in ``mentions``; ``reference``
        makes it a reply (type 19, with ``referenced_message`` from the fake's store, ``None``
        when that message was deleted) that pings the replied author unless ``reply_ping`` is
        false. Listeners run on the next ``await`` (use ``await harness.settle()``).
        """
        message_id = self.fake.new_id()
        guild = getattr(channel, "guild", None)
        if mention_bot:
            content = f"<@{self.me.id}> {content}".rstrip()
            mentions = [*mentions, self.me]
        data: JSONDict = {
            "id": str(message_id), "channel_id": str(channel.id),
            "author": self.fake.users[author.id], "content": content,
            "timestamp": snowflake_iso(message_id), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": list(attachments), "embeds": list(embeds), "pinned": False,
            "type": 0, "flags": flags, "components": [], "nonce": str(message_id),
        }
        if reference is not None:
            target = self._reference(data, reference, guild)
            if target is not None and reply_ping and target["author"]["id"] not in (
                    str(u.id) for u in mentions):
                mentions = [*mentions, self._user_obj(int(target["author"]["id"]))]
        data["mentions"] = [self._mention(guild, u) for u in mentions]
        if guild is not None:
            data["guild_id"] = str(guild.id)
            member = self._member_data(guild, author)
            data["member"] = {k: v for k, v in member.items() if k != "user"}
        self.fake.messages[message_id] = {k: v for k, v in data.items()
                                          if k not in ("guild_id", "member")}
        self.dispatch_gateway("MESSAGE_CREATE", data)
        return self.state._get_message(message_id) or discord.Message(
            state=self.state, channel=channel, data=data)  # type: ignore[arg-type]

    def voice_message(self, channel: ChannelLike, author: discord.abc.User, ogg: bytes, *,
                      duration: float, waveform: bytes | None = None,
                      reference: discord.Message | None = None) -> discord.Message:
        """Inject a native voice message (one ``audio/ogg`` attachment, flags 8192)."""
        attachment = self.attachment("voice-message.ogg", ogg, content_type="audio/ogg",
                                     channel=channel, duration=duration, waveform=waveform)
        return self.message_create(channel, author, attachments=[attachment],
                                   reference=reference, flags=IS_VOICE_MESSAGE)

    def message_delete(self, channel: ChannelLike, *message_ids: int) -> None:
        """Inject the deletion of messages (MESSAGE_DELETE for one, MESSAGE_DELETE_BULK for
        several, as a moderator's purge), whether or not discord.py cached them."""
        data: JSONDict = {"channel_id": str(channel.id)}
        guild = getattr(channel, "guild", None)
        if guild is not None:
            data["guild_id"] = str(guild.id)
        for message_id in message_ids:
            self.fake.delete_message(message_id)
        if len(message_ids) == 1:
            self.dispatch_gateway("MESSAGE_DELETE", {**data, "id": str(message_ids[0])})
        else:
            self.dispatch_gateway("MESSAGE_DELETE_BULK",
                                  {**data, "ids": [str(i) for i in message_ids]})

    def message_edit(self, channel: ChannelLike, message_id: int, content: str, *,
                     attachments: Sequence[JSONDict] | None = None,
                     edited: bool = True) -> None:
        """Inject MESSAGE_UPDATE for a message the fake holds: its new words (and
        attachments, if given), with ``edited_timestamp`` set as Discord sets it for an edit
        (``edited=False``: an update that is no edit, such as an embed appearing)."""
        data = dict(self.fake.messages[message_id])
        data["content"] = content
        if attachments is not None:
            data["attachments"] = list(attachments)
        if edited:
            data["edited_timestamp"] = snowflake_iso(self.fake.new_id())
        self.fake.messages[message_id] = data
        guild = getattr(channel, "guild", None)
        event = {**data, "channel_id": str(channel.id)}
        if guild is not None:
            event["guild_id"] = str(guild.id)
        self.dispatch_gateway("MESSAGE_UPDATE", event)

    def _reference(self, data: JSONDict, reference: discord.Message,
                   guild: discord.Guild | None) -> JSONDict | None:
        data["type"] = 19
        data["message_reference"] = {"type": 0, "message_id": str(reference.id),
                                     "channel_id": str(reference.channel.id)}
        if guild is not None:
            data["message_reference"]["guild_id"] = str(guild.id)
        target = self.fake.messages.get(reference.id)
        data["referenced_message"] = strip_reference(target) if target is not None else None
        return target

    def _user_obj(self, user_id: int) -> discord.User:
        return self.state.store_user(self.fake.users[user_id])

    def _mention(self, guild: discord.Guild | None, user: discord.abc.User) -> JSONDict:
        data = dict(self.fake.users[user.id])
        if guild is not None:
            member = self._member_data(guild, user)
            data["member"] = {k: v for k, v in member.items() if k != "user"}
        return data

    # ----------------------------------------------------------------- interactions

    def slash(self, channel: ChannelLike, user: discord.abc.User, command: str,
              options: Mapping[str, OptionValue] | None = None, *,
              locale: str = "en-US") -> JSONDict:
        """Inject a chat-input command; ``command`` is its path (``"omni config set"``).

        ``options`` maps option names to values: str, int, float, bool, a user or member, a role,
        a channel, or an attachment dict from ``harness.attachment``; option types come from the
        command registered on ``bot.tree`` when found. Returns the interaction payload (its
        ``"token"`` selects ``fake.interaction_responses(token)`` and ``fake.followups(token)``).
        """
        return self._command_interaction(channel, user, command, options or {}, 2, None,
                                         locale)

    def autocomplete(self, channel: ChannelLike, user: discord.abc.User, command: str,
                     options: Mapping[str, OptionValue], *, focused: str,
                     locale: str = "en-US") -> JSONDict:
        """Inject an autocomplete interaction (type 4) with ``focused`` being typed."""
        return self._command_interaction(channel, user, command, options, 4, focused, locale)

    def message_command(self, channel: ChannelLike, user: discord.abc.User, name: str,
                        target: discord.Message, *, locale: str = "en-US") -> JSONDict:
        """Inject a message context-menu command on ``target`` (data type 3)."""
        stored = self.fake.messages.get(target.id)
        if stored is None:
            raise KeyError(f"message {target.id} is not in the fake's store")
        resolved = {"messages": {str(target.id): stored}}
        return self._context_menu(channel, user, name, 3, target.id, resolved, locale)

    def press_button(self, channel: ChannelLike, user: discord.abc.User, message_id: int,
                     label: str, *, locale: str = "en-US") -> JSONDict:
        """Inject a press of the button labelled ``label`` on a message the bot sent (a
        component interaction, type 3); returns its payload (``"token"`` as for ``slash``)."""
        stored = self.fake.messages.get(message_id)
        if stored is None:
            raise KeyError(f"message {message_id} is not in the fake's store")
        buttons = [c for row in stored["components"] for c in row.get("components", [])
                   if c.get("type") == 2 and c.get("label") == label]
        if not buttons:
            raise KeyError(f"message {message_id} has no button {label!r}")
        data: JSONDict = {"custom_id": buttons[0]["custom_id"], "component_type": 2}
        payload = self._interaction_base(channel, user, 3, locale, data)
        payload["message"] = stored
        return self.interaction_create(payload)

    def _context_menu(self, channel: ChannelLike, user: discord.abc.User, name: str,
                      kind: int, target_id: int, resolved: JSONDict, locale: str) -> JSONDict:
        guild = getattr(channel, "guild", None)
        scope = self._command_scope(name, guild, discord.AppCommandType(kind))
        data: JSONDict = {"id": str(self.fake.command_id(name, scope, kind)), "name": name,
                          "type": kind, "target_id": str(target_id), "resolved": resolved}
        if scope is not None:
            data["guild_id"] = str(scope)
        return self.interaction_create(self._interaction_base(channel, user, 2, locale, data))

    def _command_interaction(self, channel: ChannelLike, user: discord.abc.User, command: str,
                             options: Mapping[str, OptionValue], kind: int, focused: str | None,
                             locale: str) -> JSONDict:
        root, *path = command.split()
        guild = getattr(channel, "guild", None)
        scope = self._command_scope(root, guild, discord.AppCommandType.chat_input)
        params = self._command_params(root, path, scope)
        resolved: JSONDict = {}
        leaf = [self._option(name, value, params.get(name), guild, resolved, name == focused)
                for name, value in options.items()]
        data: JSONDict = {"id": str(self.fake.command_id(root, scope)), "name": root, "type": 1,
                          "options": _nest_options(path, leaf)}
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return self.interaction_create(self._interaction_base(channel, user, kind, locale, data))

    def _command_scope(self, name: str, guild: discord.Guild | None,
                       kind: discord.AppCommandType) -> int | None:
        """The guild id when ``name`` is registered on the tree for that guild only."""
        if guild is None:
            return None
        tree = self.bot.tree
        if tree.get_command(name, guild=guild, type=kind) is not None:
            return guild.id
        return None

    def _command_params(self, root: str, path: list[str],
                        scope: int | None) -> dict[str, app_commands.Parameter]:
        guild = discord.Object(scope) if scope is not None else None
        node: Any = self.bot.tree.get_command(root, guild=guild)
        for name in path:
            node = node.get_command(name) if isinstance(node, app_commands.Group) else None
        if not isinstance(node, app_commands.Command):
            return {}
        return {p.display_name: p for p in node.parameters}

    def _option(self, name: str, value: OptionValue, param: app_commands.Parameter | None,
                guild: discord.Guild | None, resolved: JSONDict, focused: bool) -> JSONDict:
        kind = param.type.value if param is not None else _infer_option_type(value)
        option: JSONDict = {"name": name, "type": kind}
        if focused:
            option.update(value=str(value), focused=True)
        elif kind in (3, 4, 5, 10):
            option["value"] = value
        else:
            option["value"] = self._resolve(resolved, guild, value)
        return option

    def _resolve(self, resolved: JSONDict, guild: discord.Guild | None, value: Any) -> str:
        if isinstance(value, dict):
            resolved.setdefault("attachments", {})[value["id"]] = value
            return str(value["id"])
        if isinstance(value, discord.Role):
            stored = role_payload(value.id, value.name, value.permissions,
                                  position=value.position)
            resolved.setdefault("roles", {})[str(value.id)] = stored
        elif isinstance(value, discord.abc.User):
            self._resolve_user(resolved, guild, value)
        else:
            channel = self.fake.channels[value.id]
            permissions = value.permissions_for(guild.me) if guild is not None else None
            resolved.setdefault("channels", {})[str(value.id)] = {
                **channel, "permissions": str(permissions.value if permissions else 0)}
        return str(value.id)

    def _resolve_user(self, resolved: JSONDict, guild: discord.Guild | None,
                      user: discord.abc.User) -> None:
        resolved.setdefault("users", {})[str(user.id)] = self.fake.users[user.id]
        if guild is not None:
            member = {k: v for k, v in self._member_data(guild, user).items() if k != "user"}
            resolved.setdefault("members", {})[str(user.id)] = member

    def _interaction_base(self, channel: ChannelLike, user: discord.abc.User, kind: int,
                          locale: str, data: JSONDict) -> JSONDict:
        interaction_id = self.fake.new_id()
        guild = getattr(channel, "guild", None)
        payload: JSONDict = {
            "id": str(interaction_id), "application_id": str(self.fake.application_id),
            "type": kind, "data": data, "token": f"itoken-{interaction_id}-{secrets.token_hex(8)}",
            "version": 1, "locale": locale, "entitlements": [],
            "channel_id": str(channel.id), "channel": self.fake.channels[channel.id],
            "attachment_size_limit": guild.filesize_limit if guild else UPLOAD_LIMIT,
        }
        if guild is not None:
            member = dict(self._member_data(guild, user))
            as_member = discord.Member(data=dict(member), guild=guild, state=self.state)
            member["permissions"] = str(channel.permissions_for(as_member).value)
            payload.update(guild_id=str(guild.id), member=member, guild_locale="en-US",
                           app_permissions=str(channel.permissions_for(guild.me).value),
                           context=0, authorizing_integration_owners={"0": str(guild.id)})
        else:
            payload.update(user=self.fake.users[user.id], context=1,
                           app_permissions=str(discord.Permissions.text().value),
                           authorizing_integration_owners={"0": "0"})
        return payload

    def interaction_create(self, payload: JSONDict) -> JSONDict:
        """Inject INTERACTION_CREATE from a full payload (the app-command tree handles it)."""
        user = payload.get("member", {}).get("user") or payload["user"]
        data = payload.get("data") or {}
        self.fake.register_interaction(
            payload["token"], interaction_id=int(payload["id"]),
            interaction_type=int(payload["type"]), channel_id=int(payload["channel_id"]),
            guild_id=int(payload["guild_id"]) if payload.get("guild_id") else None, user=user,
            message_id=int(payload["message"]["id"]) if payload.get("message") else None,
            name=data.get("name"),
        )
        self.dispatch_gateway("INTERACTION_CREATE", payload)
        return payload

    # ----------------------------------------------------------------- waiting

    def _candidate_tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return [t for t in asyncio.all_tasks()
                if t is not current and t not in self._baseline
                and not t.get_name().startswith(tuple(self.ignored_task_prefixes))
                and not _is_view_timer(t)]

    async def settle(self, timeout: float = 5.0, quiet: float = 0.02) -> None:
        """Wait until every task the bot started is done and no request came for ``quiet`` s.

        Long-lived tasks (names starting with one of ``ignored_task_prefixes``, such as
        ``discord.ext.tasks`` loops) are not waited for. Raises ``TimeoutError`` naming the
        tasks still running after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await asyncio.sleep(0)
            pending = [t for t in self._candidate_tasks() if not t.done()]
            idle = time.monotonic() - self.fake.last_request_at
            if not pending and idle >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                names = ", ".join(sorted(t.get_name() for t in pending)) or "(none)"
                raise TimeoutError(f"bot still busy after {timeout}s; pending tasks: {names}")
            if pending:
                await asyncio.wait(pending, timeout=min(0.05, remaining),
                                   return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(min(quiet - idle, remaining))

    async def wait_for_request(self, method: str, path_regex: str, *, count: int = 1,
                               timeout: float = 5.0) -> CapturedRequest:
        """Wait until ``count`` requests matched ``fake.find(method, path_regex)``; the last."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.fake.find(method, path_regex)
            if len(found) >= count and found[count - 1].status:
                return found[count - 1]
            if loop.time() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} {method} {path_regex} requests")
            await asyncio.sleep(0.005)


def _is_view_timer(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is a ``discord.ui.View`` waiting out its timeout (discord.py leaves it
    unnamed): long-lived, like a ``discord.ext.tasks`` loop."""
    return getattr(task.get_coro(), "__qualname__", "").endswith("__timeout_task_impl")


def _nest_options(path: list[str], leaf: list[JSONDict]) -> list[JSONDict]:
    """Wrap leaf options in their subcommand (type 1) and subcommand-group (type 2) options."""
    options = leaf
    for depth, name in enumerate(reversed(path)):
        options = [{"name": name, "type": 1 if depth == 0 else 2, "options": options}]
    return options


def _infer_option_type(value: Any) -> int:
    """Discord option type for a Python value (used when the tree has no such command)."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 11
    if isinstance(value, discord.Role):
        return 8
    if isinstance(value, discord.abc.User):
        return 6
    return 7


def _image_size(data: bytes) -> JSONDict:
    """``width``/``height`` of image bytes (empty when Pillow cannot read them)."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return {"width": image.width, "height": image.height}
    except Exception:
        return {}


# --------------------------------------------------------------------------- pytest fixtures

HarnessFactory = Callable[..., Awaitable[DiscordHarness]]


@pytest_asyncio.fixture
async def discord_harness() -> AsyncIterator[HarnessFactory]:
    """Factory: ``h = await discord_harness(bot=None, **DiscordHarness options)``.

    The harness is entered (bot logged in, ready) and closed after the test.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def make(bot: AnyBot | None = None, **options: Any) -> DiscordHarness:
            return await stack.enter_async_context(DiscordHarness(bot, **options))

        yield make


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[DiscordHarness]:
    """A running harness around a plain ``commands.Bot`` with ``default_intents()``."""
    async with DiscordHarness() as running:
        yield running
