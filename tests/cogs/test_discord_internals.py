"""discord.py's private internals Omnicord relies on, checked by name and shape: if a discord.py
release changes one, this fails with what changed and where Omnicord uses it, before any voice
message or slash-command sync fails for members. pyproject pins discord.py below the next
minor release for the same reason; raise the pin only once this passes on the new release.

They are all touched in one module, ``cogs/discord_internals.py``; the scan below keeps it so."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import discord
import pytest
from discord import app_commands
from discord.http import HTTPClient, Route
from discord.state import ConnectionState

from tests.conftest import REPO

INTERNALS = REPO / "cogs" / "discord_internals.py"
VOICE = "cogs/discord_internals.py's post_message (native voice messages)"
SYNC = "cogs/discord_internals.py's guilds_with_* (slash-command sync, the /omni groups)"
REST = "cogs/discord_internals.py's RestApi and api_base (omnicord doctor, Discord's host)"
#: discord.py's private modules, and the private names Omnicord uses from them.
PRIVATE_MODULES = {"discord.http", "discord.state"}
PRIVATE_NAMES = {"_get_channel", "_state", "_to_json", "_guild_commands", "_context_menus"}


def parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(("what", "check", "used_in"), [
    ("HTTPClient.request(route, *, files=, form=)",
     lambda: {"files", "form"} <= set(parameters(HTTPClient.request)), VOICE),
    ("Route(method, path, **parameters)",
     lambda: Route("POST", "/channels/{channel_id}/messages", channel_id=1).channel_id == 1,
     VOICE),
    ("ConnectionState.create_message(*, channel, data)",
     lambda: parameters(ConnectionState.create_message)[1:] == ["channel", "data"], VOICE),
    ("discord.utils._to_json(obj)", lambda: discord.utils._to_json({"a": 1}) == '{"a":1}',
     VOICE),
    ("Messageable._get_channel()",
     lambda: inspect.iscoroutinefunction(discord.abc.Messageable._get_channel), VOICE),
    ("Messageable._state", lambda: "_state" in discord.abc.Messageable.__annotations__
     or hasattr(discord.TextChannel, "_state") or "_state" in discord.TextChannel.__slots__,
     VOICE),
    ("CommandTree._guild_commands and ._context_menus",
     lambda: {"_guild_commands", "_context_menus"} <= set(vars(app_commands.CommandTree(
         discord.Client(intents=discord.Intents.none())))), SYNC),
    ("HTTPClient(loop, *, max_ratelimit_timeout=)",
     lambda: "max_ratelimit_timeout" in parameters(HTTPClient.__init__), REST),
    ("HTTPClient.static_login(token)",
     lambda: parameters(HTTPClient.static_login)[1:] == ["token"], REST),
    ("HTTPClient.get_guilds(limit, *, after=, with_counts=)",
     lambda: {"limit", "after", "with_counts"} <= set(parameters(HTTPClient.get_guilds)), REST),
    ("Route.BASE", lambda: Route.BASE.startswith("https://discord.com/api/"), REST),
])
def test_discord_internals_omnicord_uses_are_still_there(
        what: str, check: Callable[[], bool], used_in: str) -> None:
    try:
        found = check()
    except Exception as error:  # a rename or a new signature: say which, and where
        found = False
        what = f"{what} ({type(error).__name__}: {error})"
    assert found, (f"discord.py {discord.__version__} changed {what}, which {used_in} "
                   "relies on: adapt it before raising the discord.py pin")


def test_the_installed_discord_py_is_within_the_pin() -> None:
    major, minor = (int(part) for part in version("discord.py").split(".")[:2])
    assert (2, 5) <= (major, minor) < (2, 8), (
        f"discord.py {version('discord.py')} is outside the tested range >=2.5.1,<2.8")


def private_uses(path: Path) -> list[str]:
    """Where a module imports discord.py's private modules or names its private internals."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Attribute):
            dotted = f"{node.value.id}.{node.attr}" if isinstance(node.value, ast.Name) else ""
            names = [node.attr, dotted]
        elif isinstance(node, ast.Name):
            names = [node.id]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names
                  if name in PRIVATE_NAMES or name.startswith(tuple(PRIVATE_MODULES))]
    return found


def test_only_the_internals_module_touches_discord_internals() -> None:
    offenders = {str(path.relative_to(REPO)): uses
                 for path in sorted((REPO / "cogs").rglob("*.py")) if path != INTERNALS
                 if (uses := private_uses(path))}
    assert offenders == {}, "call omnicord.cogs.discord_internals instead"
    assert private_uses(INTERNALS)  # the scan sees what it is meant to


def own_names() -> set[str]:
    """Every name Omnicord's own sources define: functions, classes, variables, attributes
    assigned, parameters."""
    names: set[str] = set()
    for path in [*(REPO / "bot").rglob("*.py"), *(REPO / "cogs").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.id if isinstance(node, ast.Name) else node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def test_no_other_module_reads_a_private_attribute_omnicord_does_not_define() -> None:
    """A ``._name`` Omnicord never defines is another library's private attribute (most likely
    discord.py's): outside the internals module, none is read."""
    own = own_names()
    offenders = [f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}"
                 for path in sorted((REPO / "cogs").rglob("*.py")) if path != INTERNALS
                 for node in ast.walk(ast.parse(path.read_text("utf-8")))
                 if isinstance(node, ast.Attribute) and node.attr.startswith("_")
                 and not node.attr.startswith("__") and node.attr not in own]
    assert offenders == [], "call omnicord.cogs.discord_internals instead"
