"""Several members speaking at once, mixed into the one stream a realtime model hears."""

from __future__ import annotations

from array import array

from omnicord.voice.codec import DISCORD_CHANNELS, DISCORD_RATE, FRAME_BYTES, Resampler
from omnicord.voice.pcm import rms, samples, to_bytes

#: RMS (full scale 32767) under which a speaker's audio counts as silence for attribution:
#: about -50 dBFS, below any voice and above Opus's noise floor on silence.
SILENCE_RMS = 100.0


class Mixer:
    """Per-speaker 20 ms frames of 48 kHz stereo PCM16 in; mixed 16 kHz mono PCM16 out.

    ``add`` queues a speaker's decoded audio; ``drain`` sums what every speaker sent since the
    last drain, sample by sample from each speaker's first frame (with clipping at full
    scale), and resamples the sum to ``out_rate`` mono as one stream (its filter state carries
    across drains). A speaker may queue at most ``max_buffered_ms`` between drains; older
    audio is dropped first (``dropped_bytes`` counts it). Not thread-safe: use it from one
    thread (the event loop)."""

    def __init__(self, *, out_rate: int = 16_000, max_buffered_ms: int = 30_000,
                 silence_rms: float = SILENCE_RMS) -> None:
        self.out_rate = out_rate
        self.silence_rms = silence_rms
        self.max_bytes = max_buffered_ms * FRAME_BYTES // 20
        self.dropped_bytes = 0
        self._pending: dict[int, bytearray] = {}
        self._voiced: set[int] = set()
        self._active: set[int] = set()
        self._resampler = Resampler(DISCORD_RATE, DISCORD_CHANNELS, out_rate, 1)

    def add(self, speaker_id: int, pcm48k_stereo: bytes) -> None:
        """Queue ``speaker_id``'s audio (48 kHz stereo PCM16, normally one 20 ms frame)."""
        pending = self._pending.setdefault(speaker_id, bytearray())
        pending += pcm48k_stereo
        if len(pending) > self.max_bytes:
            excess = len(pending) - self.max_bytes
            excess += (-excess) % 4  # whole stereo samples
            del pending[:excess]
            self.dropped_bytes += excess
        if speaker_id not in self._voiced and rms(pcm48k_stereo) >= self.silence_rms:
            self._voiced.add(speaker_id)

    def drain(self) -> bytes:
        """Everything queued since the last drain, mixed and resampled to ``out_rate`` mono
        (``b""`` when nothing was queued)."""
        pending, self._pending = self._pending, {}
        self._active, self._voiced = self._voiced, set()
        streams = [samples(bytes(pcm)) for pcm in pending.values() if pcm]
        if not streams:
            return b""
        mixed = streams[0] if len(streams) == 1 else _sum_clipped(streams)
        return self._resampler.convert(to_bytes(mixed))

    def active_speakers(self) -> set[int]:
        """Who contributed audio above the silence level in the last drain window."""
        return set(self._active)


def _sum_clipped(streams: list[array[int]]) -> array[int]:
    length = max(len(stream) for stream in streams)
    total = [0] * length
    for stream in streams:
        for index, value in enumerate(stream):
            total[index] += value
    return array("h", [32767 if v > 32767 else -32768 if v < -32768 else v for v in total])
