"""``LiveVoice``: one voice channel for a live talk session, as the talk cog uses it: join,
hand each member's Opus packets on (``on_packet``), play answers, stop them, leave."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import discord
from omnicord.cogs.voice.client import OmnicordVoiceClient
from omnicord.cogs.voice.speaking import AnswerSource
from omnicord.voice.playback import AnswerAudio

log = logging.getLogger(__name__)
LEAVE_SECONDS = 5.0


class LiveVoice:
    """A joined voice channel: members' packets in, answers out."""

    def __init__(self, client: OmnicordVoiceClient) -> None:
        self.client = client
        #: Called on the event loop with (user id, Opus packet) for every packet heard.
        self.on_packet: Callable[[int, bytes], None] | None = None
        #: Called once if the connection ends without ``leave`` (kicked, channel deleted).
        self.on_disconnect: Callable[[], None] | None = None
        self._source: AnswerSource | None = None
        self._leaving = False
        client.on_gone = self._gone
        self._pump = asyncio.create_task(self._hear(), name="omnicord-voice-receive")

    @classmethod
    async def connect(cls, channel: discord.VoiceChannel | discord.StageChannel, *,
                      timeout: float = 30.0) -> LiveVoice:
        """Join ``channel`` (discord.py's own connection flow) and start hearing it."""
        client = await channel.connect(cls=OmnicordVoiceClient, timeout=timeout)
        return cls(client)

    @property
    def stats(self) -> object:
        """The receiver's counters (``ReceiverStats``)."""
        return self.client.receiver.stats

    async def _hear(self) -> None:
        async for packet in self.client.receiver:
            callback = self.on_packet
            if callback is None:
                continue
            try:
                callback(packet.user_id, packet.opus)
            except Exception:
                log.exception("live talk's packet handler failed")

    def play(self, audio: AnswerAudio) -> None:
        """Play an answer (after the one playing, if any)."""
        if not self.client.is_connected():
            audio.clear()
            return
        if self._source is not None and self._source.append(audio):
            return  # queued on the running player (a source that took it has not ended)
        self._source = AnswerSource(audio)
        if self.client.is_playing():
            self.client.stop()
        self.client.play(self._source)

    def stop_playing(self) -> None:
        """Barge-in: drop every answer queued and stop sending at once."""
        if self._source is not None:
            self._source.clear()
            self._source = None
        self.client.stop()

    async def leave(self) -> None:
        """Stop playing, stop hearing, leave the channel."""
        self._leaving = True
        self.stop_playing()
        # discord.py waits for Discord to confirm the leave (up to the connect timeout, 30 s,
        # when a confirmation races its own clean-up): a session ends within LEAVE_SECONDS.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(LEAVE_SECONDS):
                await self.client.disconnect(force=True)
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump

    def _gone(self) -> None:
        if not self._leaving and self.on_disconnect is not None:
            self.on_disconnect()
