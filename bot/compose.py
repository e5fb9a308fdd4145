"""Composing the ``messages`` list for a request under the Qwen-Omni rules.

- A user message holds text plus at most one kind of media: a member message carrying, say, an
  image and a voice note becomes consecutive user messages (image with the text, then audio).
- Assistant messages are text only: a spoken reply is kept as its text.
- Where the model takes no system message (qwen-omni-turbo answering with speech), the
  instructions move into the first user message.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.catalog import ModelSpec
from bot.parts import Message, Modality, Part, part_modality, text_part
from bot.store.base import MediaRef, Turn

DEFAULT_SYSTEM_PROMPT = (
    "You are Omnicord, a friendly assistant that can see images and video and hear audio. "
    "Answer concisely and conversationally."
)


def split_by_modality(text: str, media: Sequence[Part]) -> list[Message]:
    """One member message as user messages that each carry at most one kind of media.

    The text rides with the first media group; parts keep their order within a group.
    """
    groups: dict[Modality, list[Part]] = {}
    for part in media:
        modality = part_modality(part)
        if modality is None:
            raise ValueError("media parts must be image, audio or video")
        groups.setdefault(modality, []).append(part)
    messages: list[Message] = []
    for modality, parts in groups.items():
        singles = parts if modality in ("audio", "video") else [parts]
        for single in singles:
            content = single if isinstance(single, list) else [single]
            messages.append({"role": "user", "content": list(content)})
    if not messages:
        return [{"role": "user", "content": [text_part(text)]}]
    if text:
        messages[0]["content"].append(text_part(text))
    return messages


def describe_media(media: Sequence[MediaRef]) -> str:
    """A short text stand-in for media that is no longer sent."""
    return " ".join(
        f"[{ref.kind}: {ref.name}{' — ' + ref.description if ref.description else ''}]"
        for ref in media
    )


def history_messages(turns: Sequence[Turn], *, attribute: bool = False) -> list[Message]:
    """Past turns as text-only user/assistant pairs (media replaced by descriptions)."""
    messages: list[Message] = []
    for turn in turns:
        text = " ".join(filter(None, [describe_media(turn.media), turn.text]))
        if attribute:
            text = f"{turn.speaker_name}: {text}"
        messages.append({"role": "user", "content": [text_part(text or "(no text)")]})
        messages.append({"role": "assistant", "content": turn.reply_text})
    return messages


def compose(
    model: ModelSpec,
    *,
    history: Sequence[Turn],
    text: str,
    media: Sequence[Part] = (),
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    speech: bool = False,
) -> list[Message]:
    """The full ``messages`` list: instructions, past turns, then the new member message."""
    messages = history_messages(history) + split_by_modality(text, media)
    if not system_prompt:
        return messages
    if speech and not model.system_message_with_audio_output:
        first = messages[0]
        first["content"] = [text_part(f"(Instructions: {system_prompt})"), *first["content"]]
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]
