"""The ``omnicord`` argument parser, and where each command's code lives.

Only argparse and the standard library are imported here: a command's own modules (and the
model SDK they need) load after its arguments are parsed, so ``--help``, ``voices``,
``history``, ``reset`` and ``prepare`` start without paying for what they do not use.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from omnicord import __version__
from omnicord.errors import InputError

DEFAULT_OUT = Path("omnicord-reply.ogg")
DEFAULT_ENV_FILE = Path(".env")
ENV_FILE_HELP = ("read settings from this file (default: .env in the working folder); for "
                 "init, the file to write")
#: A Discord id (a snowflake, below 2**64): ASCII digits only, as ``str.isdigit`` also takes
#: other scripts' digits (full-width １２３ among them), and no leading zero.
_DISCORD_ID = re.compile(r"[1-9][0-9]{0,19}")

#: command → (module, coroutine function) run with the parsed arguments and settings.
ASYNC_COMMANDS = {
    "ask": ("omnicord.cli.ask", "run"),
    "caption": ("omnicord.cli.caption", "run"),
    "transcribe": ("omnicord.cli.transcribe", "run"),
    "prepare": ("omnicord.cli.prepare", "run"),
    "history": ("omnicord.cli.history", "run_history"),
    "reset": ("omnicord.cli.history", "run_reset"),
    "db": ("omnicord.cli.db", "run"),
    "forget": ("omnicord.cli.forget", "run"),
    "sync": ("omnicord.cli.sync", "run"),
    "usage": ("omnicord.cli.usage", "run"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="omnicord",
        description="Qwen-Omni from the command line, and the Omnicord Discord bot.",
    )
    parser.add_argument("--version", action="version", version=f"omnicord {__version__}")
    parser.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_init(commands)
    _add_ask(commands)
    _add_media(commands)
    _add_history(commands)
    voices = commands.add_parser(
        "voices", help="list the voices of a model", description="List a model's voices."
    )
    voices.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    _add_run(commands)
    _add_db(commands)
    _add_forget(commands)
    _add_doctor(commands)
    _add_sync_and_usage(commands)
    _env_file_anywhere(commands)
    return parser


def _env_file_anywhere(commands: argparse._SubParsersAction) -> None:
    """Accept ``--env-file`` after any command too (``omnicord doctor --env-file x``)."""
    for command in commands.choices.values():
        command.add_argument("--env-file", type=Path, metavar="PATH", default=argparse.SUPPRESS,
                             help=ENV_FILE_HELP)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _env_file_anywhere(action)


def _add_init(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "init", help="write a commented .env to fill in",
        description="Write a commented settings file (.env in the working folder, or "
        "--env-file PATH) listing every setting with its default, readable only by you "
        "since it will hold secrets. An existing file is never overwritten.",
    )


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="start the Discord bot with all cogs",
        description="Start the Discord bot (needs DISCORD_TOKEN) with every Omnicord cog. "
        "Without shard options, one process serves Discord's recommended number of shards.",
    )
    run.add_argument("--shard-count", type=int, metavar="N",
                     help="total shards across every process (default: OMNICORD_SHARD_COUNT, "
                     "else Discord's recommendation)")
    run.add_argument("--shard-ids", metavar="IDS",
                     help="the shards this process serves, such as 0-3 or 0,2,4 (default: "
                     "OMNICORD_SHARD_IDS, else all of them)")


def _add_db(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser(
        "db", help="migrate, inspect or copy the database",
        description="Database operations on OMNICORD_DB (a SQLite file or a postgresql:// URL).",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="apply pending migrations",
                       description="Apply every pending migration to OMNICORD_DB.")
    actions.add_parser("status", help="show the schema version and what is stored",
                       description="Print the backend, schema version, pending migrations "
                       "and row counts of OMNICORD_DB.")
    backup = actions.add_parser(
        "backup", help="write a consistent copy of a SQLite database",
        description="Write a consistent snapshot of the SQLite OMNICORD_DB with SQLite's "
        "backup API, safe while the bot runs (a plain file copy of a WAL database is not). "
        "For PostgreSQL use pg_dump.",
    )
    backup.add_argument("target", type=Path, metavar="FILE", help="the backup file to write")
    copy = actions.add_parser(
        "copy", help="copy every row from one database to another",
        description="Copy history, preferences and usage from one database to another (for "
        "example from SQLite to PostgreSQL), then verify the row counts match. The target "
        "must be empty.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="source database: a SQLite path, sqlite:///path or postgresql://…")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="target database (migrated first; must hold no rows)")
    prune = actions.add_parser(
        "prune", help="delete turns older than the retention period",
        description="Delete conversation turns older than OMNICORD_RETENTION_DAYS (or --days), "
        "with cached media no other turn uses, and usage from before both that and the "
        "current month. The bot does this itself at start-up and daily.",
    )
    prune.add_argument("--days", type=int, metavar="N",
                       help="keep the last N days (default: OMNICORD_RETENTION_DAYS)")


def _add_sync_and_usage(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "sync", help="sync the slash commands with Discord now",
        description="Sync Omnicord's slash commands with Discord now (needs DISCORD_TOKEN; "
        "HTTP only, no gateway connection) and record them, whether they changed or not. "
        "The bot itself syncs at start-up only when they changed.",
    )
    usage = commands.add_parser(
        "usage", help="tokens and cost per day, for the whole bot or one server or member",
        description="Print the tokens used each UTC day (in, out, and the cost where prices "
        "are known) and their total, for the whole bot unless --guild or --member narrows it; "
        "with --png, also draw them as a bar chart.",
    )
    usage.add_argument("--days", type=int, default=30, metavar="N",
                       help="the last N days, today included (default: 30; at most 366)")
    usage.add_argument("--guild", metavar="ID", help="only this server's usage (its id)")
    usage.add_argument("--member", metavar="ID", help="only this member's usage (their id)")
    usage.add_argument("--png", type=Path, metavar="PATH",
                       help="also write the chart as a PNG image to PATH")


def _add_doctor(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor", help="check the settings, ffmpeg, database, model service and Discord",
        description="Check everything Omnicord needs, one line per check with how to fix what "
        "fails: settings, ffmpeg and its codecs, the database, then (unless --offline) the "
        "model service with this key and base URL, and Discord: the token, the Message "
        "Content intent and the bot's permissions in each server. Changes nothing. Exit "
        "status 0 when no check failed, else 1.",
    )
    doctor.add_argument("--offline", action="store_true",
                        help="check only the settings, ffmpeg and the database")


def _add_forget(commands: argparse._SubParsersAction) -> None:
    forget = commands.add_parser(
        "forget", help="erase everything kept about a Discord user",
        description="Erase everything OMNICORD_DB keeps about a Discord user, in every server "
        "and DM: the turns they spoke (with the replies to them), their DM conversation, "
        "their preferences and their usage, with their cached media. Asks for confirmation "
        "unless --yes is given.",
    )
    forget.add_argument("user_id", metavar="USER_ID", help="the user's Discord id (digits)")
    forget.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation")


def discord_id(text: str, name: str) -> str:
    """``text`` (stripped) if it is a Discord id, else an InputError naming ``name``."""
    given = text.strip()
    if _DISCORD_ID.fullmatch(given) is None or int(given) >= 2**64:
        raise InputError(f"{name} must be a Discord id (digits only: 0-9, at most 20), not "
                         f"{given!r}")
    return given


def env_file_of(args: argparse.Namespace) -> Path:
    """The settings file to read (or, for ``init``, to write)."""
    given: Path | None = getattr(args, "env_file", None)
    return given or DEFAULT_ENV_FILE


def check_env_file(args: argparse.Namespace) -> Path:
    """The settings file to read; InputError if ``--env-file`` names none."""
    path = env_file_of(args)
    if getattr(args, "env_file", None) is not None and not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise InputError(f"--env-file {path} {problem}")
    return path


def setting_overrides(args: argparse.Namespace) -> dict[str, object]:
    """Settings given as command-line flags, by their environment names."""
    overrides: dict[str, object] = {}
    if getattr(args, "shard_count", None) is not None:
        overrides["OMNICORD_SHARD_COUNT"] = args.shard_count
    if getattr(args, "shard_ids", None) is not None:
        overrides["OMNICORD_SHARD_IDS"] = args.shard_ids
    return overrides


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


def _add_media(commands: argparse._SubParsersAction) -> None:
    caption = commands.add_parser(
        "caption", help="describe an audio file (or a video's sound) with the captioner",
        description="Print an English description of an audio file or of a video's sound "
        "(Qwen3-Omni-Captioner). Recordings over 40 minutes are captioned in parts.",
    )
    caption.add_argument("file", type=Path, metavar="FILE", help="the audio or video file")
    caption.add_argument(
        "--no-stream", action="store_true", help="ask for each caption in one response"
    )
    _add_transcribe(commands)
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


def _add_transcribe(commands: argparse._SubParsersAction) -> None:
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


def _add_history(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser(
        "history", help="show a conversation kept with ask --session",
        description="Print a named conversation from OMNICORD_DB as Markdown or JSON.",
    )
    history.add_argument("name", metavar="NAME", help="the session name")
    history.add_argument("--format", "-f", choices=("md", "json"), default="md",
                         help="Markdown (default) or JSON")
    reset = commands.add_parser(
        "reset", help="clear a conversation kept with ask --session",
        description="Delete every turn of a named conversation from OMNICORD_DB.",
    )
    reset.add_argument("name", metavar="NAME", help="the session name")
