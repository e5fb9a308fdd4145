"""One message of the catalogue in every language, typed so none can be left out.

An ``Entry`` holds a message in each of ``LANGUAGES`` (a missing one is a TypeError when the
catalogue loads, and mypy names it); a message may be a ``Plural``, chosen by its ``count``
value. A ``Localised`` holds a slash command's text (description, choice, menu name) in every
language but English, which is the command's own text.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Plural:
    """A message whose wording follows ``count``: ``one`` and ``other`` forms (the languages
    Omnicord speaks need no more; Japanese, Chinese and Korean use ``other`` only)."""

    other: str
    one: str | None = None

    def form(self, category: str) -> str:
        """The wording for a plural category (``one`` falls back to ``other``)."""
        return self.one if category == "one" and self.one is not None else self.other


@dataclass(frozen=True)
class Entry:
    """A message in every catalogue language."""

    en: str | Plural
    ja: str | Plural
    zh_CN: str | Plural
    zh_TW: str | Plural
    ko: str | Plural
    es_ES: str | Plural
    pt_BR: str | Plural

    def get(self, language: str) -> str | Plural:
        """The message in ``language`` (one of ``LANGUAGES``)."""
        return getattr(self, language.replace("-", "_"))

    def items(self) -> list[tuple[str, str | Plural]]:
        """(language, message) for every language, English first."""
        return [(f.name.replace("_", "-"), getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class Localised:
    """A slash command's text in every language but English (the command's own words)."""

    ja: str
    zh_CN: str
    zh_TW: str
    ko: str
    es_ES: str
    pt_BR: str

    def get(self, language: str) -> str | None:
        """The text in ``language``; None for English."""
        return getattr(self, language.replace("-", "_"), None)

    def items(self) -> list[tuple[str, str]]:
        """(language, text) for every language but English."""
        return [(f.name.replace("_", "-"), getattr(self, f.name)) for f in fields(self)]
