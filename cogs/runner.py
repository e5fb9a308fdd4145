"""The standalone Omnicord bot: a ``commands.AutoShardedBot`` with every extension in
``EXTENSIONS``, running the gateway shards its settings name, until SIGTERM or SIGINT stop it
cleanly (replies under way finish within OMNICORD_SHUTDOWN_GRACE; a second signal cuts them);
and ``sync_now``, that bot's slash commands synced over HTTP only (``omnicord sync``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import aiohttp
import discord
from discord.ext import commands
from omnicord.cogs import EXTENSIONS
from omnicord.cogs.reach import unreachable
from omnicord.cogs.runtime.inflight import Drained
from omnicord.cogs.runtime.shared import current, reads_all_messages
from omnicord.cogs.runtime.sync import force_sync, sync_if_changed
from omnicord.errors import ConfigError, UpstreamUnavailable
from omnicord.logs import configure_logging
from omnicord.settings import Settings

log = logging.getLogger("omnicord")

#: The standalone bot's thread switch interval (Python's default is 5 ms). Under load the event
#: loop's thread holds the GIL nearly all the time, and the store's writer thread (and live
#: talk's player) waits up to the interval for it after every database call: at 128
#: conversations answered at once, ``bench/load.py`` measured the store's p99 per turn at
#: 35-55 ms with 5 ms and 10-13 ms with 0.2 ms, and more replies per second. A host bot's process is
#: the host's to tune: Omnicord never changes it when loaded as extensions.
SWITCH_INTERVAL = 0.0002

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
    connect=True,  # live talk: join a voice channel …
    speak=True,  # … and answer aloud there
)


#: A token Discord refuses, as ``omnicord run`` and ``omnicord sync`` say it.
TOKEN_REFUSED = ("DISCORD_TOKEN was refused by Discord: copy the bot token again from the "
                 "developer portal (Bot → Reset Token)")

#: Printed at start-up when the Message Content intent is not used.
NO_CONTENT_NOTE = ("Without the Message Content intent (OMNICORD_MESSAGE_CONTENT=false), "
                   "chat channels, Omnicord's threads and auto-captions are off; mentions, "
                   "replies to the bot, DMs, slash commands and message menus work.")


def intents(message_content: bool = True) -> discord.Intents:
    """Only what Omnicord needs: guild and DM messages, with their content unless told not to
    (mentions, replies to the bot and DMs carry their content anyway), and voice states (live
    talk joins the member's voice channel and sees it empty)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.voice_states = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = message_content
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
            intents=intents(settings.message_content),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **shard_options(settings),
        )
        self.omnicord_settings = settings  # read by the cogs' shared runtime

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        log.info("loaded %d extensions", len(EXTENSIONS))
        await sync_if_changed(self)  # logs whether it synced; a failure never stops the bot

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
        if not reads_all_messages(self, self.omnicord_settings):
            print(NO_CONTENT_NOTE, flush=True)
            log.warning("Message Content intent not used: chat channels, Omnicord's threads and "
                        "auto-captions are off")

    async def shutdown(self, now: asyncio.Event | None = None) -> Drained:
        """Stop taking new work, let replies under way finish within OMNICORD_SHUTDOWN_GRACE
        (or until ``now`` is set), cut the rest, then close (database and clients included)."""
        runtime = current(self)
        drained = Drained(0, 0)
        if runtime is not None:
            grace = self.omnicord_settings.shutdown_grace
            log.info("stopping: %d replies under way, waiting up to %.1f s",
                     runtime.inflight.count, grace)
            drained = await runtime.inflight.drain(grace, now)
        await self.close()
        return drained


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with exactly the permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=REQUIRED_PERMISSIONS, scopes=("bot", "applications.commands")
    )


def run_bot(settings: Settings, token: str) -> None:
    """Run the standalone bot until SIGTERM or SIGINT, then stop cleanly (see ``serve``).

    A token Discord refuses is a ConfigError naming DISCORD_TOKEN; Discord out of reach is an
    UpstreamUnavailable: each one line from the command line, never a traceback.
    """
    configure_logging(settings.log_level, settings.log_file)
    sys.setswitchinterval(SWITCH_INTERVAL)
    # discord.py[voice] brings PyNaCl and davey: its warnings about missing voice libraries
    # would only be noise.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    try:
        drained = asyncio.run(serve(OmnicordBot(settings), token))
    except discord.LoginFailure:
        raise ConfigError(TOKEN_REFUSED) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError("Discord refused the Message Content intent: switch it on in the "
                          "developer portal (Bot → Privileged Gateway Intents), or set "
                          "OMNICORD_MESSAGE_CONTENT=false") from None
    except (aiohttp.ClientError, discord.GatewayNotFound, OSError) as error:
        raise UpstreamUnavailable(f"{unreachable(error)}; check the network and try "
                                  "again") from None
    print(f"Omnicord stopped ({drained.summary()})", flush=True)


class StopSignals:
    """SIGTERM and SIGINT: the first asks for a clean stop, the second to stop now."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.now = asyncio.Event()

    def received(self) -> None:
        """One signal came."""
        if self.requested.is_set():
            log.warning("second stop signal: cutting the replies under way now")
            self.now.set()
        self.requested.set()

    @contextlib.contextmanager
    def installed(self, loop: asyncio.AbstractEventLoop) -> Iterator[StopSignals]:
        """Handle the signals on ``loop`` within the block."""
        handled = []
        for signum in self.SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: Ctrl-C only
                loop.add_signal_handler(signum, self.received)
                handled.append(signum)
        try:
            yield self
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)


async def serve(bot: OmnicordBot, token: str) -> Drained:
    """Log in and serve until a stop signal (or until discord.py ends on its own), then shut
    down cleanly: errors of logging in or connecting propagate."""
    stop = StopSignals()
    with stop.installed(asyncio.get_running_loop()):
        async with bot:
            running = asyncio.create_task(bot.start(token), name="omnicord-gateway")
            asked = asyncio.create_task(stop.requested.wait())
            await asyncio.wait({running, asked}, return_when=asyncio.FIRST_COMPLETED)
            asked.cancel()
            if running.done() and not stop.requested.is_set():
                running.result()  # ended by itself: a refused login, say, raises here
            drained = await bot.shutdown(stop.now)
            await _finish(running)
    return drained


async def _finish(running: asyncio.Task[None], timeout: float = 5.0) -> None:
    """Let the gateway task end after the bot closed; how it ended no longer matters."""
    done, _ = await asyncio.wait({running}, timeout=timeout)
    if not done:
        running.cancel()
        await asyncio.wait({running})
    if not running.cancelled() and running.exception() is not None:
        log.debug("gateway ended while stopping", exc_info=running.exception())


class SyncOnlyBot(OmnicordBot):
    """The standalone bot's tree, without syncing at log-in (``sync_now`` forces the sync)."""

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)


async def sync_now(settings: Settings, token: str) -> tuple[int, int]:
    """``omnicord sync``: log in over HTTP only (no gateway), load every extension to build the
    tree, sync it and record its hash; (commands synced, application id).

    A refused token is a ConfigError; Discord out of reach or refusing the sync is an
    UpstreamUnavailable: one line each from the command line.
    """
    bot = SyncOnlyBot(settings)
    try:
        await bot.login(token)
        runtime = current(bot)
        assert runtime is not None and bot.application_id is not None  # the cogs opened it
        return await force_sync(bot, runtime.services.store), bot.application_id
    except discord.LoginFailure:
        raise ConfigError(TOKEN_REFUSED) from None
    except discord.HTTPException as error:
        raise UpstreamUnavailable(f"Discord refused the sync: {error}") from None
    except (aiohttp.ClientError, OSError) as error:
        raise UpstreamUnavailable(f"{unreachable(error)}; check the network and try "
                                  "again") from None
    finally:
        await bot.close()
