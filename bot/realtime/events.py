"""What a realtime session yields: one frozen dataclass per event a caller acts on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RealtimeUsage:
    """Tokens one answer cost (fields the service left out are 0)."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_payload(cls, usage: Any) -> RealtimeUsage | None:
        """The usage of a ``response.done``'s ``response.usage`` (None when there is none)."""
        if not isinstance(usage, Mapping):
            return None
        input_details = usage.get("input_token_details")
        output_details = usage.get("output_token_details")
        input_tokens = _count(usage.get("input_tokens"))
        output_tokens = _count(usage.get("output_tokens"))
        return cls(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            input_audio_tokens=_count(_get(input_details, "audio_tokens")),
            output_audio_tokens=_count(_get(output_details, "audio_tokens")),
            total_tokens=_count(usage.get("total_tokens")) or input_tokens + output_tokens,
        )


def _get(details: Any, name: str) -> Any:
    return details.get(name) if isinstance(details, Mapping) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True)
class SpeechStarted:
    """Server VAD heard someone begin speaking: during an answer, the barge-in signal."""

    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Server VAD heard the speech end; the service commits the turn and answers."""

    audio_end_ms: int


@dataclass(frozen=True)
class InputTranscript:
    """What the service heard in the speaker's turn."""

    text: str


@dataclass(frozen=True)
class AnswerStarted:
    """An answer began (``response.created``)."""

    response_id: str


@dataclass(frozen=True)
class TranscriptDelta:
    """More of the answer's words (its spoken transcript, or its text in text-only mode)."""

    text: str


@dataclass(frozen=True)
class AudioDelta:
    """More of the answer's speech: PCM16 mono at the session's ``output_rate``."""

    pcm: bytes

    def __repr__(self) -> str:  # never megabytes of samples in a log or a traceback
        return f"AudioDelta(<{len(self.pcm)} bytes>)"


@dataclass(frozen=True)
class AnswerDone:
    """An answer ended (``response.done``): ``completed``, ``cancelled`` (barge-in),
    ``failed``, ``incomplete`` (cut short, e.g. by a forced session renewal), …; ``transcript``
    holds the words that arrived."""

    response_id: str
    status: str
    transcript: str
    usage: RealtimeUsage | None


@dataclass(frozen=True)
class SessionRenewed:
    """The session moved to a new connection before the service's time limit, with the same
    settings and instructions (the model's memory of earlier turns does not carry over)."""


RealtimeEvent = (SpeechStarted | SpeechStopped | InputTranscript | AnswerStarted
                 | TranscriptDelta | AudioDelta | AnswerDone | SessionRenewed)
