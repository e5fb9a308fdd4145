"""Captions of whole recordings: the captioner over prepared media, segment by segment."""

from __future__ import annotations

from pathlib import Path

from omnicord.media.prepare import prepare_media
from omnicord.media.types import AudioDescriber, MediaTarget, PreparedMedia
from omnicord.model.captioner import Caption, CaptionerClient
from omnicord.model.events import Usage


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def add_usage(first: Usage | None, second: Usage | None) -> Usage | None:
    """The sum of two usage reports (either may be missing)."""
    if first is None or second is None:
        return first or second
    return Usage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
    )


async def caption_media(
    client: CaptionerClient, media: PreparedMedia, *, stream: bool = True
) -> Caption:
    """Caption prepared audio; a recording in several segments gets one caption per segment,
    joined in order and labelled with its time range."""
    if len(media.parts) == 1:
        return await client.caption(media.parts[0].part, stream=stream)
    pieces: list[str] = []
    usage: Usage | None = None
    for part in media.parts:
        caption = await client.caption(part.part, stream=stream)
        usage = add_usage(usage, caption.usage)
        pieces.append(f"[{clock(part.start or 0)}–{clock(part.end or 0)}] {caption.text}")
    return Caption("\n\n".join(pieces), usage)


def audio_describer(client: CaptionerClient) -> AudioDescriber:
    """A describer for the media pipeline: the captioner's account of a file's sound."""

    async def describe(path: Path) -> str:
        media = await prepare_media(
            path, name=path.name, target=MediaTarget(client.model, purpose="caption")
        )
        return (await caption_media(client, media)).text

    return describe
