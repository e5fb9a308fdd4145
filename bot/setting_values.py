"""How one setting's text becomes its value: small parsers that say what is wrong in words.

Each parser takes what a setting was given (text from the environment, or a Python value
passed to ``Settings(...)``) and returns the value, or raises ``ValueError`` with a message
that reads on after "NAME: ". Blank text means "not set" wherever a setting may be unset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Parser = Callable[[Any], Any]

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class Secret:
    """A secret value that never shows in a repr or a string (``get_secret_value`` reads it)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def is_blank(value: Any) -> bool:
    """Whether ``value`` means "not set": None, or text of only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str:
    """Any text, as given."""
    return value if isinstance(value, str) else str(value)


def optional_text(value: Any) -> str | None:
    """Text, or None when blank."""
    return None if is_blank(value) else text(value)


def secret(value: Any) -> Secret | None:
    """A secret, or None when blank."""
    if isinstance(value, Secret):
        return value
    return None if is_blank(value) else Secret(text(value))


def optional_path(value: Any) -> Path | None:
    """A path, or None when blank."""
    return None if is_blank(value) else Path(value)


def flag(value: Any) -> bool:
    """true/false, yes/no, on/off or 1/0."""
    if isinstance(value, bool):
        return value
    word = text(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("must be true or false")


def integer(*, ge: int | None = None, gt: int | None = None, le: int | None = None,
            blank: int | None = None, optional: bool = False) -> Parser:
    """A whole number within the bounds; ``blank`` (or None when ``optional``) for blank."""

    def parse(value: Any) -> int | None:
        if is_blank(value):
            if optional:
                return None
            if blank is not None:
                return blank
        number = _whole(value)
        _check_bounds(number, ge=ge, gt=gt, le=le)
        return number

    return parse


def number(*, ge: float | None = None, gt: float | None = None,
           le: float | None = None) -> Parser:
    """A number (decimals allowed) within the bounds."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            result = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError("must be a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        _check_bounds(result, ge=ge, gt=gt, le=le)
        return result

    return parse


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        return value
    try:
        as_float = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None
    if not as_float.is_integer():
        raise ValueError("must be a whole number")
    return int(as_float)


def _check_bounds(value: float, *, ge: float | None, gt: float | None,
                  le: float | None) -> None:
    if ge is not None and value < ge:
        raise ValueError(f"must be at least {ge:g}")
    if gt is not None and value <= gt:
        raise ValueError(f"must be more than {gt:g}")
    if le is not None and value > le:
        raise ValueError(f"must be at most {le:g}")
