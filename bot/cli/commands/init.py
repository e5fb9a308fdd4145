"""``omnicord init``: write a commented settings file from the ``.env.example`` Omnicord ships.

The file is created 0600, since it will hold the API key and the bot token, and never
written over: an existing file (or a link, even a dangling one) is refused.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from omnicord.cli.arguments import env_file_of
from omnicord.cli.output import EXIT_OK, EXIT_USAGE, fail, note

#: It writes the settings file, so reads none.
LOADS_SETTINGS = False
#: The repository's top-level ``.env.example``, shipped inside the package under this name.
TEMPLATE = "env.example"


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord init``."""
    commands.add_parser(
        "init", help="write a commented .env to fill in",
        description="Write a commented settings file (.env in the working folder, or "
        "--env-file PATH) listing every setting with its default, readable only by you "
        "since it will hold secrets. An existing file is never overwritten.",
    )


def template() -> str:
    """The commented settings file, as ``.env.example`` holds it."""
    from importlib.resources import files

    return files("omnicord").joinpath(TEMPLATE).read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Write the settings file from the template; exit 2 with one line if it cannot be
    created."""
    return write_settings_file(env_file_of(args))


def write_settings_file(target: Path) -> int:
    """Write ``target`` from the template; exit 2 with one line if it cannot be created."""
    from omnicord import __version__
    from omnicord.files import create_private

    text = f"# Written by `omnicord init` (Omnicord {__version__}).\n" + template()
    try:
        fd = create_private(target)
    except FileExistsError:
        return fail(f"{target} already exists: it is left as it is (edit it, or move it away "
                    "to write a fresh one)", EXIT_USAGE)
    except OSError as error:
        return fail(f"cannot create {target}: {error.strerror or error}", EXIT_USAGE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    note(f"wrote {target} (readable only by you): put your DASHSCOPE_API_KEY and DISCORD_TOKEN "
         "in it, then run `omnicord doctor`")
    return EXIT_OK
