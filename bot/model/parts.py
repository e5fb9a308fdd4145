"""Builders for the OpenAI-compatible message parts Qwen-Omni takes, and how to classify them."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

Part = dict[str, Any]
Message = dict[str, Any]
Modality = Literal["image", "audio", "video"]


def data_url(data: bytes, mime: str = "") -> str:
    """Inline ``data`` as a base64 data URL (``data:;base64,...`` when no MIME type is given)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def base64_chars(raw_bytes: float) -> int:
    """Characters of the base64 form of ``raw_bytes`` bytes."""
    return math.ceil(raw_bytes / 3) * 4


def data_url_chars(raw_bytes: float, mime: str = "") -> int:
    """Characters of ``data_url`` for ``raw_bytes`` bytes of type ``mime``."""
    return len(f"data:{mime};base64,") + base64_chars(raw_bytes)


def text_part(text: str) -> Part:
    """A text part."""
    return {"type": "text", "text": text}


def image_part(data: bytes, mime: str) -> Part:
    """A still image, inlined."""
    return {"type": "image_url", "image_url": {"url": data_url(data, mime)}}


def audio_part(data: bytes, audio_format: str) -> Part:
    """An audio file, inlined; ``audio_format`` is the API's name for it (``wav``, ``mp3`` ...)."""
    return {"type": "input_audio", "input_audio": {"data": data_url(data), "format": audio_format}}


def video_part(data: bytes) -> Part:
    """A video file (its sound is heard too), inlined."""
    return {"type": "video_url", "video_url": {"url": data_url(data)}}


def image_list_part(frames: Iterable[bytes], mime: str = "image/jpeg") -> Part:
    """A video given as a list of frames (no sound)."""
    return {"type": "video", "video": [data_url(frame, mime) for frame in frames]}


def part_modality(part: Part) -> Modality | None:
    """The non-text modality of a part, or None for text."""
    kind = part.get("type")
    if kind == "image_url":
        return "image"
    if kind == "input_audio":
        return "audio"
    if kind in ("video_url", "video"):
        return "video"
    return None


def content_parts(message: Message) -> list[Part]:
    """A message's content as a list of parts (a plain string becomes one text part)."""
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    return list(content)


def message_modalities(message: Message) -> set[Modality]:
    """The non-text modalities used in one message."""
    return {m for part in content_parts(message) if (m := part_modality(part)) is not None}


def inline_items(part: Part) -> list[str]:
    """Every inline media string (data URL or base64) a part carries."""
    kind = part.get("type")
    if kind == "image_url":
        return [part["image_url"]["url"]]
    if kind == "input_audio":
        return [part["input_audio"]["data"]]
    if kind == "video_url":
        return [part["video_url"]["url"]]
    if kind == "video":
        return list(part["video"])
    return []


def inline_bytes(messages: Sequence[Message]) -> int:
    """Total size of inline media across messages, as sent."""
    return sum(
        len(item)
        for message in messages
        for part in content_parts(message)
        for item in inline_items(part)
    )


def message_text(message: Message) -> str:
    """The text of a message, its text parts joined."""
    return "\n".join(p["text"] for p in content_parts(message) if p.get("type") == "text")
