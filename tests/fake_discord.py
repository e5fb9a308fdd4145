"""Offline test double of Discord's REST API, and a gateway-free driver for a real discord.py bot.

Only Discord's *gateway* is simulated: ``DiscordHarness`` builds real gateway payload dicts
(Discord API v10 shapes) and feeds them to the bot's ``ConnectionState`` parsers, so discord.py
creates its real objects and dispatches its real events (``on_message``, the app-command tree).
Everything the bot sends goes over real HTTP to ``FakeDiscord``, an aiohttp server on 127.0.0.1
(a free port, in a background thread), which records each request (``CapturedRequest``) and
answers like Discord: message objects with snowflake ids, CDN attachment URLs, threads,
interaction callbacks and webhooks, application commands, and Discord's error JSON.

Typical use::

    async def test_reply(discord_harness):
        h = await discord_harness(my_bot)            # logged in, setup_hook has run
        guild = h.add_guild()                        # GUILD_CREATE: cached at once
        alice = h.add_member(guild, "alice")
        msg = h.message_create(guild.text_channels[0], alice, "hi", mention_bot=True)
        await h.settle()                             # listeners and their HTTP calls are done
        [sent] = h.fake.sent_messages(msg.channel.id)
        assert sent.json["message_reference"]["message_id"] == msg.id

Fixtures (``harness``, ``discord_harness``, ``fake_discord``) live here, not in conftest.py:
import them into a test module as ``from tests.fake_discord import harness as harness`` (the
``as`` form keeps ruff's F811 quiet), or list this module in a conftest's ``pytest_plugins``.

Like the real gateway, the fake echoes what the bot creates back as gateway events
(MESSAGE_CREATE/UPDATE/DELETE, THREAD_CREATE), so ``on_message`` also sees the bot's own
messages and threads the bot starts are cached (``gateway_echo=False`` turns this off).

Faults: ``fail_next`` (any route), ``fail_next_voice_message`` (50173 by default),
``rate_limit_next`` (one 429 with ``retry_after``), ``delete_channel`` (then 10003 everywhere),
``delete_message`` (then 10008). The fake also enforces a few of Discord's own rules that bots
trip over: empty messages (50006), content over 2000 characters and embed limits (50035),
voice-message rules (50159-50162), replies to deleted messages (50035), double interaction
acknowledgement (40060) and follow-ups before acknowledgement (10015).

The CDN lives on the same server: attachment URLs look like
``https://cdn.discordapp.com/attachments/<channel>/<id>/<name>?ex=..`` and
``FakeDiscord.local_url_for(url)`` maps them to ``http://127.0.0.1:<port>/cdn/...``; the harness
points ``bot.http.get_from_cdn`` (``Attachment.read``) at it and gives the bot's aiohttp
session a resolver that refuses every host name, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import discord
import discord.http
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from discord import app_commands
from discord.ext import commands

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"
CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DISCORD_EPOCH_MS = 1_420_070_400_000

EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5
IS_VOICE_MESSAGE = 1 << 13
UPLOAD_LIMIT = 10 * 1024 * 1024
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TOTAL = 6000
MAX_FILES = 10
MAX_WAVEFORM_POINTS = 256

VOICE_ERRORS = {
    50159: "Voice messages do not support additional content.",
    50160: "Voice messages must have a single audio attachment.",
    50161: "Voice messages must have supporting metadata.",
    50162: "Voice messages cannot be edited.",
    50173: "Cannot send voice messages in this channel.",
}

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

JSONDict = dict[str, Any]


# --------------------------------------------------------------------------- captured traffic


@dataclass
class CapturedPart:
    """One part of a multipart request body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def json(self) -> Any:
        """The part parsed as JSON (``payload_json``)."""
        return json.loads(self.data)


@dataclass
class CapturedRequest:
    """One HTTP request the bot made, and what the fake answered.

    ``path`` has no ``/api/v10`` prefix (CDN downloads keep their ``/cdn/...`` path). ``json`` is
    the JSON body, or for multipart bodies the parsed ``payload_json`` part; ``parts`` lists every
    multipart part and ``files`` only those with a filename.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    parts: list[CapturedPart] = field(default_factory=list)
    body: bytes = b""
    status: int = 0
    response: Any = None
    at: float = 0.0

    @property
    def files(self) -> list[CapturedPart]:
        """Multipart parts that carry a file."""
        return [p for p in self.parts if p.filename is not None]

    @property
    def is_multipart(self) -> bool:
        """Whether the body was multipart/form-data."""
        return bool(self.parts)

    @property
    def ok(self) -> bool:
        """Whether the fake answered with a 2xx status."""
        return 200 <= self.status < 300

    @property
    def payload(self) -> JSONDict:
        """The JSON body as a dict (empty when there was none)."""
        return self.json if isinstance(self.json, dict) else {}

    @property
    def content(self) -> str | None:
        """``content`` of a message body (for interaction callbacks: of ``data``)."""
        data = self.payload.get("data")
        body = data if isinstance(data, dict) else self.payload
        return body.get("content")

    @property
    def flags(self) -> int:
        """``flags`` of a message body (0 when absent)."""
        return int(self.payload.get("flags") or 0)


@dataclass
class Fault:
    """A canned answer for the next requests matching ``method`` and ``path`` (a full regex)."""

    method: str
    path: str
    status: int
    body: JSONDict | None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    when: Callable[[CapturedRequest], bool] | None = None

    def matches(self, req: CapturedRequest) -> bool:
        """Whether this fault applies to ``req``."""
        if self.method not in ("*", req.method) or not re.fullmatch(self.path, req.path):
            return False
        return self.when is None or self.when(req)


class DiscordError(Exception):
    """Raised inside route handlers to answer with Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str, errors: JSONDict | None = None):
        super().__init__(message)
        self.status = status
        self.body: JSONDict = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


def form_error(field_name: str, code: str, message: str) -> DiscordError:
    """Discord's 50035 Invalid Form Body for one field."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def iso(ts: datetime | None = None) -> str:
    """ISO-8601 timestamp as Discord writes it."""
    return (ts or datetime.now(UTC)).isoformat()


def snowflake_iso(snowflake: int) -> str:
    """The creation time encoded in a snowflake, as an ISO timestamp."""
    return iso(discord.utils.snowflake_time(snowflake))


# --------------------------------------------------------------------------- the REST server

Reply = tuple[int, Any]
Handler = Callable[..., Reply]


class FakeDiscord:
    """A fake Discord REST API and CDN on 127.0.0.1, recording every request.

    Thread-safe for the ways tests use it: the server runs in its own thread and loop; tests
    read ``requests``/stores and register faults from theirs. State is plain dicts of payloads:
    ``messages`` (id -> message object), ``channels`` (id -> channel object), ``users``,
    ``members`` ((guild_id, user_id) -> member object), ``interactions`` (token -> info).
    """

    def __init__(self, *, bot_name: str = "Omnicord", upload_limit: int = UPLOAD_LIMIT) -> None:
        self._id_lock = threading.Lock()
        self._last_id = 0
        self._lock = threading.RLock()
        self.upload_limit = upload_limit
        bot_id = self.new_id()
        self.bot_user: JSONDict = user_payload(bot_id, bot_name, bot=True)
        self.application_id = bot_id  # modern applications share the bot user's id
        self.owner_user: JSONDict = user_payload(self.new_id(), "app-owner")
        self.port = 0
        self.gateway_sink: Callable[[str, JSONDict], None] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._routes = self._route_table()
        self.reset()

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> FakeDiscord:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving in a background thread (idempotent)."""
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready), name="fake-discord", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Discord did not start")

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        """Stop the server and join its thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def reset(self) -> None:
        """Forget recorded requests, stored objects and pending faults (keeps the bot user)."""
        with self._lock:
            self.requests: list[CapturedRequest] = []
            self.faults: list[Fault] = []
            self.messages: dict[int, JSONDict] = {}
            self.deleted_messages: set[int] = set()
            self.channels: dict[int, JSONDict] = {}
            self.deleted_channels: set[int] = set()
            self.users: dict[int, JSONDict] = {int(self.bot_user["id"]): self.bot_user}
            self.members: dict[tuple[int, int], JSONDict] = {}
            self.interactions: dict[str, JSONDict] = {}
            self.commands: dict[int | None, dict[tuple[str, int], JSONDict]] = {}
            self.cdn: dict[str, tuple[bytes, str]] = {}
            self.last_request_at = 0.0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    def new_id(self) -> int:
        """A fresh snowflake for the current time (strictly increasing)."""
        with self._id_lock:
            now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last_id = max(now, self._last_id + 1)
            return self._last_id

    # ----------------------------------------------------------------- queries for tests

    def find(self, method: str, path_regex: str) -> list[CapturedRequest]:
        """Recorded requests with this method (``*`` for any) whose path fully matches."""
        with self._lock:
            snapshot = list(self.requests)
        return [
            r for r in snapshot
            if method in ("*", r.method) and re.fullmatch(path_regex, r.path)
        ]

    def sent_messages(self, channel_id: int | None = None) -> list[CapturedRequest]:
        """Successful ``POST /channels/{id}/messages`` requests (any channel when ``None``)."""
        chan = r"\d+" if channel_id is None else str(channel_id)
        return [r for r in self.find("POST", rf"/channels/{chan}/messages") if r.ok]

    def edits(self, channel_id: int | None = None) -> list[CapturedRequest]:
        """Successful ``PATCH /channels/{id}/messages/{mid}`` requests."""
        chan = r"\d+" if channel_id is None else str(channel_id)
        return [r for r in self.find("PATCH", rf"/channels/{chan}/messages/\d+") if r.ok]

    def interaction_responses(self, token: str | None = None) -> list[CapturedRequest]:
        """``POST /interactions/{id}/{token}/callback`` requests (successful or not)."""
        tok = r"[^/]+" if token is None else re.escape(token)
        return self.find("POST", rf"/interactions/\d+/{tok}/callback")

    def followups(self, token: str | None = None) -> list[CapturedRequest]:
        """Successful follow-up sends, ``POST /webhooks/{app}/{token}``."""
        tok = r"[^/]+" if token is None else re.escape(token)
        return [r for r in self.find("POST", rf"/webhooks/\d+/{tok}") if r.ok]

    def original_edits(self, token: str | None = None) -> list[CapturedRequest]:
        """Successful ``PATCH /webhooks/{app}/{token}/messages/@original`` requests."""
        tok = r"[^/]+" if token is None else re.escape(token)
        return [r for r in self.find("PATCH", rf"/webhooks/\d+/{tok}/messages/@original") if r.ok]

    def message(self, message_id: int) -> JSONDict | None:
        """The stored message object as it is now (after edits), or ``None``."""
        with self._lock:
            return self.messages.get(int(message_id))

    def channel_messages(self, channel_id: int) -> list[JSONDict]:
        """The channel's stored messages, oldest first, as they are now."""
        with self._lock:
            found = [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]
        return sorted(found, key=lambda m: int(m["id"]))

    # ----------------------------------------------------------------- fault injection

    def fail_next(self, method: str, path_regex: str, *, status: int = 400, code: int = 50035,
                  message: str = "Invalid Form Body", times: int = 1,
                  when: Callable[[CapturedRequest], bool] | None = None) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` and Discord error JSON."""
        fault = Fault(method, path_regex, status, {"message": message, "code": code},
                      times=times, when=when)
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail_next_voice_message(self, code: int = 50173, *, status: int | None = None,
                                message: str | None = None) -> Fault:
        """Refuse the next message POST flagged IS_VOICE_MESSAGE (default: 403, code 50173).

        ``code=50013`` gives Discord's "Missing Permissions"; codes 50159-50162 default to 400.
        """
        if status is None:
            status = 403 if code in (50013, 50173) else 400
        if message is None:
            message = "Missing Permissions" if code == 50013 else VOICE_ERRORS.get(code, "Error")
        return self.fail_next(
            "POST", r"/channels/\d+/messages", status=status, code=code, message=message,
            when=lambda r: bool(r.flags & IS_VOICE_MESSAGE),
        )

    def rate_limit_next(self, method: str = "POST", path_regex: str = r"/channels/\d+/messages",
                        *, retry_after: float = 0.05, is_global: bool = False) -> Fault:
        """Answer the next matching request with one 429 (discord.py sleeps and retries)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": is_global}
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
                   "X-RateLimit-Scope": "global" if is_global else "user"}
        fault = Fault(method, path_regex, 429, body, headers)
        with self._lock:
            self.faults.append(fault)
        return fault

    def delete_channel(self, channel_id: int) -> None:
        """From now on every request about this channel gets 404 Unknown Channel (10003)."""
        with self._lock:
            self.deleted_channels.add(int(channel_id))

    def delete_message(self, message_id: int) -> None:
        """Delete a stored message: fetches and edits get 404 Unknown Message (10008)."""
        with self._lock:
            self.messages.pop(int(message_id), None)
            self.deleted_messages.add(int(message_id))

    # ----------------------------------------------------------------- CDN

    def cdn_url(self, filename: str, data: bytes, content_type: str | None = None, *,
                channel_id: int | None = None, attachment_id: int | None = None) -> str:
        """Serve ``data`` from the fake CDN; returns its ``https://cdn.discordapp.com`` URL."""
        return self._cdn_store(channel_id or self.new_id(), attachment_id or self.new_id(),
                               filename, data, content_type)[0]

    def local_url_for(self, url: str) -> str:
        """Map a Discord CDN URL (cdn.discordapp.com / media.discordapp.net) to this server."""
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost"):
            return url
        if parts.hostname not in CDN_HOSTS:
            raise ValueError(f"not a Discord CDN URL: {url!r}")
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}{CDN_PREFIX}{parts.path}{query}"

    def _cdn_store(self, channel_id: int, attachment_id: int, filename: str, data: bytes,
                   content_type: str | None) -> tuple[str, str]:
        safe = quote(filename.replace(" ", "_"))
        path = f"/attachments/{channel_id}/{attachment_id}/{safe}"
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        with self._lock:
            self.cdn[path] = (bytes(data), ctype)
        expires = int(time.time()) + 86_400
        query = f"?ex={expires:x}&is={int(time.time()):x}&hm={secrets.token_hex(32)}&"
        return (f"https://cdn.discordapp.com{path}{query}",
                f"https://media.discordapp.net{path}{query}")

    # ----------------------------------------------------------------- request plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        captured = await self._capture(request)
        with self._lock:
            self.requests.append(captured)
            self.last_request_at = time.monotonic()
        if captured.path.startswith(CDN_PREFIX + "/"):
            return self._serve_cdn(captured)
        status, body, headers = self._respond(captured)
        captured.status, captured.response = status, body
        with self._lock:
            self.last_request_at = time.monotonic()
        if body is None:
            return web.Response(status=status, headers=headers)
        headers = {"Content-Type": "application/json", **headers}
        return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)

    async def _capture(self, request: web.Request) -> CapturedRequest:
        path = request.path
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX):]
        captured = CapturedRequest(
            method=request.method, path=path, query=dict(request.query),
            headers=dict(request.headers), at=time.monotonic(),
        )
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, aiohttp.BodyPartReader):
                    data = await part.read()
                    ctype = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                    captured.parts.append(CapturedPart(part.name or "", part.filename, ctype,
                                                       bytes(data)))
            payload = next((p for p in captured.parts if p.name == "payload_json"), None)
            captured.json = payload.json if payload is not None else None
        else:
            captured.body = await request.read()
            if captured.body and request.content_type == "application/json":
                captured.json = json.loads(captured.body)
        return captured

    def _serve_cdn(self, req: CapturedRequest) -> web.Response:
        with self._lock:
            found = self.cdn.get(req.path[len(CDN_PREFIX):])
        if found is None:
            req.status = 404
            return web.Response(status=404, text="Not Found")
        req.status = 200
        return web.Response(status=200, body=found[0], headers={"Content-Type": found[1]})

    def _respond(self, req: CapturedRequest) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            fault = next((f for f in self.faults if f.matches(req)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault.status, fault.body, dict(fault.headers)
            try:
                self._check_deleted_channel(req.path)
                status, body = self._dispatch(req)
            except DiscordError as exc:
                return exc.status, exc.body, {}
        return status, body, {}

    def _check_deleted_channel(self, path: str) -> None:
        match = re.match(r"/channels/(\d+)", path)
        if match and int(match.group(1)) in self.deleted_channels:
            raise DiscordError(404, 10003, "Unknown Channel")

    def _dispatch(self, req: CapturedRequest) -> Reply:
        for method, pattern, handler in self._routes:
            if method != req.method:
                continue
            match = pattern.fullmatch(req.path)
            if match:
                return handler(req, **match.groupdict())
        return 404, {"message": "404: Not Found", "code": 0}

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        chan = r"/channels/(?P<channel_id>\d+)"
        msg = chan + r"/messages/(?P<message_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        cmds = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/users/@me", lambda req: (200, self.bot_user)),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("GET", r"/oauth2/applications/@me", lambda req: (200, self._application())),
            ("GET", r"/applications/@me", lambda req: (200, self._application())),
            ("GET", r"/gateway(?:/bot)?", lambda req: (200, self._gateway())),
            ("GET", chan, self._get_channel),
            ("POST", chan + r"/typing", lambda req, channel_id: (204, None)),
            ("GET", chan + r"/messages", self._history),
            ("POST", chan + r"/messages", self._post_message),
            ("GET", msg, self._get_message),
            ("PATCH", msg, self._edit_message),
            ("DELETE", msg, self._delete_message),
            ("PUT", msg + r"/reactions/[^/]+/[^/]+", self._react),
            ("DELETE", msg + r"/reactions/[^/]+/[^/]+", self._react),
            ("POST", msg + r"/threads", self._thread_from_message),
            ("POST", chan + r"/threads", self._thread_without_message),
            ("PUT", chan + r"/thread-members/@me", lambda req, channel_id: (204, None)),
            ("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
             self._interaction_callback),
            ("POST", hook, self._followup),
            ("GET", hook + r"/messages/(?P<message_id>@original|\d+)", self._get_webhook_message),
            ("PATCH", hook + r"/messages/(?P<message_id>@original|\d+)",
             self._edit_webhook_message),
            ("DELETE", hook + r"/messages/(?P<message_id>@original|\d+)",
             self._delete_webhook_message),
            ("GET", cmds, self._list_commands),
            ("PUT", cmds, self._overwrite_commands),
            ("POST", cmds, self._create_command),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ----------------------------------------------------------------- small routes

    def _application(self) -> JSONDict:
        return {
            "id": str(self.application_id), "name": self.bot_user["username"], "icon": None,
            "description": "", "summary": "", "type": None, "bot_public": True,
            "bot_require_code_grant": False, "verify_key": "0" * 64, "owner": self.owner_user,
            "team": None, "flags": 0, "interactions_endpoint_url": None, "bot": self.bot_user,
            "rpc_origins": [], "tags": [], "redirect_uris": [],
        }

    def _gateway(self) -> JSONDict:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return {"url": "ws://127.0.0.1:9", "shards": 1, "session_start_limit": limit}

    def _get_user(self, req: CapturedRequest, user_id: str) -> Reply:
        user = self.users.get(int(user_id))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return 200, user

    def _create_dm(self, req: CapturedRequest) -> Reply:
        recipient_id = int(req.payload.get("recipient_id", 0))
        recipient = self.users.get(recipient_id)
        if recipient is None:
            raise DiscordError(400, 50007, "Cannot send messages to this user")
        existing = next((c for c in self.channels.values() if c["type"] == 1
                         and c["recipients"][0]["id"] == str(recipient_id)), None)
        if existing is None:
            existing = dm_channel_payload(self.new_id(), recipient)
            self.channels[int(existing["id"])] = existing
        return 200, existing

    def _get_channel(self, req: CapturedRequest, channel_id: str) -> Reply:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return 200, channel

    def _history(self, req: CapturedRequest, channel_id: str) -> Reply:
        found = self.channel_messages(int(channel_id))
        before, after = req.query.get("before"), req.query.get("after")
        if before:
            found = [m for m in found if int(m["id"]) < int(before)]
        if after:
            found = [m for m in found if int(m["id"]) > int(after)]
        limit = int(req.query.get("limit", 50))
        newest_first = list(reversed(found))
        return 200, (newest_first[-limit:] if after else newest_first[:limit])

    def _react(self, req: CapturedRequest, channel_id: str, message_id: str) -> Reply:
        self._stored_message(channel_id, message_id)
        return 204, None

    # ----------------------------------------------------------------- messages

    def _stored_message(self, channel_id: str | None, message_id: str) -> JSONDict:
        stored = self.messages.get(int(message_id))
        if stored is None or (channel_id is not None and stored["channel_id"] != channel_id):
            raise DiscordError(404, 10008, "Unknown Message")
        return stored

    def _post_message(self, req: CapturedRequest, channel_id: str) -> Reply:
        msg = self._create_message(int(channel_id), req.payload, req.files)
        self._echo_create(msg)
        return 200, msg

    def _get_message(self, req: CapturedRequest, channel_id: str, message_id: str) -> Reply:
        return 200, self._stored_message(channel_id, message_id)

    def _edit_message(self, req: CapturedRequest, channel_id: str, message_id: str) -> Reply:
        stored = self._stored_message(channel_id, message_id)
        if stored["author"]["id"] != self.bot_user["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(stored, req.payload, req.files)
        self._echo("MESSAGE_UPDATE", stored)
        return 200, stored

    def _delete_message(self, req: CapturedRequest, channel_id: str, message_id: str) -> Reply:
        stored = self._stored_message(channel_id, message_id)
        self.delete_message(int(message_id))
        event = {"id": stored["id"], "channel_id": stored["channel_id"]}
        self._echo("MESSAGE_DELETE", event)
        return 204, None

    def _create_message(self, channel_id: int, body: JSONDict, files: list[CapturedPart], *,
                        author: JSONDict | None = None, extra: JSONDict | None = None) -> JSONDict:
        """Validate a message body like Discord and store the resulting message object."""
        flags = int(body.get("flags") or 0)
        self._validate_message(body, files, flags)
        message_id = self.new_id()
        msg: JSONDict = {
            "id": str(message_id), "channel_id": str(channel_id),
            "author": author or self.bot_user, "content": body.get("content") or "",
            "timestamp": snowflake_iso(message_id), "edited_timestamp": None,
            "tts": bool(body.get("tts")), "mention_everyone": False, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": list(body.get("embeds") or []),
            "pinned": False, "type": 0, "flags": flags,
            "components": list(body.get("components") or []),
        }
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        msg["attachments"] = self._attachments(channel_id, body, files, [], flags)
        if flags & IS_VOICE_MESSAGE:
            self._validate_voice(msg)
        self._apply_reference(msg, body)
        msg.update(extra or {})
        self.messages[message_id] = msg
        return msg

    def _validate_message(self, body: JSONDict, files: list[CapturedPart], flags: int) -> None:
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        if len(content) > MAX_CONTENT:
            raise form_error("content", "BASE_TYPE_MAX_LENGTH",
                             f"Must be {MAX_CONTENT} or fewer in length.")
        if len(embeds) > MAX_EMBEDS:
            raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        for embed in embeds:
            if len(embed.get("description") or "") > MAX_EMBED_DESCRIPTION:
                raise form_error("embeds", "BASE_TYPE_MAX_LENGTH",
                                 f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.")
        if sum(embed_size(e) for e in embeds) > MAX_EMBED_TOTAL:
            raise form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED",
                             f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")
        if len(files) > MAX_FILES:
            raise form_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        if any(len(f.data) > self.upload_limit for f in files):
            raise DiscordError(413, 40005, "Request entity too large")
        if flags & IS_VOICE_MESSAGE and (content or embeds):
            raise DiscordError(400, 50159, VOICE_ERRORS[50159])
        kept = [a for a in body.get("attachments") or [] if not _is_upload_ref(a, files)]
        has_body = (content or embeds or files or kept or body.get("components")
                    or body.get("sticker_ids") or body.get("poll"))
        if not has_body:
            raise DiscordError(400, 50006, "Cannot send an empty message")

    def _validate_voice(self, msg: JSONDict) -> None:
        attachments = msg["attachments"]
        if len(attachments) != 1 or not attachments[0]["content_type"].startswith("audio/"):
            raise DiscordError(400, 50160, VOICE_ERRORS[50160])
        entry = attachments[0]
        if "duration_secs" not in entry or "waveform" not in entry:
            raise DiscordError(400, 50161, VOICE_ERRORS[50161])
        try:
            points = base64.b64decode(entry["waveform"], validate=True)
        except (ValueError, TypeError) as exc:
            raise DiscordError(400, 50161, VOICE_ERRORS[50161]) from exc
        if not 0 < len(points) <= MAX_WAVEFORM_POINTS:
            raise DiscordError(400, 50161, VOICE_ERRORS[50161])

    def _attachments(self, channel_id: int, body: JSONDict, files: list[CapturedPart],
                     existing: list[JSONDict], flags: int) -> list[JSONDict]:
        """Attachment objects for ``body['attachments']`` (or every uploaded file)."""
        uploads = {_file_index(p): p for p in files}
        entries = body.get("attachments")
        if entries is None:
            entries = [{"id": index} for index in uploads]
        kept = {a["id"]: a for a in existing}
        result = []
        for entry in entries:
            entry_id = str(entry.get("id"))
            if entry_id in kept:
                result.append(kept[entry_id])
            elif entry_id.isdigit() and int(entry_id) in uploads:
                result.append(self._new_attachment(channel_id, entry, uploads[int(entry_id)],
                                                   flags))
            else:
                raise form_error("attachments", "ATTACHMENT_NOT_FOUND", "Unknown attachment")
        return result

    def _new_attachment(self, channel_id: int, entry: JSONDict, part: CapturedPart,
                        flags: int) -> JSONDict:
        attachment_id = self.new_id()
        filename = entry.get("filename") or part.filename or "file"
        ctype = entry.get("content_type") or part.content_type
        if not ctype or ctype == "application/octet-stream":
            ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        url, proxy = self._cdn_store(channel_id, attachment_id, filename, part.data, ctype)
        attachment = {"id": str(attachment_id), "filename": filename, "size": len(part.data),
                      "url": url, "proxy_url": proxy, "content_type": ctype}
        for key in ("description", "duration_secs", "waveform", "title"):
            if key in entry:
                attachment[key] = entry[key]
        if flags & EPHEMERAL:
            attachment["ephemeral"] = True
        return attachment

    def _apply_reference(self, msg: JSONDict, body: JSONDict) -> None:
        ref = body.get("message_reference")
        if not ref or not ref.get("message_id"):
            return
        target = self.messages.get(int(ref["message_id"]))
        if target is None:
            if ref.get("fail_if_not_exists", True):
                raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                 "Unknown message")
            return
        guild_id = self.guild_of(int(target["channel_id"]))
        msg["type"] = 19
        msg["message_reference"] = {"type": 0, "message_id": target["id"],
                                    "channel_id": target["channel_id"]}
        if guild_id is not None:
            msg["message_reference"]["guild_id"] = str(guild_id)
        msg["referenced_message"] = strip_reference(target)
        allowed = body.get("allowed_mentions")
        if allowed is None or allowed.get("replied_user"):
            msg["mentions"] = [target["author"]]

    def _apply_edit(self, stored: JSONDict, body: JSONDict, files: list[CapturedPart]) -> None:
        if stored["flags"] & IS_VOICE_MESSAGE:
            raise DiscordError(400, 50162, VOICE_ERRORS[50162])
        merged = {"content": stored["content"], "embeds": stored["embeds"],
                  "components": stored["components"],
                  "attachments": [{"id": a["id"]} for a in stored["attachments"]]}
        merged.update({k: v for k, v in body.items() if k in merged})
        self._validate_message(merged, files, stored["flags"])
        stored["attachments"] = self._attachments(int(stored["channel_id"]), merged, files,
                                                  stored["attachments"], stored["flags"])
        stored["content"] = merged["content"] or ""
        stored["embeds"] = list(merged["embeds"] or [])
        stored["components"] = list(merged["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = stored["flags"] & ~(LOADING | 4)
            stored["flags"] = keep | (int(body["flags"]) & 4)
        stored["flags"] &= ~LOADING
        stored["edited_timestamp"] = iso()

    # ----------------------------------------------------------------- threads

    def _thread_from_message(self, req: CapturedRequest, channel_id: str,
                             message_id: str) -> Reply:
        stored = self._stored_message(channel_id, message_id)
        if "thread" in stored:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(int(channel_id), req.payload, thread_id=int(message_id),
                                  thread_type=11)
        stored["thread"] = thread
        stored["flags"] |= HAS_THREAD
        return 200, thread

    def _thread_without_message(self, req: CapturedRequest, channel_id: str) -> Reply:
        thread_type = int(req.payload.get("type") or 12)
        return 201, self._new_thread(int(channel_id), req.payload, thread_id=self.new_id(),
                                     thread_type=thread_type)

    def _new_thread(self, parent_id: int, body: JSONDict, *, thread_id: int,
                    thread_type: int) -> JSONDict:
        guild_id = self.guild_of(parent_id)
        if guild_id is None:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        thread = thread_payload(
            thread_id, guild_id, parent_id, body.get("name") or "thread",
            owner_id=int(self.bot_user["id"]), private=thread_type == 12,
            auto_archive_duration=int(body.get("auto_archive_duration") or 4320),
        )
        thread["rate_limit_per_user"] = int(body.get("rate_limit_per_user") or 0)
        self.channels[thread_id] = thread
        self._echo("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    # ----------------------------------------------------------------- interactions

    def register_interaction(self, token: str, *, interaction_id: int, interaction_type: int,
                             channel_id: int, guild_id: int | None, user: JSONDict,
                             message_id: int | None = None, name: str | None = None) -> None:
        """Remember an injected interaction so callbacks and webhooks can be answered."""
        with self._lock:
            self.interactions[token] = {
                "id": interaction_id, "type": interaction_type, "channel_id": channel_id,
                "guild_id": guild_id, "user": user, "message_id": message_id, "name": name,
                "acked": False, "original": message_id,
            }

    def _interaction(self, token: str) -> JSONDict:
        info = self.interactions.get(token)
        if info is None:
            raise DiscordError(404, 10062, "Unknown interaction")
        return info

    def _interaction_callback(self, req: CapturedRequest, interaction_id: str,
                              token: str) -> Reply:
        info = self._interaction(token)
        if info["acked"]:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(req.payload.get("type", 0))
        data = req.payload.get("data") or {}
        flags = int(data.get("flags") or 0)
        info["acked"] = True
        callback: JSONDict = {"id": str(info["id"]), "type": info["type"],
                              "response_message_loading": kind == 5,
                              "response_message_ephemeral": bool(flags & EPHEMERAL)}
        resource: JSONDict = {"type": kind}
        if kind in (4, 5):
            message = self._interaction_message(info, data, req.files, loading=kind == 5)
            info["original"] = int(message["id"])
            callback["response_message_id"] = message["id"]
            resource["message"] = message
        elif kind == 7 and info["message_id"] is not None:
            stored = self._stored_message(None, str(info["message_id"]))
            self._apply_edit(stored, data, req.files)
            resource["message"] = stored
        return 200, {"interaction": callback, "resource": resource}

    def _interaction_message(self, info: JSONDict, data: JSONDict, files: list[CapturedPart],
                             *, loading: bool = False) -> JSONDict:
        flags = int(data.get("flags") or 0)
        extra = {"webhook_id": str(self.application_id),
                 "application_id": str(self.application_id),
                 "type": 20 if info["type"] == 2 else 0,
                 "interaction_metadata": {"id": str(info["id"]), "type": info["type"],
                                          "user": info["user"],
                                          "authorizing_integration_owners": {}}}
        if loading:
            flags = (flags & EPHEMERAL) | LOADING
            msg = self._create_message_unchecked(info["channel_id"], flags, extra)
        else:
            msg = self._create_message(info["channel_id"], data, files, extra=extra)
        if not flags & EPHEMERAL:
            self._echo_create(msg)
        return msg

    def _create_message_unchecked(self, channel_id: int, flags: int, extra: JSONDict) -> JSONDict:
        message_id = self.new_id()
        msg = {"id": str(message_id), "channel_id": str(channel_id), "author": self.bot_user,
               "content": "", "timestamp": snowflake_iso(message_id), "edited_timestamp": None,
               "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
               "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": flags,
               "components": [], **extra}
        self.messages[message_id] = msg
        return msg

    def _acked_interaction(self, app_id: str, token: str) -> JSONDict:
        info = self.interactions.get(token)
        if app_id != str(self.application_id) or info is None or not info["acked"]:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return info

    def _followup(self, req: CapturedRequest, app_id: str, token: str) -> Reply:
        info = self._acked_interaction(app_id, token)
        if info["original"] is not None:
            original = self.messages.get(info["original"])
            if original is not None and original["flags"] & LOADING:
                # Discord turns the first follow-up after a deferral into the original response.
                self._apply_edit(original, req.payload, req.files)
                return 200, original
        return 200, self._interaction_message(info, req.payload, req.files)

    def _webhook_target(self, app_id: str, token: str, message_id: str) -> JSONDict:
        info = self._acked_interaction(app_id, token)
        target = info["original"] if message_id == "@original" else int(message_id)
        if target is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return self._stored_message(None, str(target))

    def _get_webhook_message(self, req: CapturedRequest, app_id: str, token: str,
                             message_id: str) -> Reply:
        return 200, self._webhook_target(app_id, token, message_id)

    def _edit_webhook_message(self, req: CapturedRequest, app_id: str, token: str,
                              message_id: str) -> Reply:
        stored = self._webhook_target(app_id, token, message_id)
        self._apply_edit(stored, req.payload, req.files)
        if not stored["flags"] & EPHEMERAL:
            self._echo("MESSAGE_UPDATE", stored)
        return 200, stored

    def _delete_webhook_message(self, req: CapturedRequest, app_id: str, token: str,
                                message_id: str) -> Reply:
        stored = self._webhook_target(app_id, token, message_id)
        self.delete_message(int(stored["id"]))
        return 204, None

    # ----------------------------------------------------------------- application commands

    def command_id(self, name: str, guild_id: int | None = None, command_type: int = 1) -> int:
        """The id the fake gave a synced command, or a fresh one if it was never synced."""
        with self._lock:
            found = self.commands.get(guild_id, {}).get((name, command_type))
        return int(found["id"]) if found else self.new_id()

    def _store_command(self, guild_id: str | None, body: JSONDict,
                       old: dict[tuple[str, int], JSONDict] | None = None) -> JSONDict:
        scope = int(guild_id) if guild_id else None
        key = (body["name"], int(body.get("type") or 1))
        current = self.commands.setdefault(scope, {})
        previous = (current if old is None else old).get(key)
        command = {"description": "", "options": [], "default_member_permissions": None,
                   "nsfw": False, **body, "type": key[1],
                   "id": previous["id"] if previous else str(self.new_id()),
                   "application_id": str(self.application_id), "version": str(self.new_id())}
        if scope is not None:
            command["guild_id"] = str(scope)
        current[key] = command
        return command

    def _list_commands(self, req: CapturedRequest, app_id: str, guild_id: str | None) -> Reply:
        scope = int(guild_id) if guild_id else None
        return 200, list(self.commands.get(scope, {}).values())

    def _overwrite_commands(self, req: CapturedRequest, app_id: str,
                            guild_id: str | None) -> Reply:
        old = self.commands.pop(int(guild_id) if guild_id else None, {})
        return 200, [self._store_command(guild_id, c, old) for c in req.json or []]

    def _create_command(self, req: CapturedRequest, app_id: str, guild_id: str | None) -> Reply:
        return 201, self._store_command(guild_id, req.payload)

    # ----------------------------------------------------------------- gateway echoes

    def guild_of(self, channel_id: int) -> int | None:
        """The guild id of a known channel or thread (``None`` for DMs and unknown channels)."""
        channel = self.channels.get(int(channel_id))
        guild_id = channel.get("guild_id") if channel else None
        return int(guild_id) if guild_id else None

    def _echo_create(self, msg: JSONDict) -> None:
        self._echo("MESSAGE_CREATE", msg)

    def _echo(self, event: str, data: JSONDict) -> None:
        """Hand the gateway event Discord would send for this change to the harness."""
        sink = self.gateway_sink
        if sink is None:
            return
        payload = json.loads(json.dumps(data))
        guild_id = self.guild_of(int(payload.get("channel_id") or payload.get("parent_id") or 0))
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            author = payload.get("author")
            member = self.members.get((guild_id, int(author["id"]))) if author else None
            if member is not None and event != "MESSAGE_DELETE":
                payload["member"] = {k: v for k, v in member.items() if k != "user"}
        sink(event, payload)


def _file_index(part: CapturedPart) -> int:
    match = re.fullmatch(r"files\[(\d+)\]", part.name)
    return int(match.group(1)) if match else 0


def _is_upload_ref(entry: JSONDict, files: list[CapturedPart]) -> bool:
    entry_id = str(entry.get("id"))
    return entry_id.isdigit() and int(entry_id) in {_file_index(p) for p in files}


def embed_size(embed: JSONDict) -> int:
    """Characters an embed counts toward Discord's 6000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    return total


def strip_reference(msg: JSONDict) -> JSONDict:
    """A message object as Discord nests it in ``referenced_message`` (one level only)."""
    return {k: v for k, v in msg.items() if k not in ("referenced_message", "member")}


# --------------------------------------------------------------------------- payload builders


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


def overwrite_payload(target: discord.Role | discord.abc.User,
                      overwrite: discord.PermissionOverwrite) -> JSONDict:
    """A permission overwrite object for a role or member."""
    allow, deny = overwrite.pair()
    kind = 0 if isinstance(target, discord.Role) else 1
    return {"id": str(target.id), "type": kind, "allow": str(allow.value),
            "deny": str(deny.value)}


# --------------------------------------------------------------------------- the harness


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
ChannelLike = discord.TextChannel | discord.Thread | discord.DMChannel


class DiscordHarness:
    """Drive a real ``commands.Bot`` with injected gateway events against ``FakeDiscord``.

    ``async with DiscordHarness(bot) as h``: starts a ``FakeDiscord`` (unless one is given),
    points ``discord.http.Route.BASE`` at it (restored on exit), runs ``bot.login`` (which calls
    ``setup_hook``, so extensions load and ``tree.sync()`` hits the fake), then marks the bot
    ready and dispatches ``on_ready``. On exit it closes the bot (unloading extensions) and, when
    ``strict``, fails if discord.py logged errors (unhandled exceptions in listeners or commands)
    that the test did not clear from ``h.errors``.

    Only one harness may run at a time (``Route.BASE`` is global).
    """

    def __init__(self, bot: commands.Bot | None = None, *, intents: discord.Intents | None = None,
                 fake: FakeDiscord | None = None, ready: bool = True, strict: bool = True,
                 gateway_echo: bool = True) -> None:
        self.bot: commands.Bot = bot or commands.Bot(
            command_prefix=(),  # no prefix commands: a mention is not a CommandNotFound error
            intents=intents or default_intents(), help_command=None,
        )
        self._owns_fake = fake is None
        self.fake = fake or FakeDiscord()
        self.ready = ready
        self.strict = strict
        self.gateway_echo = gateway_echo
        self.ignored_task_prefixes: list[str] = ["discord-ext-tasks", "discord-ui-view-timeout"]
        self._baseline: set[asyncio.Task[Any]] = set()
        self._ignored: set[asyncio.Task[Any]] = set()
        self._errors = _ErrorLog()
        self._old_base = ""
        self._guild_roles: dict[int, dict[int, discord.Role]] = {}
        self._owners: dict[int, discord.Member] = {}

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
            await self.bot.login("fake-token")
        except BaseException:
            await self._shutdown()
            raise
        self._route_cdn_downloads()
        if self.ready:
            self.bot._ready.set()
            self.bot.dispatch("ready")
        return self

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
        """Parse one gateway event (``"MESSAGE_CREATE"``, ...) exactly as the websocket would."""
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
                  premium_tier: int = 0) -> discord.Guild:
        """Inject GUILD_CREATE for a guild the bot is in; it is cached when this returns.

        The guild has @everyone (``everyone_permissions``), the bot's managed role
        (``bot_permissions``), an owner member (``harness.owner(guild)``) and one text channel
        per name in ``channels``.
        """
        guild_id = self.fake.new_id()
        bot_role_id = self.fake.new_id()
        roles = [role_payload(guild_id, "@everyone", everyone_permissions),
                 role_payload(bot_role_id, self.me.name, bot_permissions, position=1,
                              bot_id=self.me.id)]
        owner = user_payload(self.fake.new_id(), "guild-owner")
        members = [member_payload(self.fake.users[self.me.id], [bot_role_id]),
                   member_payload(owner, [])]
        channel_payloads = [text_channel_payload(self.fake.new_id(), guild_id, n, position=i)
                            for i, n in enumerate(channels)]
        data = {
            "id": str(guild_id), "name": name, "icon": None, "splash": None,
            "discovery_splash": None, "owner_id": owner["id"], "afk_channel_id": None,
            "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "roles": roles, "emojis": [], "stickers": [],
            "features": [], "mfa_level": 0, "application_id": None,
            "system_channel_id": channel_payloads[0]["id"] if channel_payloads else None,
            "system_channel_flags": 0, "rules_channel_id": None, "max_members": 500_000,
            "vanity_url_code": None, "description": None, "banner": None,
            "premium_tier": premium_tier, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "joined_at": iso(), "large": False,
            "unavailable": False, "member_count": len(members), "voice_states": [],
            "members": members, "channels": channel_payloads, "threads": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }
        self._remember_guild(guild_id, owner, members, channel_payloads)
        self.dispatch_gateway("GUILD_CREATE", data)
        guild = self.bot.get_guild(guild_id)
        assert guild is not None
        self._guild_roles[guild_id] = {}
        self._owners[guild_id] = discord.Member(data=members[1], guild=guild, state=self.state)
        return guild

    def _remember_guild(self, guild_id: int, owner: JSONDict, members: list[JSONDict],
                        channels: list[JSONDict]) -> None:
        self.fake.users[int(owner["id"])] = owner
        for member in members:
            self.fake.members[(guild_id, int(member["user"]["id"]))] = member
        for channel in channels:
            self.fake.channels[int(channel["id"])] = channel

    def owner(self, guild: discord.Guild) -> discord.Member:
        """The guild's owner (has every permission)."""
        return self._owners[guild.id]

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

    def add_text_channel(self, guild: discord.Guild, name: str, *,
                         overwrites: Mapping[discord.Role | discord.abc.User,
                                             discord.PermissionOverwrite] | None = None,
                         nsfw: bool = False, topic: str | None = None) -> discord.TextChannel:
        """Inject CHANNEL_CREATE for a text channel (``overwrites`` like discord.py's)."""
        payload_overwrites = [overwrite_payload(t, o) for t, o in (overwrites or {}).items()]
        data = text_channel_payload(self.fake.new_id(), guild.id, name,
                                    position=len(guild.channels), overwrites=payload_overwrites,
                                    nsfw=nsfw, topic=topic)
        self.fake.channels[int(data["id"])] = data
        self.dispatch_gateway("CHANNEL_CREATE", data)
        channel = guild.get_channel(int(data["id"]))
        assert isinstance(channel, discord.TextChannel)
        return channel

    def add_thread(self, parent: discord.TextChannel, name: str = "thread", *,
                   owner: discord.abc.User | None = None, private: bool = False,
                   starter: discord.Message | None = None) -> discord.Thread:
        """Inject THREAD_CREATE (a thread started from ``starter`` shares its id)."""
        thread_id = starter.id if starter is not None else self.fake.new_id()
        owner_id = owner.id if owner is not None else self.owner(parent.guild).id
        data = thread_payload(thread_id, parent.guild.id, parent.id, name, owner_id=owner_id,
                              private=private)
        self.fake.channels[thread_id] = data
        self.dispatch_gateway("THREAD_CREATE", {**data, "newly_created": True})
        thread = parent.guild.get_thread(thread_id)
        assert thread is not None
        return thread

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

    def user_command(self, channel: ChannelLike, user: discord.abc.User, name: str,
                     target: discord.abc.User, *, locale: str = "en-US") -> JSONDict:
        """Inject a user context-menu command on ``target`` (data type 2)."""
        resolved: JSONDict = {}
        self._resolve_user(resolved, getattr(channel, "guild", None), target)
        return self._context_menu(channel, user, name, 2, target.id, resolved, locale)

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

    def ignore_task(self, task: asyncio.Task[Any]) -> None:
        """Do not wait for this (long-lived) task in ``settle``."""
        self._ignored.add(task)

    def _candidate_tasks(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return [t for t in asyncio.all_tasks()
                if t is not current and t not in self._baseline and t not in self._ignored
                and not t.get_name().startswith(tuple(self.ignored_task_prefixes))]

    async def settle(self, timeout: float = 5.0, quiet: float = 0.02) -> None:
        """Wait until every task the bot started is done and no request came for ``quiet`` s.

        Long-lived tasks (``discord.ext.tasks`` loops, or ones passed to ``ignore_task``) are
        not waited for. Raises ``TimeoutError`` naming the tasks still running after
        ``timeout`` seconds.
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


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A started ``FakeDiscord`` for one test (pass it to ``discord_harness(fake=...)``)."""
    with FakeDiscord() as server:
        yield server


@pytest_asyncio.fixture
async def discord_harness() -> AsyncIterator[HarnessFactory]:
    """Factory: ``h = await discord_harness(bot=None, **DiscordHarness options)``.

    The harness is entered (bot logged in, ready) and closed after the test.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def make(bot: commands.Bot | None = None, **options: Any) -> DiscordHarness:
            return await stack.enter_async_context(DiscordHarness(bot, **options))

        yield make


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[DiscordHarness]:
    """A running harness around a plain ``commands.Bot`` with ``default_intents()``."""
    async with DiscordHarness() as running:
        yield running


__all__ = [
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "IS_VOICE_MESSAGE",
    "CapturedPart",
    "CapturedRequest",
    "DiscordError",
    "DiscordHarness",
    "FakeDiscord",
    "Fault",
    "default_intents",
    "discord_harness",
    "fake_discord",
    "harness",
]
