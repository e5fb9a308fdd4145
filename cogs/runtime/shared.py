"""The Omnicord runtime shared by all cogs loaded into one bot.

The first cog to load opens it (settings, model clients, database, caches, limits); the last
to unload closes it. A host bot may set ``bot.omnicord_settings`` (a ``omnicord.settings.Settings``)
before loading the cogs; otherwise settings come from the environment and ``.env``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import discord
from discord.ext import commands, tasks
from omnicord import build
from omnicord.cogs.delivery.pacing import EditPacer
from omnicord.cogs.runtime.inflight import InFlight
from omnicord.cogs.runtime.omni_group import check_names_free
from omnicord.cogs.runtime.translator import install as install_translator
from omnicord.conversation.cache_sweep import SWEEP_INTERVAL_SECONDS
from omnicord.policy.admission import Admission
from omnicord.policy.usage import UsageLedger
from omnicord.services import Services, open_services
from omnicord.settings import Settings, load_settings
from omnicord.store.interface import PreferenceStore

UrlRewrite = Callable[[str], str]
CogT = TypeVar("CogT", bound=commands.Cog)
log = logging.getLogger("omnicord.limits")


@dataclass
class Runtime:
    """What the cogs share: the core's services, plus Discord-only pieces."""

    services: Services
    http: aiohttp.ClientSession
    pacer: EditPacer = field(default_factory=EditPacer)
    url_rewrite: UrlRewrite | None = None
    inflight: InFlight = field(default_factory=InFlight)
    reads_all_messages: bool = True
    housekeeping: tasks.Loop[Any] | None = None  # the daily forgetting of expired limits
    cache_sweep: tasks.Loop[Any] | None = None  # dropping cached media no turn refers to
    users: int = 0
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def settings(self) -> Settings:
        """The bot-wide settings."""
        return self.services.settings

    @property
    def admission(self) -> Admission:
        """Effective settings and the request gate."""
        return self.services.admission

    @property
    def preferences(self) -> PreferenceStore:
        """Server, member and channel preferences."""
        return self.services.preferences

    @property
    def usage(self) -> UsageLedger:
        """The usage ledger."""
        return self.services.usage


_KEY = "_omnicord_runtime"


def current(bot: commands.Bot | commands.AutoShardedBot) -> Runtime | None:
    """The bot's shared runtime, if a cog opened it."""
    return getattr(bot, _KEY, None)


def reads_all_messages(bot: discord.Client, settings: Settings) -> bool:
    """Whether the bot sees every message's content: the Message Content intent is on and
    OMNICORD_MESSAGE_CONTENT allows using it. Without it only mentions, replies to the bot
    and DMs carry content, so chat channels and auto-captions cannot work."""
    return settings.message_content and bot.intents.message_content


async def acquire(bot: commands.Bot) -> Runtime:
    """The bot's shared runtime, opened on first use."""
    runtime: Runtime | None = getattr(bot, _KEY, None)
    if runtime is None:
        runtime = await _open(bot)
        setattr(bot, _KEY, runtime)
    runtime.users += 1
    return runtime


async def release(bot: commands.Bot) -> None:
    """Give the runtime back; the last user closes it."""
    runtime: Runtime | None = getattr(bot, _KEY, None)
    if runtime is None:
        return
    runtime.users -= 1
    if runtime.users <= 0:
        delattr(bot, _KEY)
        await runtime._exit.aclose()


async def _open(bot: commands.Bot) -> Runtime:
    settings = getattr(bot, "omnicord_settings", None) or load_settings()
    build.configure_ffmpeg(settings)
    stack = contextlib.AsyncExitStack()
    try:
        services = await stack.enter_async_context(open_services(settings))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        # Omnicord's command texts in the members' languages (the host's translator, if
        # any, keeps the rest, and is restored when the runtime closes).
        await install_translator(bot.tree, stack)
    except BaseException:
        await stack.aclose()
        raise
    # Whatever cogs are loaded and whatever OMNICORD_RETENTION_DAYS says: expired cooldowns,
    # leases and upstream requests go daily; cached media no stored turn refers to (a deletion
    # another process saw, say) goes at every sweep.
    housekeeping = _periodic(stack, services.forget_expired_limits, "forgetting expired limits",
                             hours=24)
    cache_sweep = _periodic(stack, services.sweep_cache, "sweeping the media cache",
                            seconds=SWEEP_INTERVAL_SECONDS)
    return Runtime(services=services, http=http,
                   url_rewrite=getattr(bot, "omnicord_url_rewrite", None),
                   reads_all_messages=reads_all_messages(bot, settings),
                   housekeeping=housekeeping, cache_sweep=cache_sweep, _exit=stack)


def _periodic(
    stack: contextlib.AsyncExitStack, job: Callable[[], Awaitable[object]], doing: str, *,
    hours: float = 0, seconds: float = 0,
) -> tasks.Loop[Any]:
    """Run ``job`` now and then every ``hours`` and ``seconds`` until ``stack`` closes; a
    failure is one warning, and the next run tries again."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.warning("%s failed", doing, exc_info=True)

    loop = tasks.loop(hours=hours, seconds=seconds)(run)
    loop.start()
    stack.push_async_callback(_stop, loop)
    return loop


async def _stop(loop: tasks.Loop[Any]) -> None:
    """Cancel a loop and wait for it, so it never outlives the store it uses."""
    loop.cancel()
    task = loop.get_task()
    if task is not None:
        await asyncio.gather(task, return_exceptions=True)


async def setup_cog(
    bot: commands.Bot, make: Callable[[commands.Bot, Runtime], commands.Cog]
) -> None:
    """Add a cog built on the shared runtime (the extension's ``setup``); refused before
    anything is opened or added when the bot's own ``/omni`` or ``/omni-admin`` is in the way
    (``CommandNameTaken``)."""
    check_names_free(bot)
    runtime = await acquire(bot)
    try:
        await bot.add_cog(make(bot, runtime))
    except BaseException:
        await release(bot)
        raise


def cog_of(interaction: discord.Interaction, cog_class: type[CogT]) -> CogT | None:
    """The loaded cog of ``cog_class`` (found by its own cog name) of the bot an interaction
    came to."""
    client = interaction.client
    # AutoShardedBot is not a subclass of Bot: hosts (and omnicord run) may use either.
    if not isinstance(client, commands.Bot | commands.AutoShardedBot):
        return None
    cog = client.get_cog(cog_class.__cog_name__)
    return cog if isinstance(cog, cog_class) else None
