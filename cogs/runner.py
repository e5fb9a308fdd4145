"""The standalone Omnicord bot: a ``commands.AutoShardedBot`` with every extension in
``EXTENSIONS``, running the gateway shards its settings name."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
import discord
from discord.ext import commands
from omnicord.cogs import EXTENSIONS
from omnicord.errors import ConfigError, UpstreamUnavailable
from omnicord.settings import Settings

log = logging.getLogger("omnicord")

#: Permissions the bot needs in a channel, used for the invite link.
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    send_voice_messages=True,
)


def intents() -> discord.Intents:
    """Only what Omnicord needs: guild and DM messages, with their content."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


def shard_options(settings: Settings) -> dict[str, Any]:
    """``shard_count``/``shard_ids`` for discord.py, only those the settings give.

    Without them discord.py asks Discord for its recommended count and runs every shard here.
    """
    options: dict[str, Any] = {}
    if settings.shard_count is not None:
        options["shard_count"] = settings.shard_count
    if settings.shard_ids is not None:
        options["shard_ids"] = list(settings.shard_ids)
    return options


def format_shard_ids(shard_ids: Iterable[int]) -> str:
    """Shard ids as compact ranges, as OMNICORD_SHARD_IDS spells them: ``0-3,8``."""
    runs: list[list[int]] = []
    for shard_id in sorted(set(shard_ids)):
        if runs and shard_id == runs[-1][1] + 1:
            runs[-1][1] = shard_id
        else:
            runs.append([shard_id, shard_id])
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)


class OmnicordBot(commands.AutoShardedBot):
    """A bot that loads every Omnicord extension, syncs its application commands and serves
    the gateway shards its settings name (by default all of Discord's recommended shards)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            command_prefix=(),  # slash commands only: a mention is a question, not a command
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **shard_options(settings),
        )
        self.omnicord_settings = settings  # read by the cogs' shared runtime

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        synced = await self.tree.sync()
        log.info("loaded %d extensions, synced %d commands", len(EXTENSIONS), len(synced))

    def served_shards(self) -> str:
        """The shards this process serves, such as ``shards 0-3 of 16``."""
        if self.shard_count is None:
            return "all shards"  # not connected yet: Discord has not recommended a count
        shard_ids = range(self.shard_count) if self.shard_ids is None else self.shard_ids
        noun = "shard" if len(shard_ids) == 1 else "shards"
        return f"{noun} {format_shard_ids(shard_ids)} of {self.shard_count}"

    async def on_shard_connect(self, shard_id: int) -> None:
        log.info("shard %d of %s connected", shard_id, self.shard_count)

    async def on_shard_ready(self, shard_id: int) -> None:
        guilds = sum(1 for guild in self.guilds if guild.shard_id == shard_id)
        log.info("shard %d of %s ready with %d guilds", shard_id, self.shard_count, guilds)

    async def on_ready(self) -> None:
        assert self.user is not None
        url = invite_url(self.application_id or self.user.id)
        print(f"Omnicord is online as {self.user}, serving {self.served_shards()}. "
              f"Invite it with:\n{url}", flush=True)


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with exactly the permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=REQUIRED_PERMISSIONS, scopes=("bot", "applications.commands")
    )


def run_bot(settings: Settings, token: str) -> None:
    """Run the standalone bot until interrupted.

    A token Discord refuses is a ConfigError naming DISCORD_TOKEN; Discord out of reach is an
    UpstreamUnavailable: each one line from the command line, never a traceback.
    """
    discord.utils.setup_logging(level=logging.INFO)
    try:
        OmnicordBot(settings).run(token, log_handler=None)
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN was refused by Discord: copy the bot token again from "
                          "the developer portal (Bot → Reset Token)") from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError("Discord refused the Message Content intent: switch it on in the "
                          "developer portal (Bot → Privileged Gateway Intents)") from None
    except (aiohttp.ClientError, discord.GatewayNotFound, OSError) as error:
        raise UpstreamUnavailable(f"Could not reach Discord ({type(error).__name__}); check "
                                  "the network and try again") from None
