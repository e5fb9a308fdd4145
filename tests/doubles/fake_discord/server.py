"""``FakeDiscord``: Discord's REST API and CDN on 127.0.0.1, recording what the bot sends.

An aiohttp server on a free port, in a background thread with its own loop, records each request
(``CapturedRequest``) and answers like Discord (the route handlers are in ``routes.py``, the
rules they enforce in ``rules.py``): message objects with snowflake ids, CDN attachment URLs,
threads, interaction callbacks and webhooks, application commands, and Discord's error JSON.

Faults: ``fail_next`` (any route), ``fail_next_voice_message`` (50173 by default),
``rate_limit_next`` (one 429 with ``retry_after``), ``delete_message`` (then 10008). The fake
also enforces a few of Discord's own rules that bots trip over: empty messages (50006), content
over 2000 characters and embed limits (50035), voice-message rules (50159-50162), replies to
deleted messages (50035), double interaction acknowledgement (40060) and follow-ups before
acknowledgement (10015).

Like the real gateway, the fake echoes what the bot creates back as gateway events
(MESSAGE_CREATE/UPDATE/DELETE, THREAD_CREATE) through ``gateway_sink``, which the harness sets.

The CDN lives on the same server: attachment URLs look like
``https://cdn.discordapp.com/attachments/<channel>/<id>/<name>?ex=..`` and
``FakeDiscord.local_url_for(url)`` maps them to ``http://127.0.0.1:<port>/cdn/...``.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from tests.doubles.fake_discord.payloads import JSONDict, user_payload
from tests.doubles.fake_discord.routes import DiscordRoutes, Reply
from tests.doubles.fake_discord.rules import (
    IS_VOICE_MESSAGE,
    UPLOAD_LIMIT,
    VOICE_ERRORS,
    DiscordError,
)

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"
CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DISCORD_EPOCH_MS = 1_420_070_400_000

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



# --------------------------------------------------------------------------- the REST server


class FakeDiscord(DiscordRoutes):
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
        self.recommended_shards = 1  # GET /gateway/bot: what an AutoShardedBot runs by default
        bot_id = self.new_id()
        self.bot_user: JSONDict = user_payload(bot_id, bot_name, bot=True)
        self.application_id = bot_id  # modern applications share the bot user's id
        self.owner_user: JSONDict = user_payload(self.new_id(), "app-owner")
        self.port = 0
        self.gateway_sink: Callable[[str, JSONDict], None] | None = None
        #: Serves websocket connections to ``/gateway`` (a ``ws_gateway.SocketGateway``).
        self.socket_gateway: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
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
        app.router.add_get("/gateway", self._gateway_socket)  # see ws_gateway.py
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
            self.users: dict[int, JSONDict] = {int(self.bot_user["id"]): self.bot_user}
            self.members: dict[tuple[int, int], JSONDict] = {}
            self.interactions: dict[str, JSONDict] = {}
            self.commands: dict[int | None, dict[tuple[str, int], JSONDict]] = {}
            self.cdn: dict[str, tuple[bytes, str]] = {}
            self.last_request_at = 0.0
            # GET /applications/@me: 1 << 19 is GATEWAY_MESSAGE_CONTENT_LIMITED (intent on).
            self.application_flags = 1 << 19
            self.bot_guilds: dict[int, JSONDict] = {}  # GET /users/@me/guilds
            self.token: str | None = None  # when set, other tokens get Discord's 401

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

    def new_guild_id(self, shard_id: int, shard_count: int) -> int:
        """A fresh snowflake that Discord would route to ``shard_id`` of ``shard_count``."""
        with self._id_lock:
            stamp = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, (self._last_id >> 22) + 1)
            stamp += (shard_id - stamp) % shard_count  # the shard is (id >> 22) % shard_count
            self._last_id = stamp << 22
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
                        *, retry_after: float = 0.05, is_global: bool = False,
                        when: Callable[[CapturedRequest], bool] | None = None) -> Fault:
        """Answer the next matching request (and ``when`` it holds) with one 429 (discord.py
        sleeps ``retry_after`` and retries)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": is_global}
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
                   "X-RateLimit-Scope": "global" if is_global else "user"}
        fault = Fault(method, path_regex, 429, body, headers, when=when)
        with self._lock:
            self.faults.append(fault)
        return fault

    def rate_limit_next_voice_message(self, retry_after: float) -> Fault:
        """Answer the next message POST flagged IS_VOICE_MESSAGE with one 429."""
        return self.rate_limit_next(retry_after=retry_after,
                                    when=lambda r: bool(r.flags & IS_VOICE_MESSAGE))

    def delete_message(self, message_id: int) -> None:
        """Delete a stored message: fetches and edits get 404 Unknown Message (10008)."""
        with self._lock:
            self.messages.pop(int(message_id), None)
            self.deleted_messages.add(int(message_id))

    # ----------------------------------------------------------------- CDN

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

    async def _gateway_socket(self, request: web.Request) -> web.StreamResponse:
        if self.socket_gateway is None:
            return web.Response(status=404, text="no websocket gateway")
        return await self.socket_gateway(request)

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
                self.check_token(req)
                status, body = self._dispatch(req)
            except DiscordError as exc:
                return exc.status, exc.body, {}
        return status, body, {}

    def _dispatch(self, req: CapturedRequest) -> Reply:
        for method, pattern, handler in self._routes:
            if method != req.method:
                continue
            match = pattern.fullmatch(req.path)
            if match:
                return handler(req, **match.groupdict())
        return 404, {"message": "404: Not Found", "code": 0}

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

