"""Numbers, durations and plural categories as each language writes them.

Written out rather than taken from a locale library: seven languages need a few rules each,
and the C library's locales are neither installed everywhere nor safe to switch per message.
"""

from __future__ import annotations

#: (thousands separator, decimal separator, smallest number grouped) per language. Spanish
#: groups from five digits (CLDR: 1234 but 12.345).
_NUMBERS = {"es-ES": (".", ",", 10_000), "pt-BR": (".", ",", 1_000)}
_DEFAULT_NUMBERS = (",", ".", 1_000)

#: How hours, minutes and seconds are written: (hours, minutes, seconds, joiner).
_UNITS = {
    "en": ("{} h", "{} min", "{} s", " "),
    "ja": ("{}時間", "{}分", "{}秒", ""),
    "zh-CN": ("{}小时", "{}分钟", "{}秒", ""),
    "zh-TW": ("{}小時", "{}分鐘", "{}秒", ""),
    "ko": ("{}시간", "{}분", "{}초", " "),
    "es-ES": ("{} h", "{} min", "{} s", " "),
    "pt-BR": ("{} h", "{} min", "{} s", " "),
}


def format_number(language: str, value: float, *, decimals: int | None = None) -> str:
    """``value`` with the language's separators (integers as integers; ``decimals`` fixes the
    digits after the point)."""
    group, point, smallest = _NUMBERS.get(language, _DEFAULT_NUMBERS)
    places = decimals if decimals is not None else (0 if float(value).is_integer() else 2)
    text = f"{abs(value):,.{places}f}"
    whole, _, fraction = text.partition(".")
    if abs(value) < smallest:
        whole = whole.replace(",", "")
    whole = whole.replace(",", group)
    sign = "-" if value < 0 and text.strip("0.,") else ""
    return sign + whole + (point + fraction if fraction else "")


def format_duration(language: str, seconds: float) -> str:
    """A duration in whole seconds as the language writes it (``1 h 5 min``, ``1時間5分``);
    seconds are left out from an hour on."""
    hours_unit, minutes_unit, seconds_unit, joiner = _UNITS.get(language, _UNITS["en"])
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(hours_unit.format(hours))
    if minutes:
        parts.append(minutes_unit.format(minutes))
    if (secs and not hours) or not parts:
        parts.append(seconds_unit.format(secs))
    return joiner.join(parts)


#: Binary units, largest first; "bytes" as each language writes it.
_SIZE_UNITS = (("MiB", 1 << 20), ("KiB", 1 << 10), ("bytes", 1))
_BYTES = {"ja": "バイト", "zh-CN": "字节", "zh-TW": "位元組", "ko": "바이트"}


def format_size(language: str, size: int, like: int | None = None) -> str:
    """``1.5 MiB``, ``500 MiB``, ``12 KiB`` with the language's separators, in the unit
    ``like`` (when given) would be written in."""
    unit, scale = next((u, s) for u, s in _SIZE_UNITS if (like or size) >= s or s == 1)
    amount = round(size / scale, 1)
    number = format_number(language, amount, decimals=0 if amount.is_integer() else 1)
    return f"{number} {_BYTES.get(language, unit) if unit == 'bytes' else unit}"


def plural_category(language: str, count: float) -> str:
    """CLDR's plural category of ``count`` (integers): ``one`` or ``other``."""
    if language in ("ja", "zh-CN", "zh-TW", "ko"):
        return "other"
    if language == "pt-BR":
        return "one" if count in (0, 1) else "other"
    return "one" if count == 1 else "other"
