"""Every message Omnicord shows members, by key, in every language; and the slash commands'
descriptions, choices and menu names, by their English text.

One module per area (``common``, ...) holds ``MESSAGES`` (key → ``Entry``) and may hold
``COMMANDS`` (English text → ``Localised``); this package merges them, refusing a key defined
twice. Translations marked machine-made in docs/languages.md await a native reviewer.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from omnicord.i18n.entry import Entry, Localised

#: The areas, one module each.
AREAS = ("common", "chat", "captions", "talk", "errors", "commands", "settings", "privacy", "usage",
         "errors_access")


def _merge(modules: list[ModuleType], name: str) -> dict[str, object]:
    merged: dict[str, object] = {}
    for module in modules:
        for key, value in getattr(module, name, {}).items():
            if key in merged:
                raise ValueError(f"{name} key {key!r} is defined twice ({module.__name__})")
            merged[key] = value
    return merged


_modules = [importlib.import_module(f"{__name__}.{area}") for area in AREAS]
MESSAGES: Mapping[str, Entry] = _merge(_modules, "MESSAGES")  # type: ignore[assignment]
COMMANDS: Mapping[str, Localised] = _merge(_modules, "COMMANDS")  # type: ignore[assignment]
