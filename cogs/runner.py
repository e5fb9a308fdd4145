"""The standalone Omnicord bot: a ``commands.Bot`` with every extension in ``EXTENSIONS``."""

from __future__ import annotations

import logging

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


class OmnicordBot(commands.Bot):
    """A bot that loads every Omnicord extension and syncs its application commands."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            command_prefix=(),  # slash commands only: a mention is a question, not a command
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.omnicord_settings = settings  # read by the cogs' shared runtime

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        synced = await self.tree.sync()
        log.info("loaded %d extensions, synced %d commands", len(EXTENSIONS), len(synced))

    async def on_ready(self) -> None:
        assert self.user is not None
        url = invite_url(self.application_id or self.user.id)
        print(f"Omnicord is online as {self.user}. Invite it with:\n{url}", flush=True)


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
