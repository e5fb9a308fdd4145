"""The Qwen-Omni API's request rules, checked before anything is sent.

A request that breaks one raises ``RequestRefused`` with a reason a person can act on; the API
would have rejected it anyway, after an upload and a wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omnicord.errors import RequestRefused
from omnicord.model.catalog import (
    MAX_DATA_URI_BYTES,
    MAX_REQUEST_BYTES,
    ModelSpec,
    find_model,
)
from omnicord.model.parts import (
    Message,
    content_parts,
    inline_bytes,
    inline_items,
    message_modalities,
    message_text,
)

_MODALITY_NAMES = {"image": "an image", "audio": "audio", "video": "a video"}


@dataclass
class ChatRequest:
    """One streamed chat request. ``voice`` set means: answer with speech too."""

    model: str
    messages: list[Message]
    voice: str | None = None
    thinking: bool = False
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_chat_request(request: ChatRequest) -> ModelSpec:
    """Refuse what the API would refuse; return the model's catalog entry."""
    model = find_model(request.model, "chat")
    _check_modes(model, request)
    _check_messages(model, request.messages)
    _check_inline_sizes(request.messages)
    return model


def _check_modes(model: ModelSpec, request: ChatRequest) -> None:
    if request.thinking and not model.supports_thinking:
        raise RequestRefused(f"{model.name} has no thinking mode (only qwen3-omni-flash does)")
    if request.voice is None:
        return
    if request.thinking:
        raise RequestRefused("Thinking mode answers in text only: turn thinking off for speech")
    if model.find_voice(request.voice) is None:
        raise RequestRefused(
            f"{model.name} has no voice {request.voice!r}; "
            f"choose from {', '.join(model.voice_names())}"
        )
    has_system = any(m.get("role") == "system" for m in request.messages)
    if has_system and not model.system_message_with_audio_output:
        raise RequestRefused(
            f"{model.name} takes no system message when it answers with speech"
        )


def _check_messages(model: ModelSpec, messages: Sequence[Message]) -> None:
    if not messages or messages[-1].get("role") != "user":
        raise RequestRefused("A request must end with a user message")
    for message in messages:
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise RequestRefused(f"Unknown message role {role!r}")
        modalities = message_modalities(message)
        if role != "user" and modalities:
            raise RequestRefused(f"{role.capitalize()} messages may hold text only")
        if len(modalities) > 1:
            names = " and ".join(_MODALITY_NAMES[m] for m in sorted(modalities))
            raise RequestRefused(
                f"One message can carry text plus one kind of media, not {names}"
            )
        _check_media_counts(model, message)


def _check_media_counts(model: ModelSpec, message: Message) -> None:
    parts = content_parts(message)
    kinds = [p.get("type") for p in parts]
    if kinds.count("input_audio") > 1:
        raise RequestRefused("One message can carry only one audio file")
    if kinds.count("video_url") + kinds.count("video") > 1:
        raise RequestRefused("One message can carry only one video")
    for part in parts:
        if part.get("type") == "video" and model.image_list is not None:
            count = len(part["video"])
            limits = model.image_list
            if not limits.min_images <= count <= limits.max_images:
                raise RequestRefused(
                    f"{model.name} takes a video as {limits.min_images} to "
                    f"{limits.max_images} frames, not {count}"
                )


def request_size(messages: Sequence[Message]) -> int:
    """A close upper estimate of the request body: inline media plus text (UTF-8, with
    room for JSON escaping), without serializing megabytes of base64 on the event loop."""
    text = sum(len(message_text(m).encode()) for m in messages)
    return inline_bytes(messages) + text * 2 + 200 * len(messages)


def _check_inline_sizes(messages: Sequence[Message]) -> None:
    for message in messages:
        for part in content_parts(message):
            for item in inline_items(part):
                if len(item) > MAX_DATA_URI_BYTES:
                    raise RequestRefused(
                        f"An attachment is {len(item) / 1e6:.1f} MB once encoded; "
                        f"the limit is {MAX_DATA_URI_BYTES / 1e6:.1f} MB"
                    )
    body = request_size(messages)
    if body > MAX_REQUEST_BYTES:
        raise RequestRefused(
            f"The request is {body / 1e6:.1f} MB; the service accepts at most "
            f"{MAX_REQUEST_BYTES / 1e6:.1f} MB: send fewer or smaller attachments"
        )
