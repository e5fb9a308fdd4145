"""Hearing members: raw UDP datagrams from discord.py's socket reader thread to each member's
Opus packets on the event loop.

discord.py 2.7 sends voice but does not receive it. Its voice connection hands every datagram
to socket listeners, in its socket reader thread; ``VoiceReceiver.on_datagram`` is such a
listener. It only checks the first bytes (RTP version 2, not RTCP) and passes the datagram to
the event loop (``call_soon_threadsafe``) into a bounded queue; everything else happens when
the loop reads the receiver (``async for packet in receiver``):

1. parse RTP (CSRCs, extension, padding); only payload type 120 (Opus) is audio;
2. transport-decrypt with the connection's current mode and secret key, strip the extension
   body and padding;
3. map the SSRC to a member (voice gateway SPEAKING, op 5: ``speaking``); a packet from an SSRC
   not yet mapped is dropped as silence and counted;
4. drop late and duplicate packets (sequence not after the last one from that SSRC);
5. the DAVE layer (``omnicord.cogs.voice.dave``); a frame it refuses becomes Opus silence and
   is counted.

Nothing raised here ever reaches discord.py's reader thread. Every drop is counted in
``stats``, and logged at debug level once per SSRC and reason.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from omnicord.cogs.voice.crypto import TransportCipher, TransportError
from omnicord.cogs.voice.dave import DaveLayer, DaveState, Outcome
from omnicord.cogs.voice.rtp import OPUS_PAYLOAD_TYPE, is_rtcp, newer, parse_rtp
from omnicord.voice.codec import OPUS_SILENCE, OpusDecoder

log = logging.getLogger(__name__)

#: Datagrams waiting for the event loop: 10 s of five members talking at once.
MAX_QUEUED = 2_500

Keys = Callable[[], "tuple[str, bytes] | None"]


@dataclass(frozen=True)
class VoicePacket:
    """One member's Opus packet (``OPUS_SILENCE`` when it could not be opened)."""

    user_id: int
    ssrc: int
    sequence: int
    timestamp: int
    opus: bytes
    #: False when the packet stands in for one the DAVE layer refused.
    ok: bool = True


@dataclass(frozen=True)
class VoiceFrame:
    """One member's decoded audio: 20 ms of PCM16 48 kHz stereo."""

    user_id: int
    sequence: int
    timestamp: int
    pcm: bytes


@dataclass
class ReceiverStats:
    """What happened to every datagram the receiver was handed."""

    datagrams: int = 0
    rtcp: int = 0
    malformed: int = 0  # not RTP, cut short, or not Opus
    overflow: int = 0  # dropped because the loop fell 10 s behind
    no_keys: int = 0  # before the session description (no mode or key yet)
    undecryptable: int = 0
    unmapped: int = 0  # from an SSRC no SPEAKING event named yet
    late: int = 0  # duplicate or out of order
    dave_failed: int = 0
    dave_unencrypted: int = 0
    delivered: int = 0
    by_reason: collections.Counter[str] = field(default_factory=collections.Counter)


class VoiceReceiver:
    """Members' Opus packets from one voice connection (see the module docstring).

    ``keys`` returns the connection's (mode, secret key) or ``None`` before it has them;
    ``dave`` returns its (DAVE protocol version, live ``DaveSession`` or ``None``). Both are
    called for each packet, so a re-key or a new session applies at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, keys: Keys,
                 dave: Callable[[], DaveState], max_queued: int = MAX_QUEUED) -> None:
        self.loop = loop
        self.keys = keys
        self.dave = DaveLayer(dave)
        self.stats = ReceiverStats()
        self.users: dict[int, int] = {}  # ssrc -> user id
        self._queue: collections.deque[bytes] = collections.deque(maxlen=max_queued)
        self._wakeup = asyncio.Event()
        self._closed = False
        self._last_sequence: dict[int, int] = {}
        self._cipher: TransportCipher | None = None
        self._logged: set[tuple[int, str]] = set()

    # ------------------------------------------------------------ voice gateway events

    def speaking(self, user_id: int, ssrc: int) -> None:
        """SPEAKING (op 5): ``ssrc`` is ``user_id``'s audio from now on."""
        if self.users.get(ssrc) != user_id:
            self._last_sequence.pop(ssrc, None)
        self.users[ssrc] = user_id

    def disconnected(self, user_id: int) -> None:
        """CLIENT_DISCONNECT (op 13): forget ``user_id``'s SSRCs."""
        for ssrc in [s for s, u in self.users.items() if u == user_id]:
            del self.users[ssrc]
            self._last_sequence.pop(ssrc, None)

    # ------------------------------------------------------------ socket reader thread

    def on_datagram(self, data: bytes) -> None:
        """discord.py's socket listener: runs in its reader thread; never raises."""
        try:
            if self._closed or self.loop.is_closed():
                return
            self.loop.call_soon_threadsafe(self._enqueue, bytes(data))
        except Exception:  # the loop closing under us: nothing to hand the packet to
            return

    def _enqueue(self, data: bytes) -> None:
        if self._closed:
            return
        if len(self._queue) == self._queue.maxlen:
            self.stats.overflow += 1  # the deque drops the oldest
        self._queue.append(data)
        self._wakeup.set()

    def feed(self, data: bytes) -> None:
        """Hand a datagram in from the event loop's own thread (tests, or another transport)."""
        self._enqueue(bytes(data))

    # ------------------------------------------------------------ the event loop side

    def close(self) -> None:
        """No more packets: iteration ends once the queue is read."""
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> VoiceReceiver:
        return self

    async def __anext__(self) -> VoicePacket:
        while True:
            while self._queue:
                packet = self.process(self._queue.popleft())
                if packet is not None:
                    return packet
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    async def decoded(self) -> collections.abc.AsyncIterator[VoiceFrame]:
        """Each member's audio decoded (one ``OpusDecoder`` per SSRC), as it arrives."""
        decoders: dict[int, OpusDecoder] = {}
        async for packet in self:
            decoder = decoders.setdefault(packet.ssrc, OpusDecoder())
            yield VoiceFrame(packet.user_id, packet.sequence, packet.timestamp,
                             decoder.decode(packet.opus))

    def process(self, data: bytes) -> VoicePacket | None:
        """One datagram to a member's packet, or ``None`` (counted) when it is not one."""
        stats = self.stats
        stats.datagrams += 1
        try:
            return self._process(data)
        except Exception:  # a bug must cost one packet, not the connection's hearing
            log.debug("voice packet dropped by an unexpected error", exc_info=True)
            self._count(0, "error")
            return None

    def _process(self, data: bytes) -> VoicePacket | None:
        stats = self.stats
        if is_rtcp(data):
            stats.rtcp += 1
            return None
        packet = parse_rtp(data)
        if packet is None or packet.payload_type != OPUS_PAYLOAD_TYPE:
            stats.malformed += 1
            return None
        cipher = self._current_cipher()
        if cipher is None:
            stats.no_keys += 1
            return None
        try:
            frame = cipher.decrypt(packet)
        except TransportError as error:
            stats.undecryptable += 1
            self._count(packet.ssrc, "undecryptable", str(error))
            return None
        user_id = self.users.get(packet.ssrc)
        if user_id is None:
            stats.unmapped += 1
            self._count(packet.ssrc, "unmapped")
            return None
        last = self._last_sequence.get(packet.ssrc)
        if last is not None and not newer(packet.sequence, last):
            stats.late += 1
            return None
        self._last_sequence[packet.ssrc] = packet.sequence
        opus, outcome = self.dave.open(user_id, frame)
        if opus is None:
            stats.dave_failed += 1
            self._count(packet.ssrc, "dave")
            opus = OPUS_SILENCE
        elif outcome is Outcome.unencrypted:
            stats.dave_unencrypted += 1
        stats.delivered += 1
        return VoicePacket(user_id, packet.ssrc, packet.sequence, packet.timestamp, opus,
                           ok=outcome is not Outcome.failed)

    def _current_cipher(self) -> TransportCipher | None:
        keys = self.keys()
        if keys is None:
            return None
        mode, key = keys
        if self._cipher is None or (self._cipher.mode, self._cipher.key) != (mode, key):
            try:
                self._cipher = TransportCipher(mode, key)
            except TransportError as error:
                self._count(0, "mode", str(error))
                return None
        return self._cipher

    def _count(self, ssrc: int, reason: str, detail: str = "") -> None:
        self.stats.by_reason[reason] += 1
        if (ssrc, reason) not in self._logged:
            self._logged.add((ssrc, reason))
            log.debug("voice packets from SSRC %d dropped (%s)%s", ssrc, reason,
                      f": {detail}" if detail else "")
