"""A conversation written out for people (Markdown) or programs (JSON).

A channel's export holds its shared history and its reply chains: each turn is given with the
conversation it belongs to (JSON), and Markdown puts each conversation under its own heading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from omnicord.media.types import describe_media
from omnicord.store.records import Turn

EXPORT_VERSION = 1
#: A turn and the conversation (scope) it belongs to.
PlacedTurn = tuple[str, Turn]


def export_json(scope: str, turns: Sequence[Turn | PlacedTurn]) -> str:
    """The conversation as a JSON document (every stored field of every turn, and each
    turn's conversation when the export spans several)."""
    document = {
        "omnicord_export": EXPORT_VERSION,
        "scope": scope,
        "turns": [_turn_document(item) for item in turns],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _turn_document(item: Turn | PlacedTurn) -> dict[str, object]:
    if isinstance(item, Turn):
        return asdict(item)
    conversation, turn = item
    return {"conversation": conversation, **asdict(turn)}


def export_markdown(scope: str, turns: Sequence[Turn | PlacedTurn], *,
                    assistant: str = "Omnicord") -> str:
    """The conversation as Markdown: who said what, with attachments named; the turns of
    each conversation of a channel under a heading of their own."""
    lines = [f"# Conversation {scope}", ""]
    if not turns:
        lines.append("_No messages yet._")
    for conversation, group in _grouped(scope, turns):
        if conversation != scope:
            lines += [f"## {_title(conversation)}", ""]
        for turn in group:
            said = " ".join(filter(None, [describe_media(turn.media), turn.text])) or \
                "_(no text)_"
            lines += [f"**{turn.speaker_name}** · {turn.created_at}", "", said, ""]
            lines += [f"**{assistant}** ({turn.model}) · {turn.replied_at}", "",
                      turn.reply_text, ""]
    return "\n".join(lines).rstrip() + "\n"


def _grouped(scope: str, turns: Sequence[Turn | PlacedTurn]) -> list[tuple[str, list[Turn]]]:
    """Turns by conversation, conversations in the order of their first turn."""
    groups: dict[str, list[Turn]] = {}
    for item in turns:
        conversation, turn = (scope, item) if isinstance(item, Turn) else item
        groups.setdefault(conversation, []).append(turn)
    return list(groups.items())


def _title(conversation: str) -> str:
    kind, _, rest = conversation.partition(":")
    if kind == "chain":
        return f"Reply chain from message {rest.rpartition(':')[2]}"
    return f"Conversation {conversation}"
