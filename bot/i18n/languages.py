"""The languages Omnicord speaks, and how a Discord locale maps onto them."""

from __future__ import annotations

#: Catalogue languages, as Discord names their locales (English first: the fallback).
LANGUAGES = ("en", "ja", "zh-CN", "zh-TW", "ko", "es-ES", "pt-BR")
DEFAULT_LANGUAGE = "en"

#: Discord locales that share a catalogue language with another (Discord's own codes).
_ALIASES = {"en-US": "en", "en-GB": "en", "es-419": "es-ES", "pt-PT": "pt-BR"}

#: Each language's English name (what the model is told) and its own name (what members see).
_NAMES = {
    "en": ("English", "English"),
    "ja": ("Japanese", "日本語"),
    "zh-CN": ("Simplified Chinese", "简体中文"),
    "zh-TW": ("Traditional Chinese", "繁體中文"),
    "ko": ("Korean", "한국어"),
    "es-ES": ("Spanish", "Español"),
    "pt-BR": ("Brazilian Portuguese", "Português do Brasil"),
}


def language_of(locale: object) -> str:
    """The catalogue language for a Discord locale (``discord.Locale`` or its code; English
    for anything else, None included)."""
    code = str(getattr(locale, "value", locale) or "")
    if code in _NAMES:
        return code
    return _ALIASES.get(code, DEFAULT_LANGUAGE)


def language_name(language: str, *, native: bool = False) -> str:
    """A catalogue language's English name (or its own name, ``native``)."""
    english, own = _NAMES[language_of(language)]
    return own if native else english


def is_language(code: str) -> bool:
    """Whether ``code`` is one of ``LANGUAGES``."""
    return code in _NAMES
