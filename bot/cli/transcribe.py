"""``omnicord transcribe``: the words of an audio file or of a video's sound, optionally
translated."""

from __future__ import annotations

import argparse
import sys

from omnicord.cli.files import prepare_file
from omnicord.cli.output import EXIT_OK
from omnicord.conversation.transcribe import Transcriber
from omnicord.media.types import MediaTarget
from omnicord.model.catalog import find_model
from omnicord.model.omni import OmniClient
from omnicord.policy.languages import check_language, translation_language
from omnicord.settings import Settings


async def write_out(text: str) -> None:
    """Stream a piece of the transcript to stdout."""
    sys.stdout.write(text)
    sys.stdout.flush()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Transcribe one file and print the transcript (and its translation)."""
    model_name = (args.model or settings.model).strip()
    model = find_model(model_name, "chat")
    language = translation_language(check_language(args.translate)) if args.translate else None
    client = OmniClient(settings.require_api_key(), settings.base_url,
                        timeout=settings.request_timeout, max_retries=settings.max_retries)
    try:
        media = await prepare_file(args.file, MediaTarget(model, purpose="transcript"),
                                   options=settings.prepare_options())
        transcriber = Transcriber(client, model_name)
        transcription = await transcriber.transcribe(
            media, language=language, on_text=None if args.no_stream else write_out)
    finally:
        await client.aclose()
    print(transcription.plain() if args.no_stream else "")
    return EXIT_OK
