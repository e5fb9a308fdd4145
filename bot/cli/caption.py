"""``omnicord caption``: the captioner's description of an audio file or a video's sound."""

from __future__ import annotations

import argparse

from omnicord.cli.files import prepare_file
from omnicord.cli.output import EXIT_OK
from omnicord.media.captions import caption_media
from omnicord.media.types import MediaTarget
from omnicord.model.captioner import CaptionerClient
from omnicord.settings import Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Caption one file and print the caption."""
    client = CaptionerClient(
        settings.require_api_key(), settings.base_url, model=settings.caption_model,
        timeout=settings.request_timeout, max_retries=settings.max_retries,
    )
    try:
        media = await prepare_file(args.file, MediaTarget(client.model, purpose="caption"),
                                   options=settings.prepare_options())
        caption = await caption_media(client, media, stream=not args.no_stream)
    finally:
        await client.aclose()
    print(caption.text)
    return EXIT_OK
