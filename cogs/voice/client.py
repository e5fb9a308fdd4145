"""``OmnicordVoiceClient``: discord.py's voice client, plus hearing the channel.

Connect with ``await channel.connect(cls=OmnicordVoiceClient)``: discord.py's own connection
flow runs (voice state and server updates, the voice websocket, IP discovery, the session
description, DAVE); this class adds a hook on the voice websocket (SPEAKING maps an SSRC to a
member, CLIENT_DISCONNECT forgets it) and a socket listener feeding ``receiver``
(``omnicord.cogs.voice.receiver``). Sending is discord.py's own (``play``).

Why not discord-ext-voice-recv: it is an alpha ("no guarantees are given for stability or
random breaking changes"), decodes through ``discord.opus``, which needs a system libopus
Omnicord does not have (PyAV's wheels bring their own), and its DAVE support trails
discord.py 2.7's. What Omnicord needs (RTP, two cipher layouts, the DAVE call, SSRC mapping)
is a few hundred lines over hooks discord.py 2.7 provides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord
from omnicord.cogs import discord_internals
from omnicord.cogs.voice.receiver import VoiceReceiver

log = logging.getLogger(__name__)

SPEAKING, CLIENTS_CONNECT, CLIENT_CONNECT, CLIENT_DISCONNECT = 5, 11, 12, 13


class OmnicordVoiceClient(discord.VoiceClient):
    """A ``discord.VoiceClient`` that hears members (see the module docstring)."""

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable) -> None:
        # discord.py's __init__ creates the connection state (with our hook) as it ends
        self.receiver = VoiceReceiver(client.loop, keys=self.transport_keys,
                                      dave=lambda: discord_internals.dave_state(self))
        self.connected_users: set[int] = set()
        self.on_gone: Callable[[], None] | None = None
        self._listening = False
        super().__init__(client, channel)

    def create_connection_state(self) -> Any:
        """discord.py's connection state, with our hook on the voice websocket."""
        return discord_internals.voice_connection_state(self, self.on_voice_message)

    def transport_keys(self) -> tuple[str, bytes] | None:
        """The negotiated encryption mode and secret key (``None`` until the session
        description came)."""
        mode, key = self.mode, self.secret_key
        if not mode or not key:
            return None
        return str(mode), bytes(key)

    async def on_voice_message(self, ws: Any, message: dict[str, Any]) -> None:
        """Called by discord.py with each JSON message of the voice websocket, after it
        handled it."""
        op, data = message.get("op"), message.get("d") or {}
        try:
            if op == SPEAKING and "user_id" in data and "ssrc" in data:
                self.receiver.speaking(int(data["user_id"]), int(data["ssrc"]))
                self.connected_users.add(int(data["user_id"]))
            elif op == CLIENT_CONNECT and data.get("audio_ssrc"):
                self.receiver.speaking(int(data["user_id"]), int(data["audio_ssrc"]))
            elif op == CLIENTS_CONNECT:
                self.connected_users.update(int(u) for u in data.get("user_ids", ()))
            elif op == CLIENT_DISCONNECT and "user_id" in data:
                self.receiver.disconnected(int(data["user_id"]))
                self.connected_users.discard(int(data["user_id"]))
        except (TypeError, ValueError):
            log.debug("unexpected voice gateway message: %s", message)

    async def connect(self, *, reconnect: bool, timeout: float, self_deaf: bool = False,
                      self_mute: bool = False) -> None:
        """discord.py's connection, then listening on the voice socket."""
        await super().connect(reconnect=reconnect, timeout=timeout, self_deaf=self_deaf,
                              self_mute=self_mute)
        self.listen()

    def listen(self) -> None:
        """Start handing the voice socket's datagrams to ``receiver`` (once)."""
        if not self._listening:
            self._listening = True
            discord_internals.add_socket_listener(self, self.receiver.on_datagram)

    async def disconnect(self, *, force: bool = False) -> None:
        """Stop hearing and leave the channel."""
        self._stop_listening()
        await super().disconnect(force=force)

    def cleanup(self) -> None:
        """discord.py's clean-up when the connection ends, however it ends."""
        self._stop_listening()
        super().cleanup()
        gone, self.on_gone = self.on_gone, None
        if gone is not None:
            gone()

    def _stop_listening(self) -> None:
        if self._listening:
            self._listening = False
            discord_internals.remove_socket_listener(self, self.receiver.on_datagram)
        self.receiver.close()
