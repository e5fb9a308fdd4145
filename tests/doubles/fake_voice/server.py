"""``FakeVoiceServer``: Discord's voice server for one bot, on 127.0.0.1.

- The voice gateway (v8) is a real aiohttp websocket, so discord.py's own
  ``DiscordVoiceWebSocket`` runs: HELLO (op 8), IDENTIFY (op 0) -> READY (op 2: ssrc, ip,
  port, modes), HEARTBEAT (op 3) -> HEARTBEAT_ACK (op 6), SELECT_PROTOCOL (op 1) ->
  SESSION_DESCRIPTION (op 4: mode, a 32-byte key, ``dave_protocol_version`` 0: DAVE off,
  whatever IDENTIFY's ``max_dave_protocol_version`` said, which is recorded), SPEAKING (op 5)
  both ways, CLIENT_DISCONNECT (op 13), RESUME (op 7) -> RESUMED (op 9).
- The UDP endpoint answers IP discovery (74 bytes each way), records the bot's RTP (decrypted
  here, independently of Omnicord's receiver) and sends members' speech to the bot as Opus RTP,
  transport-encrypted with the negotiated mode.

Route the bot's voice websocket here with ``FakeGateway.voice = server`` (``attach`` sends
``wss://127.0.0.1:<port>/?v=8`` to it); the gateway answers the bot's op 4 with
VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE naming ``server.endpoint``.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import nacl.bindings
from aiohttp import web
from omnicord.voice.codec import OpusEncoder

from tests.doubles.fake_voice.speech import frames

XCHACHA = "aead_xchacha20_poly1305_rtpsize"
#: What Discord offers today (discord.py takes the first it supports).
DEFAULT_MODES = (XCHACHA, "aead_aes256_gcm_rtpsize")


@dataclass
class SentPacket:
    """One RTP packet the bot sent, decrypted."""

    ssrc: int
    sequence: int
    timestamp: int
    opus: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class VoiceSession:
    """One voice websocket connection (one bot connected to the channel)."""

    ws: web.WebSocketResponse
    identify: dict[str, Any] | None = None
    ssrc: int = 0
    mode: str | None = None
    secret_key: bytes = b""
    client_address: tuple[str, int] | None = None
    speaking: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0
    seq: int = 0


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: FakeVoiceServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.server._datagram(data, (str(addr[0]), int(addr[1])))


class FakeVoiceServer:
    """Discord's voice server (see the module docstring). ``async with FakeVoiceServer()``."""

    def __init__(self, *, modes: Sequence[str] = DEFAULT_MODES) -> None:
        self.modes = list(modes)
        self.sessions: list[VoiceSession] = []
        self.received: list[SentPacket] = []
        self.undecryptable = 0
        self.ws_port = 0
        self.udp_port = 0
        self._runner: web.AppRunner | None = None
        self._udp: _Udp | None = None
        self._client: aiohttp.ClientSession | None = None
        self._next_ssrc = 1000
        self._packet_event = asyncio.Event()
        self._ready = asyncio.Event()
        self._sequences: dict[int, int] = {}

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeVoiceServer:
        app = web.Application()
        app.router.add_get("/", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.ws_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=("127.0.0.1", 0))
        self._udp = protocol
        self.udp_port = transport.get_extra_info("sockname")[1]
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in self.sessions:
            await session.ws.close()
        if self._client is not None:
            await self._client.close()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoint(self) -> str:
        """What VOICE_SERVER_UPDATE names (discord.py connects to ``wss://{endpoint}/?v=8``)."""
        return f"127.0.0.1:{self.ws_port}"

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        """The bot's voice websocket: ``wss://{endpoint}/?v=8`` reaches this server over a
        real (plain) websocket on 127.0.0.1."""
        assert self._client is not None
        assert url.startswith(f"wss://{self.endpoint}/"), url
        return await self._client.ws_connect(f"ws://{self.endpoint}/?v=8", autoclose=False)

    @property
    def session(self) -> VoiceSession:
        """The bot's (latest) voice session."""
        return self.sessions[-1]

    async def wait_connected(self, timeout: float = 20.0) -> VoiceSession:
        """Wait until a session has its key and the bot's UDP address."""
        async with asyncio.timeout(timeout):
            while not (self.sessions and self.session.secret_key  # noqa: ASYNC110
                       and self.session.client_address):
                await asyncio.sleep(0.01)
        return self.session

    # ------------------------------------------------------------ voice gateway

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = VoiceSession(ws)
        self.sessions.append(session)
        await self._send(session, 8, {"v": 8, "heartbeat_interval": 41_250.0})
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                await self._on_message(session, json.loads(message.data))
            elif message.type is aiohttp.WSMsgType.BINARY:
                pass  # DAVE's binary opcodes: DAVE is off here
        return ws

    async def _send(self, session: VoiceSession, op: int, data: object) -> None:
        session.seq += 1
        if not session.ws.closed:
            await session.ws.send_str(json.dumps({"op": op, "d": data, "seq": session.seq}))

    async def _on_message(self, session: VoiceSession, message: dict[str, Any]) -> None:
        op, data = message["op"], message.get("d")
        if op == 0:  # IDENTIFY
            session.identify = data
            session.ssrc = self._next_ssrc
            self._next_ssrc += 1
            await self._send(session, 2, {"ssrc": session.ssrc, "ip": "127.0.0.1",
                                          "port": self.udp_port, "modes": self.modes,
                                          "heartbeat_interval": 1})
        elif op == 3:  # HEARTBEAT
            session.heartbeats += 1
            await self._send(session, 6, {"t": (data or {}).get("t")})
        elif op == 1:  # SELECT_PROTOCOL
            session.mode = data["data"]["mode"]
            session.secret_key = os.urandom(32)
            await self._send(session, 4, {"mode": session.mode,
                                          "secret_key": list(session.secret_key),
                                          "dave_protocol_version": 0})
        elif op == 5:  # SPEAKING
            session.speaking.append(data)
        elif op == 7:  # RESUME
            await self._send(session, 9, None)

    async def announce(self, user_id: int, ssrc: int, *, speaking: int = 1) -> None:
        """SPEAKING (op 5) for a member: ``ssrc`` is ``user_id``'s audio."""
        await self._send(self.session, 5, {"user_id": str(user_id), "ssrc": ssrc,
                                           "speaking": speaking})

    async def client_disconnect(self, user_id: int) -> None:
        """CLIENT_DISCONNECT (op 13): a member left the call."""
        await self._send(self.session, 13, {"user_id": str(user_id)})

    # ------------------------------------------------------------ UDP

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) == 74 and data[:2] == b"\x00\x01":  # IP discovery request
            ssrc = struct.unpack_from(">I", data, 4)[0]
            for session in self.sessions:
                if session.ssrc == ssrc:
                    session.client_address = addr
            reply = bytearray(74)
            struct.pack_into(">HHI", reply, 0, 2, 70, ssrc)
            reply[8:8 + len(addr[0])] = addr[0].encode()
            struct.pack_into(">H", reply, 72, addr[1])
            self._sendto(bytes(reply), addr)
            return
        self._bot_packet(data)

    def _bot_packet(self, data: bytes) -> None:
        session = next((s for s in self.sessions if s.secret_key), None)
        if session is None or len(data) < 12 + 16 + 4:
            return
        header_size = 12 + 4 * (data[0] & 0x0F) + (4 if data[0] & 0x10 else 0)
        header = data[:header_size]
        try:
            plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                data[header_size:-4], header, data[-4:] + bytes(20), session.secret_key)
        except Exception:
            self.undecryptable += 1
            return
        if data[0] & 0x10:
            plain = plain[4 * struct.unpack_from(">H", header, header_size - 2)[0]:]
        sequence, timestamp, ssrc = struct.unpack_from(">HII", data, 2)
        self.received.append(SentPacket(ssrc, sequence, timestamp, plain, time.monotonic()))
        self._packet_event.set()

    def _sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self._udp is not None and self._udp.transport is not None
        self._udp.transport.sendto(data, addr)

    async def wait_for_packets(self, count: int, timeout: float = 20.0) -> list[SentPacket]:
        """Wait until the bot sent ``count`` packets in all; all it sent so far."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._packet_event.clear()
                await self._packet_event.wait()
        return list(self.received)

    # ------------------------------------------------------------ members speaking

    def rtp(self, ssrc: int, opus: bytes, *, sequence: int | None = None,
            timestamp: int | None = None, extension: bytes = b"\x10\x00\x00\x00") -> bytes:
        """A member's Opus packet as Discord relays it: RTP with a one-byte-header extension
        (audio level, ``extension`` whole 32-bit words), sealed with the session's mode."""
        session = self.session
        if sequence is None:
            sequence = self._sequences.get(ssrc, 0)
            self._sequences[ssrc] = (sequence + 1) & 0xFFFF
        if timestamp is None:
            timestamp = sequence * 960
        first = 0x90 if extension else 0x80
        header = struct.pack(">BBHII", first, 0x78, sequence, timestamp & 0xFFFFFFFF, ssrc)
        if extension:
            header += struct.pack(">HH", 0xBEDE, len(extension) // 4)
        nonce = struct.pack(">I", sequence)  # any counter: sent alongside
        assert session.mode == XCHACHA, session.mode
        sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            extension + opus, header, nonce + bytes(20), session.secret_key)
        return header + sealed + nonce

    def send_raw(self, datagram: bytes) -> None:
        """Send any datagram to the bot's voice socket."""
        address = self.session.client_address
        assert address is not None, "the bot has not done IP discovery"
        self._sendto(datagram, address)

    async def speak(self, user_id: int, pcm: bytes, *, ssrc: int | None = None,
                    announce: bool = True) -> int:
        """A member says ``pcm`` (PCM16 48 kHz stereo): SPEAKING (unless ``announce`` is
        false), then one encrypted Opus RTP packet per 20 ms frame, paced lightly. Returns how
        many packets were sent."""
        ssrc = ssrc if ssrc is not None else 20_000 + user_id % 10_000
        if announce:
            await self.announce(user_id, ssrc)
            await asyncio.sleep(0.05)  # the websocket message before the first datagram
        encoder = OpusEncoder()
        sent = 0
        for frame in frames(pcm):
            self.send_raw(self.rtp(ssrc, encoder.encode(frame)))
            sent += 1
            if sent % 5 == 0:
                await asyncio.sleep(0.005)
        return sent
