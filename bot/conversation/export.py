"""A conversation written out for people (Markdown) or programs (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from omnicord.media.types import describe_media
from omnicord.store.records import Turn

EXPORT_VERSION = 1


def export_json(scope: str, turns: Sequence[Turn]) -> str:
    """The conversation as a JSON document (every stored field of every turn)."""
    document = {
        "omnicord_export": EXPORT_VERSION,
        "scope": scope,
        "turns": [asdict(turn) for turn in turns],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def export_markdown(scope: str, turns: Sequence[Turn], *, assistant: str = "Omnicord") -> str:
    """The conversation as Markdown: who said what, with attachments named."""
    lines = [f"# Conversation {scope}", ""]
    if not turns:
        lines.append("_No messages yet._")
    for turn in turns:
        said = " ".join(filter(None, [describe_media(turn.media), turn.text])) or "_(no text)_"
        lines += [f"**{turn.speaker_name}** · {turn.created_at}", "", said, ""]
        lines += [f"**{assistant}** ({turn.model}) · {turn.replied_at}", "", turn.reply_text, ""]
    return "\n".join(lines).rstrip() + "\n"
