"""``omnicord voices``: the voices of a chat model (no media, no asyncio: it starts fast)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from omnicord.cli.output import EXIT_OK, note

if TYPE_CHECKING:
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord voices``."""
    voices = commands.add_parser(
        "voices", help="list the voices of a model", description="List a model's voices."
    )
    voices.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print one voice a line, with its note."""
    from omnicord.model.catalog import find_model

    model = find_model(args.model or settings.model, "chat")
    if not model.voices:
        note(f"{model.name} does not speak")
    for voice in model.voices:
        print(f"{voice.name}\t{voice.note}" if voice.note else voice.name)
    return EXIT_OK
