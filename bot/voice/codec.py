"""Opus in and out of voice channels, and resampling, with PyAV in process (its wheels ship
libopus and libswresample: no system libopus, no ffmpeg subprocess per frame).

Discord's voice audio is Opus, 48 kHz stereo, one packet per 20 ms. ``OpusDecoder`` turns a
member's packet into 20 ms of PCM16 48 kHz stereo (3,840 bytes), ``OpusEncoder`` turns 20 ms of
it into one packet, and ``Resampler`` converts PCM16 between rates and channel counts as a
stream (its filter state carries across calls, so chunk boundaries make no clicks).

Measured cost per 20 ms frame on the 2-core development machine (PyAV 18.1, libopus inside
its wheel; ``pytest -s tests/voice/test_codec.py -k cost`` prints it): encoding speech
0.25-0.7 ms (64 kb/s, VoIP; up to about 2 ms for white noise), decoding 0.07-0.3 ms, 48 kHz
stereo to 16 kHz mono 0.04-0.05 ms. Opening a decoder takes about 0.15 ms. A talk session with
a few speakers spends a few percent of one core on codecs.
"""

from __future__ import annotations

import logging
from array import array
from fractions import Fraction

import av
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler

log = logging.getLogger(__name__)

FRAME_MS = 20
DISCORD_RATE = 48_000
DISCORD_CHANNELS = 2
#: Samples per channel in one 20 ms frame at 48 kHz.
FRAME_SAMPLES = DISCORD_RATE * FRAME_MS // 1000
#: Bytes of one 20 ms frame of 48 kHz stereo PCM16.
FRAME_BYTES = FRAME_SAMPLES * DISCORD_CHANNELS * 2
#: 20 ms of digital silence at 48 kHz stereo.
SILENCE_FRAME = bytes(FRAME_BYTES)
#: Opus's 20 ms silence packet (what Discord clients send when they stop talking).
OPUS_SILENCE = b"\xf8\xff\xfe"

_LAYOUTS = {1: "mono", 2: "stereo"}


def _layout(channels: int) -> str:
    try:
        return _LAYOUTS[channels]
    except KeyError:
        raise ValueError(f"only mono and stereo PCM are supported, not {channels} channels") \
            from None


def _pcm_of(frame: AudioFrame) -> bytes:
    """The interleaved PCM16 bytes of a packed s16 frame (a plane's buffer is padded)."""
    size = frame.samples * len(frame.layout.channels) * 2
    return bytes(memoryview(frame.planes[0])[:size])


class OpusDecoder:
    """One speaker's Opus stream to PCM16 48 kHz stereo. Keep one per speaker (SSRC): Opus
    decoding carries state from packet to packet.

    ``decode`` never raises: an empty, corrupt or undecodable packet becomes a 20 ms silence
    frame and is counted in ``failures`` (the decoder is reopened after a failure)."""

    def __init__(self) -> None:
        self.failures = 0
        self._context = self._open()
        self._resampler: AudioResampler | None = None

    @staticmethod
    def _open() -> av.AudioCodecContext:
        context = av.AudioCodecContext.create("libopus", "r")
        context.sample_rate = DISCORD_RATE
        context.layout = "stereo"
        context.open()
        return context

    def decode(self, packet: bytes) -> bytes:
        """20 ms of PCM16 48 kHz stereo (3,840 bytes) for a 20 ms packet; a packet of another
        length (10, 40, 60 ms) gives its own length."""
        if not packet:  # an empty packet would flush the decoder for good
            self.failures += 1
            return SILENCE_FRAME
        try:
            frames = self._context.decode(av.Packet(packet))
            pcm = b"".join(self._to_discord(frame) for frame in frames)
        except Exception as error:  # PyAV raises its own FFmpegError family and ValueError
            self.failures += 1
            log.debug("undecodable Opus packet (%d bytes): %s", len(packet), error)
            self._context = self._open()
            return SILENCE_FRAME
        return pcm or SILENCE_FRAME

    def _to_discord(self, frame: AudioFrame) -> bytes:
        if (frame.format.name, frame.layout.name, frame.sample_rate) == (
                "s16", "stereo", DISCORD_RATE):
            return _pcm_of(frame)
        if self._resampler is None:
            self._resampler = AudioResampler(format="s16", layout="stereo", rate=DISCORD_RATE)
        return b"".join(_pcm_of(out) for out in self._resampler.resample(frame))


class OpusEncoder:
    """PCM16 48 kHz stereo, 20 ms at a time, to Opus packets (one per frame). Keep one per
    outgoing stream: Opus encoding carries state from frame to frame."""

    def __init__(self, *, bitrate: int = 64_000, application: str = "voip") -> None:
        context = av.AudioCodecContext.create("libopus", "w")
        context.sample_rate = DISCORD_RATE
        context.layout = "stereo"
        context.format = "s16"
        context.bit_rate = bitrate
        context.time_base = Fraction(1, DISCORD_RATE)
        context.options = {"application": application, "frame_duration": str(FRAME_MS)}
        context.open()
        self._context = context
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        """One Opus packet for exactly one 20 ms frame (3,840 bytes) of 48 kHz stereo PCM16."""
        if len(pcm) != FRAME_BYTES:
            raise ValueError(f"an Opus frame is {FRAME_BYTES} bytes of 48 kHz stereo PCM16, "
                             f"not {len(pcm)}")
        frame = AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
        frame.sample_rate = DISCORD_RATE
        frame.time_base = Fraction(1, DISCORD_RATE)
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        frame.planes[0].update(pcm)
        packets = self._context.encode(frame)
        # libopus gives one packet per 20 ms frame as soon as it has it (no frame reordering)
        return b"".join(bytes(packet) for packet in packets) or OPUS_SILENCE


class Resampler:
    """PCM16 from one rate and channel count to another, as a stream: call ``convert`` with
    each chunk as it comes (any length; a partial sample waits for the next chunk) and
    ``flush`` at the end for the filter's tail."""

    def __init__(self, in_rate: int, in_channels: int, out_rate: int,
                 out_channels: int) -> None:
        self.in_rate, self.in_channels = in_rate, in_channels
        self.out_rate, self.out_channels = out_rate, out_channels
        self._in_layout = _layout(in_channels)
        _layout(out_channels)
        self._same = (in_rate, in_channels) == (out_rate, out_channels)
        # Mono to stereo copies the channel (swresample's upmix would lower it by 3 dB)
        self._upmix = (in_channels, out_channels) == (1, 2)
        self._resampler = self._new_resampler()
        self._stride = 2 * in_channels
        self._rest = b""

    def convert(self, pcm: bytes) -> bytes:
        """The converted audio for ``pcm`` (and whatever was left over from the last chunk)."""
        data = self._rest + pcm
        whole = len(data) - len(data) % self._stride
        data, self._rest = data[:whole], data[whole:]
        if not data:
            return b""
        if self._same:
            return data
        if self._upmix and self.in_rate == self.out_rate:
            return _to_stereo(data)
        frame = AudioFrame(format="s16", layout=self._in_layout,
                           samples=len(data) // self._stride)
        frame.sample_rate = self.in_rate
        frame.planes[0].update(data)
        return self._out(self._resampler.resample(frame))

    def _new_resampler(self) -> AudioResampler:
        layout = "mono" if self._upmix else _layout(self.out_channels)
        return AudioResampler(format="s16", layout=layout, rate=self.out_rate)

    def _out(self, frames: list[AudioFrame]) -> bytes:
        pcm = b"".join(_pcm_of(out) for out in frames)
        return _to_stereo(pcm) if self._upmix else pcm

    def flush(self) -> bytes:
        """The filter's tail; the resampler starts afresh afterwards."""
        self._rest = b""
        if self._same:
            return b""
        if self._upmix and self.in_rate == self.out_rate:
            return b""
        tail = self._out(self._resampler.resample(None))
        self._resampler = self._new_resampler()
        return tail


def _to_stereo(mono: bytes) -> bytes:
    """Mono PCM16 with each sample copied to both channels."""
    samples = array("h")
    samples.frombytes(mono)
    stereo = array("h", bytes(len(mono) * 2))
    stereo[0::2] = samples
    stereo[1::2] = samples
    return stereo.tobytes()
