"""``omnicord ask``: one question, streamed to stdout, optionally spoken, optionally remembered."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord.cli.output import EXIT_OK, note
from omnicord.cli.sessions import scope_of
from omnicord.errors import InputError, RequestRefused

if TYPE_CHECKING:
    from omnicord.conversation.reply import Reply
    from omnicord.media.types import MediaTarget, PreparedMedia
    from omnicord.model.catalog import ModelSpec
    from omnicord.model.events import ReplyEvent
    from omnicord.services import Services
    from omnicord.settings import Settings

NEEDS_MEDIA = True
CLI_SPEAKER_ID, CLI_SPEAKER_NAME = "cli", "You"
DEFAULT_OUT = Path("omnicord-reply.ogg")


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord ask``."""
    ask = commands.add_parser(
        "ask",
        help="ask the model a question, with optional attachments",
        description=(
            "Ask a Qwen-Omni model. The reply text streams to stdout; unless --text-only or "
            "--think is given, the spoken reply is written to --out."
        ),
    )
    ask.add_argument("text", nargs="?", default="", metavar="TEXT",
                     help="the question or message (use - to read it from stdin)")
    ask.add_argument("--attach", "-a", action="append", type=Path, default=[], metavar="FILE",
                     help="attach a file (repeatable): audio, voice notes, images, GIFs, video "
                     "or text; each is converted to what the model accepts")
    ask.add_argument("--model", "-m", help="chat model or snapshot (default: OMNICORD_MODEL)")
    ask.add_argument("--voice", "-v",
                     help="voice of the spoken reply (default: OMNICORD_VOICE; see 'voices')")
    ask.add_argument("--think", action="store_true",
                     help="thinking mode (qwen3-omni-flash only); replies in text only")
    ask.add_argument("--text-only", action="store_true", help="do not ask for a spoken reply")
    ask.add_argument("--out", "-o", type=Path, default=DEFAULT_OUT, metavar="PATH",
                     help="where to write the spoken reply; format by extension: .ogg "
                     f"(Opus, 48 kHz), .wav or .mp3 (default: {DEFAULT_OUT})")
    ask.add_argument("--session", "-s", metavar="NAME",
                     help="continue (or start) the named conversation kept in OMNICORD_DB")
    ask.add_argument("--persona", metavar="TEXT",
                     help="system prompt for this session, kept with it ('' restores the "
                     "default; needs --session)")
    ask.add_argument("--whole-video", action="store_true",
                     help="for videos over the model's limit, look at the whole video as "
                     "frames (its sound captioned) instead of trimming it")


def pick_voice(model: ModelSpec, args: argparse.Namespace, settings: Settings) -> str | None:
    """The voice to answer in, or None for a text-only reply."""
    if args.text_only or args.think:
        if args.voice:
            mode = "--think" if args.think else "--text-only"
            raise RequestRefused(f"--voice needs a spoken reply, and {mode} turns speech off")
        return None
    if not model.speaks:
        raise RequestRefused(f"{model.name} cannot answer with speech: use --text-only")
    if args.voice:
        voice = model.find_voice(args.voice)
        if voice is None:
            raise RequestRefused(
                f"{model.name} has no voice {args.voice!r}; "
                f"choose from {', '.join(model.voice_names())}"
            )
        return voice.name
    voice = model.find_voice(settings.voice) or model.voices[0]
    if voice.name != settings.voice:
        note(f"{model.name} has no voice {settings.voice}; using {voice.name}")
    return voice.name


def _question(args: argparse.Namespace) -> str:
    try:  # bytes, decoded strictly: the locale's decoder may let invalid bytes through
        text = (sys.stdin.buffer.read().decode() if args.text == "-" else args.text).strip()
    except UnicodeDecodeError:
        raise InputError("the question on standard input is not UTF-8 text") from None
    if not text and not args.attach:
        raise InputError("nothing to ask: give TEXT, --attach FILE, or both")
    return text


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Ask, stream, speak, remember."""
    from omnicord.conversation.compose import NewMessage
    from omnicord.conversation.respond import ReplyOptions
    from omnicord.media.types import MediaTarget
    from omnicord.model.catalog import find_model
    from omnicord.services import open_services

    model_name = (args.model or settings.model).strip()
    model = find_model(model_name, "chat")
    if args.think and not model.supports_thinking:
        raise RequestRefused(f"{model.name} has no thinking mode (only qwen3-omni-flash does)")
    voice = pick_voice(model, args, settings)
    if voice:
        check_writable(args.out)
    text = _question(args)
    if args.persona is not None and not args.session:
        raise InputError("--persona needs --session: a persona belongs to a conversation")
    settings.require_api_key()
    db = None if args.session else ":memory:"
    async with open_services(settings, database=db) as services:
        if services.admission.budgets is not None:  # the bot-wide monthly budget
            await services.admission.budgets.check("")
        target = MediaTarget(model, whole_video=args.whole_video)
        media = await _attachments(args, target, services)
        if args.persona is not None:
            await services.store.set_system_prompt(scope_of(args.session),
                                                   args.persona.strip() or None)
        options = ReplyOptions(model=model, model_name=model_name, voice=voice,
                               thinking=args.think)

        async def deliver(reply: Reply) -> None:  # a reply not delivered is not remembered
            _finish_line(reply)
            if voice:
                await _save_speech(reply, args.out)

        answer = await services.conversations.respond(
            scope_of(args.session or "once"), speaker_id=CLI_SPEAKER_ID,
            new=NewMessage(CLI_SPEAKER_NAME, text, tuple(media)), options=options,
            on_event=_StdoutWriter(), target=target if args.session else None, deliver=deliver,
        )
        for line in answer.composition.notes:  # e.g. older turns left out to fit the limit
            note(line)
    return EXIT_OK


def check_writable(out: Path) -> None:
    """InputError unless the spoken reply can be written to ``out`` (checked before asking)."""
    from omnicord.media.speech import speech_format

    speech_format(out)
    folder = out.parent if str(out.parent) else Path()
    if not folder.is_dir():
        raise InputError(f"cannot write the spoken reply to {out}: there is no folder {folder}")
    if out.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(f"cannot write the spoken reply to {out}: not a writable file there")


async def _attachments(
    args: argparse.Namespace, target: MediaTarget, services: Services
) -> list[PreparedMedia]:
    from omnicord.cli.files import prepare_file

    share = target.share(len(args.attach))
    return [
        await prepare_file(path, share, describe=services.describe_audio,
                           options=services.prepare_options)
        for path in args.attach
    ]


class _StdoutWriter:
    """Writes reply text to stdout as it streams in."""

    def __init__(self) -> None:
        self.thinking_noted = False

    async def __call__(self, event: ReplyEvent) -> None:
        from omnicord.model.events import ReasoningDelta, TextDelta

        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ReasoningDelta) and not self.thinking_noted:
            self.thinking_noted = True
            note("thinking…")


def _finish_line(reply: Reply) -> None:
    if reply.text:
        sys.stdout.write("\n")
    elif reply.transcript:
        print(reply.transcript)
    sys.stdout.flush()
    if reply.cut_short:
        note("the reply was cut short: it reached the model's length limit")


async def _save_speech(reply: Reply, out: Path) -> None:
    from omnicord.media.speech import write_speech

    if not reply.pcm:
        note("the model sent no speech this time; nothing written")
        return
    try:
        written = await write_speech(reply.pcm, out, reply.speech_rate)
    except OSError as error:
        raise InputError(f"could not write the spoken reply to {out}: {error.strerror}"
                         ) from None
    note(f"spoken reply ({written.seconds:.1f} s) saved to {written.path}")
