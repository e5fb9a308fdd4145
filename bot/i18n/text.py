"""Rendering catalogue messages: placeholders filled, numbers and durations formatted, plural
forms chosen, English where a language lacks the message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omnicord.i18n.entry import Entry, Plural
from omnicord.i18n.formatting import (
    format_duration,
    format_number,
    format_size,
    plural_category,
)
from omnicord.i18n.languages import DEFAULT_LANGUAGE, language_of


@dataclass(frozen=True)
class Duration:
    """A value shown as a duration (``text("x", waited=Duration(90))``)."""

    seconds: float


@dataclass(frozen=True)
class Size:
    """A value shown as a size in binary units (``25 MiB``, ``1,5 MiB`` in Spanish), in the
    unit ``like`` would be shown in when given, so two sizes read alike."""

    size: int
    like: int | None = None


@dataclass(frozen=True)
class Text:
    """A catalogue message with its values, rendered when the language is known; ``str()``
    is its English (for logs and the command line)."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, language: str) -> str:
        """The message in ``language`` (English where it has none)."""
        return t(language, self.key, **self.values)

    def __str__(self) -> str:
        return self.render(DEFAULT_LANGUAGE)


def text(key: str, /, **values: Any) -> Text:
    """A catalogue message to render later, in whichever language it is shown."""
    return Text(key, values)


def t(language: str, key: str, /, **values: Any) -> str:
    """The catalogue message ``key`` in ``language`` with ``values`` filled in. Unknown keys
    are a KeyError (a test checks every key used exists)."""
    from omnicord.i18n.catalogue import MESSAGES

    language = language_of(language)
    entry: Entry = MESSAGES[key]
    message = entry.get(language)
    if isinstance(message, Plural):
        message = message.form(plural_category(language, float(values.get("count", 0))))
    return message.format_map({name: _shown(language, value) for name, value in values.items()})


def _shown(language: str, value: Any) -> Any:
    if isinstance(value, Duration):
        return format_duration(language, value.seconds)
    if isinstance(value, Size):
        return format_size(language, value.size, value.like)
    if isinstance(value, Text):
        return value.render(language)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return format_number(language, value)
