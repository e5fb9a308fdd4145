"""discord.py's private internals Omnicord relies on, checked by name and shape: if a discord.py
release changes one, this fails with what changed and where Omnicord uses it, before any voice
message or slash-command sync fails for members. pyproject pins discord.py below the next
minor release for the same reason; raise the pin only once this passes on the new release."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version

import discord
import pytest
from discord import app_commands
from discord.http import HTTPClient, Route
from discord.state import ConnectionState

VOICE = "cogs/utils/voice_message.py (native voice messages)"
SYNC = "cogs/utils/sync.py and omni_group.py (which guilds have commands)"


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
