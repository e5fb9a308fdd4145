"""Captions and transcripts: the model's work over prepared media, its tokens in the usage
ledger, and one INFO log line each (where, for whom, which model, what it was asked for, how
long the sound, tokens in/out, time taken; never the words).

A recording in several segments gets one caption per segment, joined in order and labelled
with its time range; ``audio_describer`` gives the media pipeline the captioner's account of
a video's sound.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from omnicord.conversation.respond import Payer
from omnicord.conversation.transcribe import TextSink, Transcriber, Transcription, time_range
from omnicord.media.prepare import prepare_media
from omnicord.media.types import AudioDescriber, MediaTarget, PreparedMedia
from omnicord.model.captioner import Caption, CaptionerClient
from omnicord.model.events import Usage, add_usage
from omnicord.model.omni import OmniClient
from omnicord.policy.usage import UsageLedger
from omnicord.pseudonyms import member_tag, reveal, scope_tag
from omnicord.store.records import utc_now

log = logging.getLogger("omnicord.caption")


async def caption_media(
    client: CaptionerClient, media: PreparedMedia, *, stream: bool = True
) -> Caption:
    """Caption prepared audio, one request per segment (each caption labelled with its time
    range when there are several)."""
    if len(media.parts) == 1:
        return await client.caption(media.parts[0].part, stream=stream)
    pieces: list[str] = []
    usage: Usage | None = None
    for part in media.parts:
        caption = await client.caption(part.part, stream=stream)
        usage = add_usage(usage, caption.usage)
        pieces.append(f"{time_range(part)}{caption.text}")
    return Caption("\n\n".join(pieces), usage)


def audio_describer(client: CaptionerClient) -> AudioDescriber:
    """A describer for the media pipeline: the captioner's account of a file's sound."""

    async def describe(path: Path) -> str:
        media = await prepare_media(
            path, name=path.name, target=MediaTarget(client.model, purpose="caption")
        )
        return (await caption_media(client, media)).text

    return describe


@dataclass(frozen=True)
class Asked:
    """Where a caption or transcript was asked for, whom its tokens count against, and when
    (the payer erased since then: its usage is not kept)."""

    scope: str
    payer: Payer
    at: str = field(default_factory=utc_now)


async def describe(captioner: CaptionerClient, media: PreparedMedia, *, ledger: UsageLedger,
                   asked: Asked) -> Caption:
    """The captioner's account of ``media``, its usage recorded and its line logged."""
    started = time.monotonic()
    caption = await caption_media(captioner, media)
    model = captioner.model.name
    await _record(ledger, asked, model, caption.usage)
    reveal(log, asked.payer.user_id, asked.scope)
    log.info("%s", caption_line(asked, model=model, mode="description", media=media,
                                usage=caption.usage, started=started))
    return caption


async def transcribe(client: OmniClient, model_name: str, media: PreparedMedia, *,
                     language: str | None, ledger: UsageLedger, asked: Asked,
                     cap: int | None = None, on_text: TextSink | None = None,
                     labels: str = "en") -> Transcription:
    """The words of ``media`` (translated into ``language`` when given) by a chat model, the
    payer's daily ``cap`` checked before every request and each request's usage recorded as it
    completes, and its line logged."""
    started = time.monotonic()
    transcription = await Transcriber(client, model_name, labels=labels).transcribe(
        media, language=language, on_text=on_text,
        allowance=DailyAllowance(ledger, asked, model_name, cap))
    reveal(log, asked.payer.user_id, asked.scope)
    log.info("%s", caption_line(asked, model=model_name, mode="transcript", media=media,
                                usage=transcription.usage, started=started))
    return transcription


@dataclass(frozen=True)
class DailyAllowance:
    """A transcript's spending for one payer: their daily cap (None or 0: none), checked before
    each request, and each request's usage in the ledger."""

    ledger: UsageLedger
    asked: Asked
    model: str
    cap: int | None

    async def check(self) -> None:
        """``OverDailyCap`` once the payer used their tokens for today."""
        await self.ledger.check_cap(self.asked.payer.user_id, self.cap)

    async def spend(self, usage: Usage) -> None:
        """Record one request's usage."""
        await _record(self.ledger, self.asked, self.model, usage)


async def _record(ledger: UsageLedger, asked: Asked, model: str, usage: Usage | None) -> None:
    if usage is None:
        return
    await ledger.record(user_id=asked.payer.user_id, model=model,
                        prompt_tokens=usage.prompt_tokens,
                        completion_tokens=usage.completion_tokens,
                        guild_id=asked.payer.guild_id, channel_id=asked.payer.channel_id,
                        began_at=asked.at)


def caption_line(asked: Asked, *, model: str, mode: str, media: PreparedMedia,
                 usage: Usage | None, started: float) -> str:
    """The one log line of a finished caption (``mode=description``) or transcript
    (``mode=transcript``): ``seconds`` is the sound's length, ``total`` the time taken from
    ``started`` (``time.monotonic``)."""
    seconds = sum(part.seconds or 0 for part in media.parts)
    tokens = f"{usage.prompt_tokens}/{usage.completion_tokens}" if usage else "0/0"
    return (f"caption scope={scope_tag(asked.scope)} member={member_tag(asked.payer.user_id)} "
            f"model={model} mode={mode} seconds={seconds:.1f} tokens={tokens} "
            f"total={time.monotonic() - started:.2f}s")
