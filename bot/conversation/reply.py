"""Accumulating a streamed reply while passing its events on."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnicord.i18n import text
from omnicord.model.catalog import SPEECH_SAMPLE_RATE
from omnicord.model.events import (
    AudioChunk,
    Finished,
    ReasoningDelta,
    ReplyEvent,
    TextDelta,
    Transcript,
    Usage,
)

#: Shown under a reply the model stopped at its output limit (it is not stored with the turn),
#: in the channel's language.
CUT_SHORT_NOTE = text("chat.cut_short")
#: Shown under a reply a member stopped (the text so far is what is stored).
STOPPED_BY_MEMBER_NOTE = text("chat.stopped_by_member")


@dataclass
class Reply:
    """Everything a finished (or interrupted) reply stream carried."""

    text_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    pcm_parts: list[bytes] = field(default_factory=list)
    speech_rate: int = SPEECH_SAMPLE_RATE  # Hz of the model's PCM speech
    transcript: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    stopped: bool = False  # a member stopped it: what came so far is the whole reply

    @property
    def cut_short(self) -> bool:
        """Whether the model stopped at its output limit rather than where it meant to."""
        return self.finish_reason == "length"

    @property
    def text(self) -> str:
        """The reply text so far."""
        return "".join(self.text_parts)

    @property
    def reasoning(self) -> str:
        """The chain of thought so far."""
        return "".join(self.reasoning_parts)

    @property
    def pcm(self) -> bytes:
        """The speech so far (16-bit mono PCM at ``speech_rate``)."""
        return b"".join(self.pcm_parts)

    @property
    def spoken_text(self) -> str:
        """What the reply says: the text, or the speech transcript when there was no text."""
        return self.text.strip() or self.transcript.strip()

    def add(self, event: ReplyEvent) -> None:
        """Fold one event in."""
        match event:
            case TextDelta(text=text):
                self.text_parts.append(text)
            case ReasoningDelta(text=text):
                self.reasoning_parts.append(text)
            case AudioChunk(pcm=pcm):
                self.pcm_parts.append(pcm)
            case Transcript(text=text):
                self.transcript += text
            case Usage():
                self.usage = event
            case Finished(reason=reason):
                self.finish_reason = reason

