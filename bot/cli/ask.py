"""``omnicord ask``: one question, streamed to stdout, optionally spoken, optionally remembered."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from omnicord.cli.files import prepare_file
from omnicord.cli.history import scope_of
from omnicord.cli.output import EXIT_OK, note
from omnicord.conversation.compose import NewMessage
from omnicord.conversation.reply import Reply
from omnicord.conversation.respond import ReplyOptions
from omnicord.errors import InputError, RequestRefused
from omnicord.media.speech import speech_format, write_speech
from omnicord.media.types import MediaTarget, PreparedMedia
from omnicord.model.catalog import ModelSpec, find_model
from omnicord.model.events import ReasoningDelta, ReplyEvent, TextDelta
from omnicord.services import Services, open_services
from omnicord.settings import Settings

CLI_SPEAKER_ID, CLI_SPEAKER_NAME = "cli", "You"


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
    speech_format(out)
    folder = out.parent if str(out.parent) else Path()
    if not folder.is_dir():
        raise InputError(f"cannot write the spoken reply to {out}: there is no folder {folder}")
    if out.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(f"cannot write the spoken reply to {out}: not a writable file there")


async def _attachments(
    args: argparse.Namespace, target: MediaTarget, services: Services
) -> list[PreparedMedia]:
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
    if not reply.pcm:
        note("the model sent no speech this time; nothing written")
        return
    try:
        written = await write_speech(reply.pcm, out)
    except OSError as error:
        raise InputError(f"could not write the spoken reply to {out}: {error.strerror}"
                         ) from None
    note(f"spoken reply ({written.seconds:.1f} s) saved to {written.path}")
