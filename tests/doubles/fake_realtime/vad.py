"""A small energy VAD, as the fake's stand-in for the service's server VAD: 20 ms frames,
a frame is speech when its RMS is over a threshold; a turn ends after ``silence_ms`` of
frames under it."""

from __future__ import annotations

import array
import math
from dataclasses import dataclass

FRAME_MS = 20
FRAME_BYTES = 16_000 * 2 * FRAME_MS // 1000  # PCM16 16 kHz mono


@dataclass(frozen=True)
class Turn:
    """What the VAD decided on a frame: speech started, or stopped (positions in ms)."""

    kind: str  # "started" | "stopped"
    at_ms: int
    start_ms: int


class EnergyVad:
    """Feed PCM16 16 kHz mono; get ``Turn``s back."""

    def __init__(self, silence_ms: int, rms_threshold: float) -> None:
        self.silence_ms = silence_ms
        self.rms_threshold = rms_threshold
        self._buffer = b""
        self._position_ms = 0
        self._speaking = False
        self._start_ms = 0
        self._quiet_ms = 0

    @property
    def speaking(self) -> bool:
        return self._speaking

    def feed(self, pcm: bytes) -> list[Turn]:
        turns: list[Turn] = []
        self._buffer += pcm
        while len(self._buffer) >= FRAME_BYTES:
            frame, self._buffer = self._buffer[:FRAME_BYTES], self._buffer[FRAME_BYTES:]
            loud = rms(frame) >= self.rms_threshold
            if not self._speaking and loud:
                self._speaking, self._start_ms, self._quiet_ms = True, self._position_ms, 0
                turns.append(Turn("started", self._position_ms, self._position_ms))
            elif self._speaking:
                self._quiet_ms = 0 if loud else self._quiet_ms + FRAME_MS
                if self._quiet_ms >= self.silence_ms:
                    self._speaking = False
                    end = self._position_ms + FRAME_MS
                    turns.append(Turn("stopped", end, self._start_ms))
            self._position_ms += FRAME_MS
        return turns


def rms(frame: bytes) -> float:
    samples = array.array("h")
    samples.frombytes(frame[: len(frame) - len(frame) % 2])
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))
