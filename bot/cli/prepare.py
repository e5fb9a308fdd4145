"""``omnicord prepare``: a dry run of the media pipeline; nothing is sent."""

from __future__ import annotations

import argparse

from omnicord.cli.files import describe_prepared, prepare_file
from omnicord.cli.output import EXIT_OK
from omnicord.media.types import MediaTarget
from omnicord.model.catalog import find_model
from omnicord.settings import Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare one file and print what would be sent."""
    if args.purpose == "caption":
        model = find_model(settings.caption_model, "captioner")
    else:
        model = find_model(args.model or settings.model, "chat")
    target = MediaTarget(model, purpose=args.purpose, whole_video=args.whole_video)
    media = await prepare_file(args.file, target, options=settings.prepare_options(),
                               announce=False)
    print(describe_prepared(media, model))
    return EXIT_OK
