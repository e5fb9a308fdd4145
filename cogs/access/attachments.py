"""Discord attachments through the media pipeline: fetched from the CDN only, size-checked."""

from __future__ import annotations

from collections.abc import Sequence

import discord
from omnicord.cogs.access.cdn import cdn_chunks
from omnicord.cogs.runtime.shared import Runtime
from omnicord.errors import MediaError
from omnicord.i18n import Text
from omnicord.media.prepare import check_declared_size, prepare_media
from omnicord.media.types import MediaTarget, PreparedMedia

AUDIO_OR_VIDEO = ("audio/", "video/")


class AttachmentError(MediaError):
    """One attachment could not be used; ``name`` says which."""

    def __init__(self, name: str, reason: str | Text) -> None:
        super().__init__(reason)
        self.name = name


def is_audio_or_video(attachment: discord.Attachment) -> bool:
    """Whether an attachment carries sound (voice messages, audio files, videos)."""
    kind = (attachment.content_type or "").lower()
    return attachment.is_voice_message() or kind.startswith(AUDIO_OR_VIDEO)


async def prepare_attachment(
    runtime: Runtime, attachment: discord.Attachment, target: MediaTarget
) -> PreparedMedia:
    """Download and convert one attachment for ``target``."""
    options = runtime.services.prepare_options
    try:
        check_declared_size(attachment.size, options)
        chunks = cdn_chunks(runtime.http, attachment.url, max_bytes=options.max_input_bytes,
                            rewrite=runtime.url_rewrite)
        return await prepare_media(
            chunks, name=attachment.filename, target=target,
            content_type=attachment.content_type, declared_size=attachment.size,
            describe_audio=runtime.services.describe_audio, options=options,
        )
    except MediaError as error:
        raise AttachmentError(attachment.filename, error.text or str(error)) from None


async def prepare_all(
    runtime: Runtime, attachments: Sequence[discord.Attachment], target: MediaTarget
) -> list[PreparedMedia]:
    """Every attachment converted, sharing the request's media budget."""
    each = target.share(len(attachments))
    return [await prepare_attachment(runtime, a, each) for a in attachments]
