"""``omnicord caption``: the captioner's description of an audio file or a video's sound."""

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
    """``omnicord caption``."""
    caption = commands.add_parser(
        "caption", help="describe an audio file (or a video's sound) with the captioner",
        description="Print an English description of an audio file or of a video's sound "
        "(Qwen3-Omni-Captioner). Recordings over 40 minutes are captioned in parts.",
    )
    caption.add_argument("file", type=Path, metavar="FILE", help="the audio or video file")
    caption.add_argument(
        "--no-stream", action="store_true", help="ask for each caption in one response"
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Caption one file and print the caption."""
    from contextlib import aclosing

    from omnicord.cli.files import prepare_file
    from omnicord.conversation.captioning import caption_media
    from omnicord.media.types import MediaTarget

    async with aclosing(build.captioner_client(settings)) as client:
        media = await prepare_file(args.file, MediaTarget(client.model, purpose="caption"),
                                   options=build.prepare_options(settings))
        caption = await caption_media(client, media, stream=not args.no_stream)
    print(caption.text)
    return EXIT_OK
