"""DashScope's realtime protocol as plain dicts: the client events Omnicord sends, and the
server's errors turned into Omnicord's (messages redacted, one line, never a key)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omnicord.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ModelNotAvailable,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from omnicord.model.catalog import RealtimeModelSpec
from omnicord.secrets import redact

#: Bytes of PCM16 16 kHz mono per ``input_audio_buffer.append``: 100 ms.
CHUNK_BYTES = 3200
#: The model that transcribes the speaker's turns (``input_audio_transcription``).
TRANSCRIPTION_MODEL = "gummy-realtime-v1"
#: The error the service sends for ``response.cancel`` when the answer just ended.
CANCEL_NOT_ACTIVE = "response_cancel_not_active"
_MAX_SERVER_MESSAGE = 300


@dataclass(frozen=True)
class VadSettings:
    """Server voice activity detection: how loud is speech (0-1), how long a silence ends a
    turn (200-6000 ms), and how much audio before the speech start the turn keeps."""

    threshold: float = 0.5
    silence_ms: int = 800
    prefix_padding_ms: int = 300


@dataclass(frozen=True)
class SessionOptions:
    """What a session is opened with: ``voice`` None is the model's default; ``vad=None``
    is manual mode (``commit`` and ``create_response`` end a turn)."""

    model: str
    voice: str | None
    instructions: str = ""
    vad: VadSettings | None = VadSettings()
    transcribe_input: bool = True
    modalities: tuple[str, ...] = ("text", "audio")


def event_id() -> str:
    """A fresh client event id."""
    return f"event_{uuid.uuid4().hex[:20]}"


def session_update(options: SessionOptions, model: RealtimeModelSpec, voice: str
                   ) -> dict[str, Any]:
    """The ``session.update`` event for ``options`` (``voice`` as the catalog spells it)."""
    session: dict[str, Any] = {
        "modalities": list(options.modalities),
        "voice": voice,
        "input_audio_format": "pcm16",
        "output_audio_format": model.output_audio_format,
        "turn_detection": None if options.vad is None else {
            "type": "server_vad",
            "threshold": options.vad.threshold,
            "silence_duration_ms": options.vad.silence_ms,
            "prefix_padding_ms": options.vad.prefix_padding_ms,
        },
    }
    if options.instructions:
        session["instructions"] = options.instructions
    if options.transcribe_input:
        session["input_audio_transcription"] = {"model": TRANSCRIPTION_MODEL}
    return {"event_id": event_id(), "type": "session.update", "session": session}


def audio_append(pcm: bytes) -> dict[str, Any]:
    """One ``input_audio_buffer.append`` carrying ``pcm``."""
    return {"event_id": event_id(), "type": "input_audio_buffer.append",
            "audio": base64.b64encode(pcm).decode("ascii")}


def simple(kind: str) -> dict[str, Any]:
    """A client event without fields (``response.cancel``, ``session.finish``, …)."""
    return {"event_id": event_id(), "type": kind}


def error_from_event(event: Mapping[str, Any], model: str) -> UpstreamError:
    """The Omnicord error an ``error`` event stands for, by its type and code."""
    error = event.get("error")
    details: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    kind = str(details.get("type") or "")
    code = str(details.get("code") or "") or None
    message = one_line(str(details.get("message") or "")) or "no reason given"
    lowered = f"{kind} {code or ''}".lower()
    if any(word in lowered for word in ("apikey", "api_key", "accessdenied", "authentication",
                                        "unauthorized", "permission")):
        return AuthenticationFailed(
            f"The realtime model service refused the API key: {message}", code=code)
    if "throttl" in lowered or "rate_limit" in lowered or "ratequota" in lowered:
        return RateLimited("The realtime model service is rate limiting us; try again in a "
                           "minute", code=code)
    if "modelnotfound" in lowered or "model_not_found" in lowered:
        return ModelNotAvailable(f"The realtime model service does not offer {model!r}",
                                 code=code)
    if "datainspection" in lowered:
        return ContentBlocked("The model service's content filter refused this talk or its "
                              "answer", code=code)
    if "invalid_request" in lowered or "invalid" in lowered:
        return BadRequest(f"The realtime model service rejected a request: {message}",
                          code=code)
    return UpstreamUnavailable(f"The realtime model service failed: {message}", code=code)


def one_line(text: str) -> str:
    """``text`` redacted, on one line, at most a few hundred characters."""
    flat = " ".join(redact(text).split())
    if len(flat) > _MAX_SERVER_MESSAGE:
        flat = flat[:_MAX_SERVER_MESSAGE - 1] + "…"
    return flat


def handshake_error(status: int, model: str, where: str) -> UpstreamError:
    """The error for a refused WebSocket handshake (HTTP ``status``)."""
    if status in (401, 403):
        return AuthenticationFailed(
            f"The realtime model service refused the API key{where} (check DASHSCOPE_API_KEY, "
            f"its region and its access to {model})", status=status)
    if status == 404:
        return ModelNotAvailable(
            f"The realtime model service{where} does not offer {model!r}", status=status)
    if status == 429:
        return RateLimited("The realtime model service is rate limiting us or the quota is "
                           "used up; try again in a minute", status=status)
    return UpstreamUnavailable(
        f"The realtime model service{where} refused the connection (HTTP {status}); try "
        "again shortly", status=status)
