"""Text attachments (notes, logs, source code, CSV, JSON) inlined as text, capped in size."""

from __future__ import annotations

from pathlib import Path

import aiofiles
from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.tokens import text_tokens
from omnicord.media.types import MediaTarget, Notice, PreparedMedia, PreparedPart
from omnicord.model.parts import text_part

#: Default cap on inlined text, in characters (configurable through ``prepare_media``).
DEFAULT_TEXT_LIMIT = 20_000

TEXT_EXTENSIONS = {
    ".txt", ".md", ".markdown", ".rst", ".log", ".csv", ".tsv", ".json", ".jsonl", ".yaml",
    ".yml", ".toml", ".ini", ".cfg", ".xml", ".html", ".htm", ".css", ".py", ".js", ".ts",
    ".tsx", ".jsx", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb",
    ".php", ".swift", ".sh", ".bash", ".ps1", ".sql", ".lua", ".r", ".m", ".tex", ".srt",
    ".vtt",
}


def is_text_name(name: str, content_type: str | None) -> bool:
    """Whether a file's name or declared type says it is text."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared.startswith("text/") or declared in ("application/json", "application/xml"):
        return True
    return Path(name).suffix.lower() in TEXT_EXTENSIONS


async def prepare_text(
    path: Path, *, name: str, target: MediaTarget, limit: int = DEFAULT_TEXT_LIMIT
) -> PreparedMedia:
    """The file's text as a labelled text part, cut at ``limit`` characters with a notice."""
    async with aiofiles.open(path, "rb") as handle:
        raw = await handle.read(limit * 4 + 4)
    if b"\x00" in raw:
        raise MediaError(text("errors.binary_not_text"))
    content = raw.decode("utf-8", errors="replace")
    if content.count("\ufffd") > len(content) // 100 + 2:
        raise MediaError(text("errors.not_utf8"))
    notices: list[str] = []
    if len(content) > limit:
        content = content[:limit]
        notices.append(Notice(text("chat.notice_characters_read", count=limit)))
    if not content.strip():
        raise MediaError(text("errors.file_empty"))
    body = f"Attached file {name}:\n```\n{content}\n```"
    part = PreparedPart(part=text_part(body), kind="text", format="text",
                        tokens=text_tokens(body))
    return PreparedMedia(name=name, kind="text", parts=(part,), notices=tuple(notices),
                         source_format="text")
