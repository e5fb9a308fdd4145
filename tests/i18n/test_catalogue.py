"""The catalogue: every message in every language with the same placeholders, every key the
code uses defined, and numbers, durations and plurals written as each language writes them."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from omnicord.i18n import LANGUAGES, language_of, t, text
from omnicord.i18n.catalogue import COMMANDS, MESSAGES
from omnicord.i18n.entry import Plural
from omnicord.i18n.formatting import format_duration, format_number, plural_category
from omnicord.i18n.text import Duration

REPO = Path(__file__).resolve().parents[2]


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def forms(message: str | Plural) -> list[str]:
    if isinstance(message, Plural):
        return [m for m in (message.one, message.other) if m is not None]
    return [message]


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_every_language_with_the_same_placeholders(key: str) -> None:
    entry = MESSAGES[key]
    english = {name for form in forms(entry.en) for name in placeholders(form)}
    for language, message in entry.items():
        for form in forms(message):
            assert form.strip(), f"{key} is empty in {language}"
            assert placeholders(form) == english, f"{key} in {language}: placeholders differ"
        if isinstance(entry.en, Plural) and entry.en.one is not None and language in (
                "en", "es-ES", "pt-BR"):
            assert isinstance(message, Plural) and message.one, f"{key}: {language} needs one"


@pytest.mark.parametrize("english", sorted(COMMANDS))
def test_every_command_text_has_every_language(english: str) -> None:
    for language, translated in COMMANDS[english].items():
        assert translated.strip(), (
            f"{english!r} is not translated into {language}")
        assert len(translated) <= 100, f"{english!r} in {language} is over 100 characters"


#: t("…", "key") and text("key") in the code: every key they name must be in the catalogue.
_USED = re.compile(r"""\b(?:t\([^,()]+,\s*|text\()\s*["']([a-z][a-z0-9_.-]+)["']""")


def test_every_key_the_code_uses_is_defined() -> None:
    used: dict[str, Path] = {}
    for folder in ("bot", "cogs"):
        for path in (REPO / folder).rglob("*.py"):
            for key in _USED.findall(path.read_text("utf-8")):
                used.setdefault(key, path)
    missing = {key: str(path.relative_to(REPO)) for key, path in used.items()
               if key not in MESSAGES}
    assert not missing, f"keys used but not in the catalogue: {missing}"


def test_english_is_the_fallback_and_locales_map_to_languages() -> None:
    assert language_of("ja") == "ja" and language_of("es-419") == "es-ES"
    assert language_of("en-GB") == "en" and language_of("fr") == "en" and language_of(None) == "en"
    key = next(iter(MESSAGES))
    assert t("fr", key, **{n: "x" for f in forms(MESSAGES[key].en) for n in placeholders(f)}) \
        == t("en", key, **{n: "x" for f in forms(MESSAGES[key].en) for n in placeholders(f)})
    assert set(LANGUAGES) == {language for language, _ in MESSAGES[key].items()}


def test_numbers_durations_and_plurals_follow_the_language() -> None:
    assert format_number("en", 1234567) == "1,234,567"
    assert format_number("ja", 1234.5) == "1,234.50"
    assert format_number("es-ES", 1234) == "1234" and format_number("es-ES", 12345) == "12.345"
    assert format_number("pt-BR", 1234.25) == "1.234,25"
    assert format_duration("en", 3725) == "1 h 2 min" and format_duration("en", 65) == "1 min 5 s"
    assert format_duration("ja", 65) == "1分5秒" and format_duration("ko", 3600) == "1시간"
    assert format_duration("zh-CN", 0) == "0秒"
    assert plural_category("en", 1) == "one" and plural_category("en", 0) == "other"
    assert plural_category("pt-BR", 0) == "one" and plural_category("ja", 1) == "other"


def test_a_text_renders_later_in_any_language() -> None:
    said = text("language.set", language="日本語")
    assert str(said).startswith("Omnicord now speaks **日本語**")
    assert said.render("ja").startswith("このサーバーのチャンネルでは")
    assert Duration(90).seconds == 90


def test_sizes_follow_the_language() -> None:
    from omnicord.i18n.formatting import format_size

    assert format_size("en", int(37.5 * (1 << 20))) == "37.5 MiB"
    assert format_size("es-ES", int(37.5 * (1 << 20))) == "37,5 MiB"
    assert format_size("en", 25 << 20) == "25 MiB" and format_size("pt-BR", 2048) == "2 KiB"
    assert format_size("en", 3 << 20, like=500 << 20) == "3 MiB"
    assert format_size("ja", 500) == "500 バイト" and format_size("en", 500) == "500 bytes"
