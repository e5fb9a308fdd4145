"""``omnicord transcribe``: the words of an audio file or of a video's sound, optionally
translated; with ``--member``, counted against that member's daily cap part by part."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.arguments import discord_id
from omnicord.cli.output import EXIT_OK
from omnicord.errors import InputError

if TYPE_CHECKING:
    from omnicord.conversation.transcribe import TextSink, Transcription
    from omnicord.media.types import MediaTarget
    from omnicord.settings import Settings

NEEDS_MEDIA = True


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord transcribe``."""
    transcribe = commands.add_parser(
        "transcribe", help="write down the words of an audio file (or a video's sound)",
        description="Print the words spoken in an audio file or a video's sound, verbatim and "
        "in the language spoken, using the chat model with text-only output. Recordings over "
        "the model's audio limit (flash 20 min, turbo 3 min) are transcribed in consecutive "
        "parts, each labelled with its time range.",
    )
    transcribe.add_argument("file", type=Path, metavar="FILE", help="the audio or video file")
    transcribe.add_argument("--translate", "-t", metavar="LANG",
                            help="also translate the transcript into LANG (such as French), "
                            "printed under it")
    transcribe.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    transcribe.add_argument("--member", metavar="ID",
                            help="count the tokens against this Discord member in OMNICORD_DB, "
                            "within their daily cap, checked before every part")
    transcribe.add_argument("--guild", metavar="ID",
                            help="with --member: the server whose daily cap applies "
                            "(default: OMNICORD_DAILY_TOKEN_CAP)")
    transcribe.add_argument(
        "--no-stream", action="store_true",
        help="print the transcript once it is complete instead of as it arrives",
    )


async def write_out(text: str) -> None:
    """Stream a piece of the transcript to stdout."""
    sys.stdout.write(text)
    sys.stdout.flush()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Transcribe one file and print the transcript (and its translation)."""
    from omnicord.media.types import MediaTarget
    from omnicord.model.catalog import find_model
    from omnicord.policy.languages import check_language, translation_language

    model_name = (args.model or settings.model).strip()
    model = find_model(model_name, "chat")
    language = translation_language(check_language(args.translate)) if args.translate else None
    member = None if args.member is None else discord_id(args.member, "--member")
    guild = "" if args.guild is None else discord_id(args.guild, "--guild")
    if guild and member is None:
        raise InputError("--guild needs --member: it says whose server's cap applies")
    job = _Job(args.file, MediaTarget(model, purpose="transcript"), model_name, language,
               None if args.no_stream else write_out)
    if member is None:
        transcription = await _anonymous(job, settings)
    else:
        transcription = await _for_member(job, settings, member, guild)
    print(transcription.plain() if args.no_stream else "")
    return EXIT_OK


@dataclass(frozen=True)
class _Job:
    """What to transcribe, how, and where the text goes as it arrives."""

    file: Path
    target: MediaTarget
    model_name: str
    language: str | None
    sink: TextSink | None


async def _anonymous(job: _Job, settings: Settings) -> Transcription:
    """A transcript counted against nobody: no database is opened, so OMNICORD_UPSTREAM_RPM
    is counted by this process alone."""
    from contextlib import aclosing

    from omnicord.cli.files import prepare_file
    from omnicord.conversation.transcribe import Transcriber

    async with aclosing(build.omni_client(settings)) as client:
        media = await prepare_file(job.file, job.target, options=build.prepare_options(settings))
        return await Transcriber(client, job.model_name).transcribe(
            media, language=job.language, on_text=job.sink)


async def _for_member(job: _Job, settings: Settings, member: str, guild: str
                      ) -> Transcription:
    """A transcript whose usage is the member's (in OMNICORD_DB), within the daily cap they
    have in ``guild`` (else the default cap), checked before every request."""
    from omnicord.cli.files import prepare_file
    from omnicord.conversation.captioning import Asked, transcribe
    from omnicord.conversation.respond import Payer
    from omnicord.services import open_services

    async with open_services(settings) as services:
        cap = (await services.admission.effective(guild, member)).daily_token_cap
        await services.usage.check_cap(member, cap)  # before converting anything
        if services.admission.budgets is not None:  # the server's and bot's monthly budgets
            await services.admission.budgets.check(guild)
        media = await prepare_file(job.file, job.target, options=services.prepare_options)
        return await transcribe(services.omni, job.model_name, media, language=job.language,
                                ledger=services.usage, cap=cap, on_text=job.sink,
                                asked=Asked(scope="cli:transcribe", payer=Payer(member, guild)))
