"""What the media pipeline produces: parts ready to send and an account of what was done."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omnicord.i18n.text import Text
from omnicord.model.catalog import MAX_REQUEST_BYTES, ModelSpec
from omnicord.model.parts import Part, inline_items


class Notice(str):
    """What was done to an attachment (``converted from OGG/Opus``): a string holding its
    English, for logs, the command line and the store, that also keeps its catalogue message
    so a channel sees it in its own language (``render``)."""

    message: Text | None

    def __new__(cls, said: str | Text) -> Notice:
        made = super().__new__(cls, str(said))
        made.message = said if isinstance(said, Text) else None
        return made

    def render(self, language: str) -> str:
        """The notice in ``language`` (English where it has no catalogue message)."""
        return self.message.render(language) if self.message is not None else str(self)


@dataclass(frozen=True)
class MediaRef:
    """What a turn's attachment was, so it can be described (or re-sent) later."""

    kind: str  # "image", "audio", "video"
    name: str
    description: str = ""
    content_hash: str = ""
    format: str = ""
    seconds: float | None = None
    size_bytes: int | None = None
    tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaRef:
        """Inverse of ``to_dict``; unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def describe_media(media: Sequence[MediaRef]) -> str:
    """A short text stand-in for media that is not sent again."""
    return " ".join(
        f"[{ref.kind}: {ref.name}{' — ' + ref.description if ref.description else ''}]"
        for ref in media
    )



MediaKind = Literal["image", "audio", "video", "text"]
#: Who the media is for: a chat reply, the captioner, or a transcript (the chat model, the
#: sound only, split into parts like captions).
Purpose = Literal["chat", "caption", "transcript"]

#: Turns a recording's sound into text (e.g. with the captioner), for media sent as pictures.
AudioDescriber = Callable[[Path], Awaitable[str]]

#: Inline media (base64 characters) one request may carry: the body cap less room for the JSON
#: envelope, the text, and the history.
REQUEST_MEDIA_BUDGET = MAX_REQUEST_BYTES - 800_000


@dataclass(frozen=True)
class MediaTarget:
    """Who the media is for and how much room it may take."""

    model: ModelSpec
    purpose: Purpose = "chat"
    budget_bytes: int = REQUEST_MEDIA_BUDGET  # base64 characters for this item
    whole_video: bool = False  # the member asked about the whole video: sample it all

    def share(self, items: int) -> MediaTarget:
        """The same target with the request's media budget split between ``items`` files."""
        return dataclasses.replace(self, budget_bytes=REQUEST_MEDIA_BUDGET // max(1, items))


@dataclass(frozen=True)
class PreparedPart:
    """One message part ready to send, with what it costs."""

    # Left out of repr: megabytes of base64 would be copied into every log line, traceback
    # and task repr (asyncio.run formats its main task's result on the way out).
    part: Part = field(repr=False)
    kind: MediaKind
    format: str  # "wav", "mp3", "jpeg", "png", "mp4", "frames", "text" ...
    tokens: int
    seconds: float | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    start: float | None = None  # for a segment of a longer recording
    end: float | None = None

    @property
    def inline_bytes(self) -> int:
        """Base64 characters this part carries."""
        return sum(len(item) for item in inline_items(self.part))


@dataclass(frozen=True)
class PreparedMedia:
    """A member's attachment converted for one model, and what was done to it."""

    name: str
    kind: MediaKind  # what the member sent, as understood
    parts: tuple[PreparedPart, ...]
    notices: tuple[str, ...] = ()
    content_hash: str = ""
    source_bytes: int = 0
    source_format: str = ""
    extra_text: str = ""  # text to add beside the media (e.g. a video's sound, transcribed)
    details: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        """Estimated input tokens of all parts."""
        return sum(p.tokens for p in self.parts)

    @property
    def inline_bytes(self) -> int:
        """Base64 characters of all parts."""
        return sum(p.inline_bytes for p in self.parts)

    def ref(self, description: str = "") -> MediaRef:
        """What to remember about this attachment in the conversation store."""
        # Imported here: the image worker process loads this module and needs no database.
        first = self.parts[0] if self.parts else None
        return MediaRef(
            kind=self.kind,
            name=self.name,
            description=description or "; ".join(self.notices),
            content_hash=self.content_hash,
            format=first.format if first else "",
            seconds=sum(p.seconds or 0 for p in self.parts) or None,
            size_bytes=self.inline_bytes,
            tokens=self.tokens,
        )
