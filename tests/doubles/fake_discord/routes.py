"""How ``FakeDiscord`` answers each REST route: users, channels, messages, threads,
interactions and webhooks, application commands.

``DiscordRoutes`` is mixed into ``FakeDiscord`` (``server.py``), which owns the state these
handlers read and change (``messages``, ``channels``, ``users``, ``members``, ``interactions``,
``commands``) and runs them under its lock. A handler takes the ``CapturedRequest`` and the
route's path parameters, and returns ``(status, body)`` or raises ``DiscordError``.

What ``omnicord doctor`` reads is configurable: ``application_flags`` (``GET
/applications/@me``), the bot's servers and its permissions there (``add_bot_guild``, listed by
``GET /users/@me/guilds``, any field left out or odd), and ``token``: once set, any other token
gets Discord's 401.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.doubles.fake_discord.payloads import (
    JSONDict,
    dm_channel_payload,
    iso,
    snowflake_iso,
    strip_reference,
    thread_payload,
)
from tests.doubles.fake_discord.rules import (
    EPHEMERAL,
    HAS_THREAD,
    IS_VOICE_MESSAGE,
    LOADING,
    VOICE_ERRORS,
    DiscordError,
    file_index,
    form_error,
    validate_commands,
    validate_message,
    validate_voice,
)

if TYPE_CHECKING:
    from tests.doubles.fake_discord.server import CapturedPart, CapturedRequest

Reply = tuple[int, Any]
Handler = Callable[..., Reply]


class DiscordRoutes:
    """Route handlers of ``FakeDiscord``; see ``server.py`` for the state and the plumbing.

    Besides the state below, handlers use the server's ``new_id``, ``guild_of``,
    ``channel_messages``, ``delete_message``, ``_cdn_store``, ``_echo`` and ``_lock``.
    """

    # Set by FakeDiscord.__init__ and FakeDiscord.reset.
    bot_user: JSONDict
    owner_user: JSONDict
    application_id: int
    upload_limit: int
    recommended_shards: int
    port: int
    messages: dict[int, JSONDict]
    channels: dict[int, JSONDict]
    users: dict[int, JSONDict]
    members: dict[tuple[int, int], JSONDict]
    interactions: dict[str, JSONDict]
    commands: dict[int | None, dict[tuple[str, int], JSONDict]]
    application_flags: int
    bot_guilds: dict[int, JSONDict]
    token: str | None

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        chan = r"/channels/(?P<channel_id>\d+)"
        msg = chan + r"/messages/(?P<message_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        cmds = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/users/@me", lambda req: (200, self.bot_user)),
            ("GET", r"/users/@me/guilds", self._my_guilds),
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
            "team": None, "flags": self.application_flags, "interactions_endpoint_url": None,
            "bot": self.bot_user,
            "rpc_origins": [], "tags": [], "redirect_uris": [],
        }

    def check_token(self, req: CapturedRequest) -> None:
        """Discord's 401 for a request without ``Bot <token>`` (only once ``token`` is set)."""
        if self.token is not None and req.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    def add_bot_guild(self, name: str, permissions: int | str | None, *,
                      guild_id: int | None = None, omit: tuple[str, ...] = ()) -> int:
        """A server the bot is in, as ``GET /users/@me/guilds`` lists it, with the bot's base
        ``permissions`` there (a bit field, sent as a string; any other value is sent as it
        is); returns its id. ``omit`` leaves fields out, as Discord may."""
        guild_id = guild_id or self.new_id()
        guild = {
            "id": str(guild_id), "name": name, "icon": None, "banner": None, "owner": False,
            "permissions": str(permissions) if isinstance(permissions, int) else permissions,
            "features": [],
        }
        self.bot_guilds[guild_id] = {k: v for k, v in guild.items() if k not in omit}
        return guild_id

    def _my_guilds(self, req: CapturedRequest) -> Reply:
        """The bot's servers in id order, paged by ``after`` and ``limit`` (at most 200)."""
        after = int(req.query.get("after", 0))
        limit = min(int(req.query.get("limit", 200)), 200)
        found = [self.bot_guilds[i] for i in sorted(self.bot_guilds) if i > after]
        return 200, found[:limit]

    def _gateway(self) -> JSONDict:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        # The websocket gateway (ws_gateway.py) listens on this same server.
        return {"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": self.recommended_shards,
                "session_start_limit": limit}

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
        validate_message(body, files, flags, self.upload_limit)
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
            validate_voice(msg)
        self._apply_reference(msg, body)
        msg.update(extra or {})
        self.messages[message_id] = msg
        return msg

    def _attachments(self, channel_id: int, body: JSONDict, files: list[CapturedPart],
                     existing: list[JSONDict], flags: int) -> list[JSONDict]:
        """Attachment objects for ``body['attachments']`` (or every uploaded file)."""
        uploads = {file_index(p): p for p in files}
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
        validate_message(merged, files, stored["flags"], self.upload_limit)
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
        validate_commands(req.json or [])
        old = self.commands.pop(int(guild_id) if guild_id else None, {})
        return 200, [self._store_command(guild_id, c, old) for c in req.json or []]

    def _create_command(self, req: CapturedRequest, app_id: str, guild_id: str | None) -> Reply:
        validate_commands([req.payload])
        return 201, self._store_command(guild_id, req.payload)

