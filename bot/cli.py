"""The ``omnicord`` command line: ask, caption, voices, run.

Exit status: 0 success; 2 bad usage or bad input (nothing was sent upstream); 1 the model
service failed. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.attachments import read_attachment, read_caption_audio, supported_extensions
from bot.captioner import CaptionerClient
from bot.catalog import ModelSpec
from bot.compose import compose
from bot.errors import InputError, RequestRefused, UpstreamError
from bot.events import ReasoningDelta, TextDelta
from bot.omni import OmniClient
from bot.reply import Reply, tee
from bot.rules import ChatRequest, resolve_model
from bot.settings import Settings, load_settings
from bot.speech import speech_format, write_speech
from bot.store import SqliteStore, Turn

EXIT_OK, EXIT_UPSTREAM, EXIT_USAGE = 0, 1, 2
DEFAULT_OUT = Path("omnicord-reply.ogg")
CLI_SPEAKER = ("cli", "You")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="omnicord",
        description="Qwen-Omni from the command line, and the Omnicord Discord bot.",
    )
    parser.add_argument("--version", action="version", version=f"omnicord {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_ask(commands)
    caption = commands.add_parser(
        "caption", help="describe an audio file with Qwen3-Omni-Captioner",
        description="Print an English description of an audio file (Qwen3-Omni-Captioner).",
    )
    caption.add_argument("file", type=Path, metavar="FILE", help="the audio file to caption")
    caption.add_argument(
        "--no-stream", action="store_true", help="ask for the caption in one response"
    )
    commands.add_parser(
        "run", help="start the Discord bot with all cogs",
        description="Start the Discord bot (needs DISCORD_TOKEN) with every Omnicord cog.",
    )
    voices = commands.add_parser(
        "voices", help="list the voices of a model", description="List a model's voices."
    )
    voices.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    return parser


def _add_ask(commands: argparse._SubParsersAction) -> None:
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
                     help="attach an image, audio or video file (repeatable; accepted as is: "
                     f"{', '.join(supported_extensions())})")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnicord`` console script and ``python -m bot``."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "run":
            return _run(settings)
        if args.command == "voices":
            return _voices(settings, args.model)
        handler = _ask if args.command == "ask" else _caption
        return asyncio.run(handler(args, settings))
    except InputError as error:
        return _fail(str(error), EXIT_USAGE)
    except UpstreamError as error:
        return _fail(str(error), EXIT_UPSTREAM)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, status: int) -> int:
    print(f"omnicord: error: {message}", file=sys.stderr)
    return status


def _note(message: str) -> None:
    print(f"omnicord: {message}", file=sys.stderr)


def _voices(settings: Settings, model_name: str | None) -> int:
    model = resolve_model(model_name or settings.model, "chat")
    if not model.voices:
        _note(f"{model.name} does not speak")
    for voice in model.voices:
        print(f"{voice.name}\t{voice.note}" if voice.note else voice.name)
    return EXIT_OK


def _run(settings: Settings) -> int:
    token = settings.require_discord_token()
    from cogs.runner import run_bot  # imported here: bot/ itself never imports discord

    run_bot(settings, token)
    return EXIT_OK


def _pick_voice(model: ModelSpec, args: argparse.Namespace, settings: Settings) -> str | None:
    speech = not (args.text_only or args.think)
    if not speech:
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
        _note(f"{model.name} has no voice {settings.voice}; using {voice.name}")
    return voice.name


def _question(args: argparse.Namespace) -> str:
    text = sys.stdin.read() if args.text == "-" else args.text
    text = text.strip()
    if not text and not args.attach:
        raise InputError("nothing to ask: give TEXT, --attach FILE, or both")
    return text


async def _ask(args: argparse.Namespace, settings: Settings) -> int:
    model_name = (args.model or settings.model).strip()
    model = resolve_model(model_name, "chat")
    if args.think and not model.supports_thinking:
        raise RequestRefused(f"{model.name} has no thinking mode (only qwen3-omni-flash does)")
    voice = _pick_voice(model, args, settings)
    if voice:
        speech_format(args.out)
    text = _question(args)
    settings.require_api_key()
    attachments = [await read_attachment(path) for path in args.attach]
    store = SqliteStore(settings.db_path) if args.session else None
    scope = f"cli:{args.session}"
    try:
        history = []
        if store is not None:
            await store.open()
            history = await store.history(scope)
        messages = compose(
            model, history=history, text=text, media=[a.part for a in attachments],
            speech=voice is not None,
        )
        request = ChatRequest(model=model_name, messages=messages, voice=voice,
                              thinking=args.think)
        reply = await _stream_to_stdout(request, settings)
        if voice:
            await _save_speech(reply, args.out)
        if store is not None:
            await store.add_turn(scope, Turn(
                speaker_id=CLI_SPEAKER[0], speaker_name=CLI_SPEAKER[1], text=text,
                reply_text=reply.spoken_text, model=model_name,
                media=tuple(a.ref for a in attachments),
                usage=reply.usage.__dict__ if reply.usage else None,
            ))
    finally:
        if store is not None:
            await store.close()
    return EXIT_OK


async def _stream_to_stdout(request: ChatRequest, settings: Settings) -> Reply:
    client = OmniClient(
        settings.require_api_key(), settings.base_url,
        timeout=settings.request_timeout, max_retries=settings.max_retries,
    )
    reply = Reply()
    try:
        async for event in tee(client.stream(request), reply):
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, ReasoningDelta) and not reply.reasoning_parts[1:]:
                _note("thinking…")
    finally:
        if reply.text_parts:
            sys.stdout.write("\n")
            sys.stdout.flush()
        await client.aclose()
    if not reply.text and reply.transcript:
        print(reply.transcript)
    return reply


async def _save_speech(reply: Reply, out: Path) -> None:
    if not reply.pcm:
        _note("the model sent no speech this time; nothing written")
        return
    written = await write_speech(reply.pcm, out)
    _note(f"spoken reply ({written.seconds:.1f} s) saved to {written.path}")


async def _caption(args: argparse.Namespace, settings: Settings) -> int:
    api_key = settings.require_api_key()
    audio = await read_caption_audio(args.file)
    client = CaptionerClient(
        api_key, settings.base_url, model=settings.caption_model,
        timeout=settings.request_timeout, max_retries=settings.max_retries,
    )
    try:
        caption = await client.caption(audio.part, stream=not args.no_stream)
    finally:
        await client.aclose()
    print(caption.text)
    return EXIT_OK
