"""Discord's own rules that bots trip over, as the fake enforces them, and its error answers.

``DiscordError`` carries Discord's error JSON (``{"message", "code", "errors"}``) out of a route
handler; ``validate_message`` and ``validate_voice`` refuse what Discord refuses: empty messages
(50006), content over 2000 characters and embed limits (50035), too many or too large uploads
(50035, 40005) and the voice-message rules (50159-50161); ``validate_commands`` refuses
application commands Discord would (50035): bad names, descriptions or choice names, their
localisations under a key that is no Discord locale or breaking the same limits, too many
options or commands, a command over 4,000 characters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.doubles.fake_discord.payloads import JSONDict

if TYPE_CHECKING:
    from tests.doubles.fake_discord.server import CapturedPart

# Message flags.
HAS_THREAD = 1 << 5
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_VOICE_MESSAGE = 1 << 13

UPLOAD_LIMIT = 10 * 1024 * 1024
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TOTAL = 6000
MAX_FILES = 10
MAX_WAVEFORM_POINTS = 256

# Application commands.
CHAT_INPUT, SUBCOMMAND, SUBCOMMAND_GROUP = 1, 1, 2
#: A slash command's (or option's) name: letters, digits, ``-``, ``_`` or ``'``, lowercase.
SLASH_NAME = re.compile(r"[-_'\w]{1,32}")
MAX_DESCRIPTION = 100
MAX_OPTIONS = 25
MAX_COMMAND_CHARS = 4000
MAX_GLOBAL_SLASH_COMMANDS = 100
MAX_MENUS = 15
MAX_CHOICE_NAME = 100
#: The locales Discord accepts as keys of ``name_localizations`` and ``description_localizations``.
DISCORD_LOCALES = frozenset({
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
    "th", "zh-CN", "ja", "zh-TW", "ko"})

VOICE_ERRORS = {
    50159: "Voice messages do not support additional content.",
    50160: "Voice messages must have a single audio attachment.",
    50161: "Voice messages must have supporting metadata.",
    50162: "Voice messages cannot be edited.",
    50173: "Cannot send voice messages in this channel.",
}


class DiscordError(Exception):
    """Raised inside route handlers to answer with Discord's error JSON."""

    def __init__(self, status: int, code: int, message: str, errors: JSONDict | None = None):
        super().__init__(message)
        self.status = status
        self.body: JSONDict = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


def form_error(field_name: str, code: str, message: str) -> DiscordError:
    """Discord's 50035 Invalid Form Body for one field."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def validate_message(body: JSONDict, files: list[CapturedPart], flags: int,
                     upload_limit: int) -> None:
    """Refuse a message body (create or merged edit) the way Discord would."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if len(content) > MAX_CONTENT:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH",
                         f"Must be {MAX_CONTENT} or fewer in length.")
    if len(embeds) > MAX_EMBEDS:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for embed in embeds:
        if len(embed.get("description") or "") > MAX_EMBED_DESCRIPTION:
            raise form_error("embeds", "BASE_TYPE_MAX_LENGTH",
                             f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.")
    if sum(embed_size(e) for e in embeds) > MAX_EMBED_TOTAL:
        raise form_error("embeds", "MAX_EMBED_SIZE_EXCEEDED",
                         f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")
    if len(files) > MAX_FILES:
        raise form_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if any(len(f.data) > upload_limit for f in files):
        raise DiscordError(413, 40005, "Request entity too large")
    if flags & IS_VOICE_MESSAGE and (content or embeds):
        raise DiscordError(400, 50159, VOICE_ERRORS[50159])
    kept = [a for a in body.get("attachments") or [] if not is_upload_ref(a, files)]
    has_body = (content or embeds or files or kept or body.get("components")
                or body.get("sticker_ids") or body.get("poll"))
    if not has_body:
        raise DiscordError(400, 50006, "Cannot send an empty message")


def validate_voice(msg: JSONDict) -> None:
    """Refuse a voice message without exactly one audio attachment and its metadata."""
    attachments = msg["attachments"]
    if len(attachments) != 1 or not attachments[0]["content_type"].startswith("audio/"):
        raise DiscordError(400, 50160, VOICE_ERRORS[50160])
    entry = attachments[0]
    if "duration_secs" not in entry or "waveform" not in entry:
        raise DiscordError(400, 50161, VOICE_ERRORS[50161])
    try:
        points = base64.b64decode(entry["waveform"], validate=True)
    except (ValueError, TypeError) as exc:
        raise DiscordError(400, 50161, VOICE_ERRORS[50161]) from exc
    if not 0 < len(points) <= MAX_WAVEFORM_POINTS:
        raise DiscordError(400, 50161, VOICE_ERRORS[50161])


def file_index(part: CapturedPart) -> int:
    """N of a multipart ``files[N]`` part (the id ``attachments`` entries refer to)."""
    match = re.fullmatch(r"files\[(\d+)\]", part.name)
    return int(match.group(1)) if match else 0


def is_upload_ref(entry: JSONDict, files: list[CapturedPart]) -> bool:
    """Whether an ``attachments`` entry names one of this request's uploads."""
    entry_id = str(entry.get("id"))
    return entry_id.isdigit() and int(entry_id) in {file_index(p) for p in files}


def embed_size(embed: JSONDict) -> int:
    """Characters an embed counts toward Discord's 6000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    return total


def validate_commands(commands: list[JSONDict]) -> None:
    """Refuse a bulk overwrite (or one command) the way Discord would."""
    kinds = [int(c.get("type") or CHAT_INPUT) for c in commands]
    if kinds.count(CHAT_INPUT) > MAX_GLOBAL_SLASH_COMMANDS:
        raise form_error("_", "BASE_TYPE_MAX_LENGTH", "Too many slash commands.")
    if kinds.count(2) > MAX_MENUS or kinds.count(3) > MAX_MENUS:
        raise form_error("_", "BASE_TYPE_MAX_LENGTH", "Too many context menu commands.")
    _unique([(c["name"], kind) for c, kind in zip(commands, kinds, strict=True)], "")
    for index, (command, kind) in enumerate(zip(commands, kinds, strict=True)):
        if kind != CHAT_INPUT:
            _check_menu(command, f"{index}")
            continue
        _check_named(command, f"{index}")
        if _characters(command) > MAX_COMMAND_CHARS:
            raise form_error(f"{index}", "APPLICATION_COMMAND_TOO_LARGE",
                             f"Command exceeds maximum size ({MAX_COMMAND_CHARS})")


def _check_menu(command: JSONDict, path: str) -> None:
    name = str(command.get("name") or "")
    if not 1 <= len(name) <= 32:
        raise form_error(f"{path}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in "
                         "length.")
    if command.get("description") or command.get("options"):
        raise form_error(f"{path}.description", "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                         "Context menu commands cannot have description or options.")
    _check_localised(command, "name", path, lambda text: 1 <= len(text) <= 32)
    if command.get("description_localizations"):
        raise form_error(f"{path}.description_localizations",
                         "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                         "Context menu commands cannot have description or options.")


def _check_named(item: JSONDict, path: str) -> None:
    """A slash command or option: its name, description and nested options."""
    name = str(item.get("name") or "")
    if not SLASH_NAME.fullmatch(name) or name != name.lower():
        raise form_error(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME",
                         f"Command name is invalid: {name!r}")
    if not 1 <= len(item.get("description") or "") <= MAX_DESCRIPTION:
        raise form_error(f"{path}.description", "BASE_TYPE_BAD_LENGTH",
                         f"Must be between 1 and {MAX_DESCRIPTION} in length.")
    _check_localised(item, "name", path, lambda text: bool(SLASH_NAME.fullmatch(text))
                     and text == text.lower())
    _check_localised(item, "description", path,
                     lambda text: 1 <= len(text) <= MAX_DESCRIPTION)
    options = item.get("options") or []
    if len(options) > MAX_OPTIONS or len(item.get("choices") or []) > MAX_OPTIONS:
        raise form_error(f"{path}.options", "BASE_TYPE_MAX_LENGTH",
                         f"Must be {MAX_OPTIONS} or fewer in length.")
    for index, choice in enumerate(item.get("choices") or []):
        where = f"{path}.choices.{index}"
        if not 1 <= len(str(choice.get("name") or "")) <= MAX_CHOICE_NAME:
            raise form_error(f"{where}.name", "BASE_TYPE_BAD_LENGTH",
                             f"Must be between 1 and {MAX_CHOICE_NAME} in length.")
        _check_localised(choice, "name", where,
                         lambda text: 1 <= len(text) <= MAX_CHOICE_NAME)
    _unique([(o["name"], 0) for o in options], path)
    for index, option in enumerate(options):
        _check_named(option, f"{path}.options.{index}")


def _check_localised(item: JSONDict, field: str, path: str,
                     valid: Callable[[str], bool]) -> None:
    """``{field}_localizations``: absent, null or a dict from Discord locales to texts that
    obey the field's own rule."""
    localised = item.get(f"{field}_localizations")
    if localised is None:
        return
    where = f"{path}.{field}_localizations"
    if not isinstance(localised, dict):
        raise form_error(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a "
                         "DictType")
    for locale, text in localised.items():
        if locale not in DISCORD_LOCALES:
            raise form_error(f"{where}.{locale}", "LOCALE_INVALID",
                             f"Invalid locale: {locale!r}")
        if not isinstance(text, str) or not valid(text):
            raise form_error(f"{where}.{locale}", "BASE_TYPE_BAD_LENGTH",
                             f"Invalid {field} for locale {locale!r}")


def _unique(keys: list[tuple[str, int]], path: str) -> None:
    if len(set(keys)) != len(keys):
        raise form_error(path or "_", "APPLICATION_COMMANDS_DUPLICATE_NAME",
                         "Application command names must be unique")


def _characters(item: JSONDict) -> int:
    """Characters Discord counts toward a command's 4,000: names, descriptions, choices, each
    at its longest localisation (the default text included)."""
    total = _longest(item, "name") + _longest(item, "description")
    total += sum(_longest(c, "name") + len(str(c.get("value")))
                 for c in item.get("choices") or [])
    return total + sum(_characters(o) for o in item.get("options") or [])


def _longest(item: JSONDict, field: str) -> int:
    """The length of a field's text or of its longest localisation."""
    texts = [str(item.get(field) or ""), *(item.get(f"{field}_localizations") or {}).values()]
    return max(len(str(text)) for text in texts)
