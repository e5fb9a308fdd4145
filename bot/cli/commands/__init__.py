"""The ``omnicord`` commands: one module each, in the order ``--help`` lists them.

A command module holds its arguments and its handler together:

- ``add_arguments(commands)`` adds its subparser (argparse only: every module is imported to
  build the parser, so a module imports nothing heavy at top level, only in its handler);
- ``run(args, settings)`` runs it, returning the exit status; ``async def run`` runs under
  ``asyncio.run``;
- ``NEEDS_MEDIA = True`` when it converts media (OMNICORD_FFMPEG is checked first);
- ``LOADS_SETTINGS = False`` when it reads ``--env-file`` itself: then ``run(args)`` (``init``
  writes that file, ``doctor`` reports a bad setting as a check).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Every command, by module name (the command's name, ``_`` for ``-``).
NAMES = ("init", "ask", "caption", "transcribe", "talk", "prepare", "history", "reset", "voices",
         "models", "run", "db", "forget", "doctor", "sync", "usage")


def command_module(name: str) -> ModuleType:
    """The module of the command called ``name``."""
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def modules() -> list[ModuleType]:
    """Every command's module, in ``NAMES`` order."""
    return [command_module(name) for name in NAMES]
