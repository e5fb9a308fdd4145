"""The Omnicord runtime shared by all cogs loaded into one bot.

The first cog to load opens it (settings, model clients, database, caches, limits); the last
to unload closes it. A host bot may set ``bot.omnicord_settings`` (a ``omnicord.settings.Settings``)
before loading the cogs; otherwise settings come from the environment and ``.env``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
from discord.ext import commands
from omnicord.cogs.utils.pacing import EditPacer
from omnicord.policy.preferences import Defaults, Effective, GuildPreferences, ReplyMode, resolve
from omnicord.policy.throttle import ConcurrencyLimit, Cooldown
from omnicord.policy.usage import UsageLedger, default_prices, parse_prices
from omnicord.services import Services, open_services
from omnicord.settings import Settings, load_settings
from omnicord.store.preferences import PreferenceStore

UrlRewrite = Callable[[str], str]


@dataclass
class Runtime:
    """Everything the cogs share."""

    services: Services
    preferences: PreferenceStore
    usage: UsageLedger
    http: aiohttp.ClientSession
    pacer: EditPacer = field(default_factory=EditPacer)
    cooldown: Cooldown = field(default_factory=lambda: Cooldown(3.0))
    concurrency: ConcurrencyLimit = field(default_factory=lambda: ConcurrencyLimit(4))
    url_rewrite: UrlRewrite | None = None
    users: int = 0
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def settings(self) -> Settings:
        """The bot-wide settings."""
        return self.services.settings

    def defaults(self) -> Defaults:
        """Bot-wide defaults for preference resolution."""
        settings = self.settings
        return Defaults(model=settings.model, voice=settings.voice,
                        reply_mode=ReplyMode(settings.reply_mode),
                        daily_token_cap=settings.daily_token_cap or None)

    async def effective(self, guild_id: str, user_id: str) -> Effective:
        """The settings a reply to ``user_id`` in ``guild_id`` ('' for DMs) is made with."""
        guild = await self.preferences.guild(guild_id) if guild_id else None
        member = await self.preferences.member(guild_id, user_id)
        return resolve(self.defaults(), guild or GuildPreferences(), member)

    @contextlib.asynccontextmanager
    async def admit(
        self, guild_id: str, user_id: int, *, purpose: str = "chat"
    ) -> AsyncIterator[Effective]:
        """Gate one request: concurrency, member cooldown and daily cap, in that order.

        Concurrency is counted per server, and per member in direct messages (so one member's
        slow DMs never hold up another's). The cooldown is per member and purpose, so a voice
        note's auto-caption is not refused because the same note was just answered.
        Yields the member's effective settings; raises Busy or OverDailyCap (both explain
        themselves to the member).
        """
        async with self.concurrency.slot(guild_id or f"dm:{user_id}"):
            self.cooldown.hit(f"{purpose}:{user_id}")
            effective = await self.effective(guild_id, str(user_id))
            await self.usage.check_cap(str(user_id), effective.daily_token_cap)
            yield effective


_KEY = "_omnicord_runtime"


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
    settings.configure_ffmpeg()
    stack = contextlib.AsyncExitStack()
    try:
        services = await stack.enter_async_context(open_services(settings))
        http = await stack.enter_async_context(aiohttp.ClientSession())
    except BaseException:
        await stack.aclose()
        raise
    prices = default_prices() | parse_prices(settings.prices)
    return Runtime(
        services=services,
        preferences=PreferenceStore(services.store),
        usage=UsageLedger(services.store, prices),
        http=http,
        cooldown=Cooldown(settings.cooldown_seconds),
        concurrency=ConcurrencyLimit(settings.guild_concurrency),
        url_rewrite=getattr(bot, "omnicord_url_rewrite", None),
        _exit=stack,
    )


async def setup_cog(
    bot: commands.Bot, make: Callable[[commands.Bot, Runtime], commands.Cog]
) -> None:
    """Add a cog built on the shared runtime (the extension's ``setup``)."""
    runtime = await acquire(bot)
    try:
        await bot.add_cog(make(bot, runtime))
    except BaseException:
        await release(bot)
        raise
