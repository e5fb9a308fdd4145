"""Typed events a streamed model reply is turned into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply text."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the chain of thought (thinking mode only)."""

    text: str


@dataclass(frozen=True)
class AudioChunk:
    """Decoded speech: raw PCM, signed 16-bit little-endian, mono, 24 kHz, whole samples."""

    pcm: bytes


@dataclass(frozen=True)
class Transcript:
    """The transcript of the spoken reply, sent near the end of an audio stream."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts from the final usage chunk."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_details: dict[str, int] = field(default_factory=dict)
    completion_details: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: Any) -> Usage:
        """Build from the SDK's usage object or a plain dict."""
        data = _as_dict(payload)
        return cls(
            prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0),
            total_tokens=int(data.get("total_tokens") or 0),
            prompt_details=_int_values(data.get("prompt_tokens_details")),
            completion_details=_int_values(data.get("completion_tokens_details")),
        )


def add_usage(first: Usage | None, second: Usage | None) -> Usage | None:
    """The sum of two usage reports (either may be missing)."""
    if first is None or second is None:
        return first or second
    return Usage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
    )


@dataclass(frozen=True)
class Finished:
    """The stream ended normally; ``reason`` is the model's finish reason."""

    reason: str


ReplyEvent = TextDelta | ReasoningDelta | AudioChunk | Transcript | Usage | Finished


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(vars(value))


def _int_values(value: Any) -> dict[str, int]:
    return {k: int(v) for k, v in _as_dict(value).items() if isinstance(v, int | float)}
