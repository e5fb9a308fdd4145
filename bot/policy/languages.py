"""Which language a transcript is translated into: checked names, and who decides.

A request's own choice comes first, then the member's preference, then the server's. At any
level ``none`` means no translation, whatever the levels below say; an unset level defers to
the next. Names are free text (Qwen-Omni reads any language name), but only letters, spaces
and a little punctuation: the name goes into the model's instructions.
"""

from __future__ import annotations

import re

from omnicord import i18n
from omnicord.policy.preferences import SettingRefused

#: The choice of no translation, stored as such (a member opting out of the server's).
NO_TRANSLATION = "none"
MAX_LANGUAGE_CHARS = 40

#: Offered first in autocomplete; any other language name is accepted too.
COMMON_LANGUAGES = (
    "English", "Chinese", "Spanish", "French", "German", "Portuguese", "Italian", "Russian",
    "Japanese", "Korean", "Arabic", "Hindi", "Turkish", "Dutch", "Polish", "Ukrainian",
    "Vietnamese", "Thai", "Indonesian", "Swedish", "Cantonese", "Greek", "Czech", "Hebrew",
)
#: Each common language's own name, shown beside the English one in autocomplete and accepted
#: as typed ("日本語" is Japanese), so a member finds their language without knowing English.
ENDONYMS = {
    "English": "English", "Chinese": "中文", "Spanish": "Español", "French": "Français",
    "German": "Deutsch", "Portuguese": "Português", "Italian": "Italiano",
    "Russian": "Русский", "Japanese": "日本語", "Korean": "한국어", "Arabic": "العربية",
    "Hindi": "हिन्दी", "Turkish": "Türkçe", "Dutch": "Nederlands", "Polish": "Polski",
    "Ukrainian": "Українська", "Vietnamese": "Tiếng Việt", "Thai": "ไทย",
    "Indonesian": "Bahasa Indonesia", "Swedish": "Svenska", "Cantonese": "粵語",
    "Greek": "Ελληνικά", "Czech": "Čeština", "Hebrew": "עברית",
}
_CODES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German",
    "pt": "Portuguese", "it": "Italian", "ru": "Russian", "ja": "Japanese", "ko": "Korean",
    "ar": "Arabic", "hi": "Hindi", "tr": "Turkish", "nl": "Dutch", "pl": "Polish",
    "uk": "Ukrainian", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian", "sv": "Swedish",
    "yue": "Cantonese", "el": "Greek", "cs": "Czech", "he": "Hebrew",
}
#: Discord's locale codes (lower case), so a translation target may be named as a member's
#: Discord language is: ``ja``, ``zh-TW``, ``pt-BR``...
_LOCALES = {
    "en-us": "English", "en-gb": "English", "es-es": "Spanish", "es-419": "Spanish",
    "pt-br": "Brazilian Portuguese", "zh-cn": "Simplified Chinese",
    "zh-tw": "Traditional Chinese", "sv-se": "Swedish", "da": "Danish", "hr": "Croatian",
    "lt": "Lithuanian", "hu": "Hungarian", "no": "Norwegian", "ro": "Romanian",
    "fi": "Finnish", "bg": "Bulgarian",
}
_BY_NAME = {name.lower(): name for name in COMMON_LANGUAGES} | {
    own.lower(): name for name, own in ENDONYMS.items()}
_OFF = {"", NO_TRANSLATION, "off", "no"}
_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '()\-])*")


def check_language(text: str) -> str:
    """A language name as it will be used (``none`` for no translation); SettingRefused for
    anything that is not a language name."""
    name = " ".join(text.split())
    key = name.lower()
    if key in _OFF:
        return NO_TRANSLATION
    if key in _CODES:
        return _CODES[key]
    if key.replace("_", "-") in _LOCALES:
        return _LOCALES[key.replace("_", "-")]
    if key in _BY_NAME:
        return _BY_NAME[key]
    if len(name) > MAX_LANGUAGE_CHARS or not _NAME.fullmatch(name):
        raise SettingRefused(i18n.text("settings.not_a_language",
                                       name=name[:MAX_LANGUAGE_CHARS]))
    return name


def translation_language(*choices: str | None) -> str | None:
    """The language to translate into: the first choice made (request, member, server), or
    None when that choice is no translation or nobody chose."""
    chosen = next((choice for choice in choices if choice), None)
    return None if chosen is None or chosen == NO_TRANSLATION else chosen


def language_choices(typed: str) -> list[tuple[str, str]]:
    """Common languages matching what was typed in English or in their own name, for
    autocomplete: (label, value), the label naming the language both ways ("日本語 · Japanese"),
    the value its English name."""
    wanted = typed.strip().lower()
    return [(choice_label(name), name) for name in COMMON_LANGUAGES
            if wanted in name.lower() or wanted in ENDONYMS[name].lower()]


def choice_label(name: str) -> str:
    """A common language named in its own language and in English (once when they agree)."""
    own = ENDONYMS[name]
    return name if own == name else f"{own} · {name}"
