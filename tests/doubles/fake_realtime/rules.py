"""What DashScope's realtime API accepts from a client, as the vendor pages document it (its
own small table: this fake imports nothing from the ``bot`` package)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024
#: The largest single ``input_audio_buffer.append`` the fake takes (decoded): audio is
#: streamed in small chunks, never one blob.
MAX_APPEND_BYTES = 1 * MiB
INPUT_RATE = 16_000

FLASH_VOICES = ("Cherry", "Ethan", "Nofish", "Jennifer", "Ryan", "Katerina", "Elias", "Jada",
                "Dylan", "Sunny", "Li", "Marcus", "Roy", "Peter", "Rocky", "Kiki", "Eric")
TURBO_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie")


@dataclass(frozen=True)
class RealtimeModel:
    """One realtime model as the fake knows it."""

    name: str
    voices: tuple[str, ...]
    default_voice: str
    output_rate: int
    output_formats: tuple[str, ...]


_FLASH = RealtimeModel("qwen3-omni-flash-realtime", FLASH_VOICES, "Cherry", 24_000,
                       ("pcm16", "pcm24"))
_TURBO = RealtimeModel("qwen-omni-turbo-realtime", TURBO_VOICES, "Chelsie", 16_000,
                       ("pcm16",))
MODELS: dict[str, RealtimeModel] = {
    "qwen3-omni-flash-realtime": _FLASH,
    "qwen3-omni-flash-realtime-2025-09-15": _FLASH,
    "qwen3-omni-flash-realtime-2025-12-01": _FLASH,
    "qwen-omni-turbo-realtime": _TURBO,
    "qwen-omni-turbo-realtime-latest": _TURBO,
    "qwen-omni-turbo-realtime-2025-05-08": _TURBO,
}

CLIENT_EVENTS = ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                 "input_audio_buffer.clear", "input_image_buffer.append", "response.create",
                 "response.cancel", "session.finish")
SESSION_FIELDS = ("modalities", "voice", "instructions", "input_audio_format",
                  "output_audio_format", "input_audio_transcription", "turn_detection",
                  "smooth_output", "temperature", "top_p", "top_k", "max_tokens",
                  "repetition_penalty", "presence_penalty", "seed")
MODALITIES = ({"text"}, {"text", "audio"})


class Invalid(Exception):
    """A client event the API rejects: becomes an ``error`` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def error_event(code: str, message: str, param: str | None = None,
                kind: str = "invalid_request_error") -> dict[str, Any]:
    """The server's ``error`` event."""
    return {"type": "error",
            "error": {"type": kind, "code": code, "message": message, "param": param}}


def check_session(session: Any, model: RealtimeModel) -> dict[str, Any]:
    """The ``session`` of a ``session.update`` if the API takes it; Invalid otherwise."""
    if not isinstance(session, dict):
        raise Invalid("invalid_type", "session must be an object", "session")
    for name in session:
        if name not in SESSION_FIELDS:
            raise Invalid("unknown_parameter", f"Unknown parameter: 'session.{name}'.",
                          f"session.{name}")
    modalities = session.get("modalities", ["text", "audio"])
    if (not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities)
            or set(modalities) not in MODALITIES or len(set(modalities)) != len(modalities)):
        raise Invalid("invalid_value", f"Invalid modalities: {modalities}. Supported "
                      "combinations are: ['text'] and ['audio', 'text'].", "session.modalities")
    voice = session.get("voice", model.default_voice)
    if voice not in model.voices:
        raise Invalid("invalid_value", f"Invalid voice {voice!r} for {model.name}",
                      "session.voice")
    if session.get("input_audio_format", "pcm16") != "pcm16":
        raise Invalid("invalid_value", "input_audio_format must be pcm16",
                      "session.input_audio_format")
    if session.get("output_audio_format", model.output_formats[0]) not in model.output_formats:
        raise Invalid("invalid_value", f"output_audio_format must be one of "
                      f"{list(model.output_formats)}", "session.output_audio_format")
    instructions = session.get("instructions", "")
    if not isinstance(instructions, str):
        raise Invalid("invalid_type", "instructions must be a string", "session.instructions")
    _check_turn_detection(session.get("turn_detection", {"type": "server_vad"}))
    return session


def _check_turn_detection(detection: Any) -> None:
    if detection is None:
        return
    param = "session.turn_detection"
    if not isinstance(detection, dict) or detection.get("type") != "server_vad":
        raise Invalid("invalid_value", "turn_detection must be null or server_vad", param)
    threshold = detection.get("threshold", 0.5)
    if not _number(threshold) or not 0.0 <= threshold <= 1.0:
        raise Invalid("invalid_value", "threshold must be between 0 and 1",
                      f"{param}.threshold")
    silence = detection.get("silence_duration_ms", 800)
    if not isinstance(silence, int) or isinstance(silence, bool) or not 200 <= silence <= 6000:
        raise Invalid("invalid_value", "silence_duration_ms must be an integer in [200, 6000]",
                      f"{param}.silence_duration_ms")
    padding = detection.get("prefix_padding_ms", 300)
    if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
        raise Invalid("invalid_value", "prefix_padding_ms must be a non-negative integer",
                      f"{param}.prefix_padding_ms")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def decode_audio(event: dict[str, Any]) -> bytes:
    """The PCM of an ``input_audio_buffer.append``; Invalid unless it is strict base64 of an
    even, non-empty length up to ``MAX_APPEND_BYTES``."""
    data = event.get("audio")
    if not isinstance(data, str) or not data:
        raise Invalid("invalid_value", "audio must be a non-empty base64 string", "audio")
    try:
        pcm = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("invalid_value", "audio is not valid base64", "audio") from None
    if len(pcm) % 2:
        raise Invalid("invalid_value", "audio must be whole 16-bit samples", "audio")
    if len(pcm) > MAX_APPEND_BYTES:
        raise Invalid("invalid_value", f"audio chunk too large: {len(pcm)} bytes (at most "
                      f"{MAX_APPEND_BYTES}); stream it in small chunks", "audio")
    return pcm


def decode_image(event: dict[str, Any]) -> bytes:
    """The JPEG of an ``input_image_buffer.append``; Invalid otherwise."""
    data = event.get("image")
    try:
        image = base64.b64decode(data, validate=True) if isinstance(data, str) else b""
    except (binascii.Error, ValueError):
        image = b""
    if not image.startswith(b"\xff\xd8"):
        raise Invalid("invalid_value", "image must be a base64 JPEG", "image")
    return image
