"""The core side of speaking in a voice channel: an answer's PCM turned into the 20 ms Opus
packets Discord takes, behind a small jitter buffer."""

from __future__ import annotations

import threading

from omnicord.voice.codec import (
    DISCORD_CHANNELS,
    DISCORD_RATE,
    FRAME_BYTES,
    FRAME_MS,
    OpusEncoder,
    Resampler,
)

#: At most this much answer audio is held (fed but not yet played); beyond it, feed drops.
MAX_QUEUED_MS = 30_000


class AnswerAudio:
    """One answer's audio: PCM16 mono at ``rate`` in (``feed``, as the model streams it), 20 ms
    Opus packets of 48 kHz stereo out (``next_packet``, from discord.py's player thread).

    ``feed`` only queues (cheap, on the event loop); ``next_packet`` resamples and encodes one
    frame at a time in the caller's thread (about 1-2 ms a frame), so the event loop never
    encodes. Playing starts once ``jitter_ms`` are buffered or the answer has ended, and starts
    over the same way after the buffer ran dry mid-answer. ``clear`` (barge-in) drops
    everything at once and finishes the answer. At most ``max_queued_ms`` are held; audio fed
    beyond that is dropped and counted in ``dropped_ms``. All methods are thread-safe."""

    def __init__(self, rate: int, *, jitter_ms: int = 60,
                 max_queued_ms: int = MAX_QUEUED_MS) -> None:
        self.rate = rate
        self.jitter_ms = jitter_ms
        self.max_queued_ms = max_queued_ms
        self.packets_sent = 0
        self.dropped_ms = 0.0
        self._lock = threading.Lock()
        self._raw = bytearray()  # fed, not yet resampled (mono PCM16 at rate)
        self._pcm = bytearray()  # resampled, not yet encoded (48 kHz stereo)
        self._resampler = Resampler(rate, 1, DISCORD_RATE, DISCORD_CHANNELS)
        self._encoder = OpusEncoder()
        self._playing = False
        self._ended = False
        self._cleared = False

    @property
    def buffered_ms(self) -> float:
        """Audio held and not yet handed out as packets, in milliseconds."""
        with self._lock:
            return self._buffered_ms()

    @property
    def ended(self) -> bool:
        """Whether the answer is complete (``end``) or was cleared."""
        return self._ended

    @property
    def finished(self) -> bool:
        """Whether nothing more will come: cleared, or ended with every packet handed out."""
        with self._lock:
            return self._cleared or (self._ended and not self._raw and not self._pcm)

    def _buffered_ms(self) -> float:
        return (len(self._raw) / (self.rate * 2)
                + len(self._pcm) / (DISCORD_RATE * DISCORD_CHANNELS * 2)) * 1000

    def feed(self, pcm: bytes) -> None:
        """Queue more of the answer (PCM16 mono at ``rate``); ignored once ended or cleared."""
        with self._lock:
            if self._ended:
                return
            room = int((self.max_queued_ms - self._buffered_ms()) / 1000 * self.rate) * 2
            kept = pcm[: max(room, 0)]
            if len(kept) < len(pcm):
                self.dropped_ms += (len(pcm) - len(kept)) / (self.rate * 2) * 1000
            self._raw += kept

    def end(self) -> None:
        """The answer is complete: play out what is buffered (the last frame padded with
        silence), without waiting for the jitter buffer."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._pcm += self._resampler.convert(bytes(self._raw))
            self._pcm += self._resampler.flush()
            self._raw.clear()
            if len(self._pcm) % FRAME_BYTES:
                self._pcm += bytes(FRAME_BYTES - len(self._pcm) % FRAME_BYTES)

    def clear(self) -> None:
        """Barge-in: drop everything buffered at once; the answer is finished."""
        with self._lock:
            self._raw.clear()
            self._pcm.clear()
            self._ended = self._cleared = True
            self._playing = False

    def next_packet(self) -> bytes | None:
        """The next 20 ms Opus packet, or ``None`` when none is ready (still buffering, ran
        dry, or finished: see ``finished``); the caller sends silence or waits."""
        with self._lock:
            if self._cleared:
                return None
            if not self._playing:
                if not self._ended and self._buffered_ms() < self.jitter_ms:
                    return None
                self._playing = True
            frame = self._next_frame()
            if frame is None:
                self._playing = False  # ran dry mid-answer: buffer jitter_ms again
                return None
            packet = self._encoder.encode(frame)
            self.packets_sent += 1
            return packet

    def _next_frame(self) -> bytes | None:
        while len(self._pcm) < FRAME_BYTES and self._raw:
            chunk = bytes(self._raw[: self.rate * 2 * FRAME_MS // 1000 * 5])  # 100 ms at most
            del self._raw[: len(chunk)]
            self._pcm += self._resampler.convert(chunk)
        if len(self._pcm) < FRAME_BYTES:
            return None
        frame = bytes(self._pcm[:FRAME_BYTES])
        del self._pcm[:FRAME_BYTES]
        return frame
