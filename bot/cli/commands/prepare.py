"""``omnicord prepare``: a dry run of the media pipeline; nothing is sent."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.output import EXIT_OK

if TYPE_CHECKING:
    from omnicord.settings import Settings

NEEDS_MEDIA = True


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord prepare``."""
    prepare = commands.add_parser(
        "prepare", help="show what would be sent for a file, without calling the model",
        description="Convert a file as Omnicord would and print what would be sent: kind, "
        "format, duration or size, bytes, estimated tokens and notices. Nothing is sent.",
    )
    prepare.add_argument("file", type=Path, metavar="FILE", help="the file to prepare")
    prepare.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    prepare.add_argument("--for", dest="purpose", choices=("chat", "caption", "transcript"),
                         default="chat", help="prepare for a chat model (default), for the "
                         "captioner, or for a transcript (the chat model, in parts)")
    prepare.add_argument("--whole-video", action="store_true",
                         help="sample a long video whole as frames instead of trimming it")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare one file and print what would be sent."""
    from omnicord.cli.files import describe_prepared, prepare_file
    from omnicord.media.types import MediaTarget
    from omnicord.model.catalog import find_model

    if args.purpose == "caption":
        model = find_model(settings.caption_model, "captioner")
    else:
        model = find_model(args.model or settings.model, "chat")
    target = MediaTarget(model, purpose=args.purpose, whole_video=args.whole_video)
    media = await prepare_file(args.file, target, options=build.prepare_options(settings),
                               announce=False)
    print(describe_prepared(media, model))
    return EXIT_OK
