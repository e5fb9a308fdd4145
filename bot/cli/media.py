"""``omnicord caption`` and ``omnicord prepare``: the captioner, and a dry run of the pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from omnicord.cli.files import describe_prepared, prepare_file
from omnicord.cli.output import EXIT_OK
from omnicord.media.captions import caption_media
from omnicord.media.types import MediaTarget
from omnicord.model.captioner import CaptionerClient
from omnicord.model.catalog import find_model
from omnicord.services import prepare_options
from omnicord.settings import Settings


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``caption`` and ``prepare``."""
    caption = commands.add_parser(
        "caption", help="describe an audio file (or a video's sound) with the captioner",
        description="Print an English description of an audio file or of a video's sound "
        "(Qwen3-Omni-Captioner). Recordings over 40 minutes are captioned in parts.",
    )
    caption.add_argument("file", type=Path, metavar="FILE", help="the audio or video file")
    caption.add_argument(
        "--no-stream", action="store_true", help="ask for each caption in one response"
    )
    prepare = commands.add_parser(
        "prepare", help="show what would be sent for a file, without calling the model",
        description="Convert a file as Omnicord would and print what would be sent: kind, "
        "format, duration or size, bytes, estimated tokens and notices. Nothing is sent.",
    )
    prepare.add_argument("file", type=Path, metavar="FILE", help="the file to prepare")
    prepare.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    prepare.add_argument("--for", dest="purpose", choices=("chat", "caption"), default="chat",
                         help="prepare for a chat model (default) or for the captioner")
    prepare.add_argument("--whole-video", action="store_true",
                         help="sample a long video whole as frames instead of trimming it")


async def run_caption(args: argparse.Namespace, settings: Settings) -> int:
    """Caption one file and print the caption."""
    client = CaptionerClient(
        settings.require_api_key(), settings.base_url, model=settings.caption_model,
        timeout=settings.request_timeout, max_retries=settings.max_retries,
    )
    try:
        media = await prepare_file(args.file, MediaTarget(client.model, purpose="caption"),
                                   options=prepare_options(settings))
        caption = await caption_media(client, media, stream=not args.no_stream)
    finally:
        await client.aclose()
    print(caption.text)
    return EXIT_OK


async def run_prepare(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare one file and print what would be sent."""
    if args.purpose == "caption":
        model = find_model(settings.caption_model, "captioner")
    else:
        model = find_model(args.model or settings.model, "chat")
    target = MediaTarget(model, purpose=args.purpose, whole_video=args.whole_video)
    media = await prepare_file(args.file, target, options=prepare_options(settings), announce=False)
    print(describe_prepared(media, model))
    return EXIT_OK
