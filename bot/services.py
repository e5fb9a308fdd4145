"""The one composition root: the core's services built from settings.

The command line and the Discord cogs both build their services here, so they behave alike:
model clients, the store, the media cache, conversations, preferences, the usage ledger and
the admission gate.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from omnicord.conversation.cache_sweep import MIN_IDLE_SECONDS, CacheSweep
from omnicord.conversation.privacy import DataFacts, Privacy, data_statement
from omnicord.conversation.respond import Conversations
from omnicord.media.cache import MediaCache
from omnicord.media.captions import audio_describer
from omnicord.media.prepare import PrepareOptions
from omnicord.media.types import AudioDescriber
from omnicord.model.captioner import CaptionerClient
from omnicord.model.omni import OmniClient
from omnicord.policy.access import Access
from omnicord.policy.admission import Admission
from omnicord.policy.preferences import Defaults
from omnicord.policy.throttle import ConcurrencyLimit, Cooldown, UpstreamPace, forget_expired
from omnicord.policy.usage import UsageLedger, default_prices, parse_prices
from omnicord.settings import Settings
from omnicord.store import Store, store_for
from omnicord.store.base import Expired, PreferenceStore, ReplyMode

log = logging.getLogger("omnicord.limits")


@dataclass
class Services:
    """Everything a front end needs to answer members."""

    settings: Settings
    omni: OmniClient
    captioner: CaptionerClient
    store: Store
    cache: MediaCache
    conversations: Conversations
    preferences: PreferenceStore
    usage: UsageLedger
    admission: Admission
    privacy: Privacy
    sweeper: CacheSweep = field(init=False)

    def __post_init__(self) -> None:
        # Never sweep media a reply under way may still store (see MIN_IDLE_SECONDS).
        idle = max(MIN_IDLE_SECONDS, self.omni.total_timeout)
        self.sweeper = CacheSweep(self.store, self.cache, idle_seconds=idle)

    @property
    def access(self) -> Access:
        """The DM policy and servers' allow lists."""
        return Access(self.preferences, allow_dms=self.settings.allow_dms)

    def data_statement(self) -> str:
        """What is kept about members, where, for how long, and who else sees it."""
        return data_statement(DataFacts(
            base_url=self.settings.base_url, retention_days=self.settings.retention_days,
            backend=self.store.backend, cache_days=self.settings.cache_max_days))

    async def forget_expired_limits(self) -> Expired:
        """Forget cooldown times, leases and upstream requests that can no longer refuse
        anything, and erasure tombstones no reply can still need (run daily, whatever the
        retention); one INFO line for each when any went."""
        expired = await forget_expired(self.store.limits, self.settings.cooldown_seconds)
        if expired.total:
            log.info("limits: forgot %d expired cooldowns, %d expired leases and %d old "
                     "upstream requests", expired.cooldowns, expired.leases, expired.upstream)
        tombstones = await self.privacy.prune_tombstones()
        if tombstones:
            log.info("erasures: forgot %d tombstones older than a day", tombstones)
        return expired

    async def sweep_cache(self) -> int:
        """Drop this process's cached media that no stored turn refers to any more (run
        every ``SWEEP_INTERVAL_SECONDS``); how many files went."""
        return await self.sweeper.run()

    @property
    def describe_audio(self) -> AudioDescriber:
        """Captions a media file's sound, for videos shown as frames."""
        return audio_describer(self.captioner)

    @property
    def prepare_options(self) -> PrepareOptions:
        """The pipeline's own limits, from settings."""
        return self.settings.prepare_options()


def defaults(settings: Settings) -> Defaults:
    """The bot-wide defaults members and servers start from."""
    return Defaults(model=settings.model, voice=settings.voice,
                    reply_mode=ReplyMode(settings.reply_mode),
                    daily_token_cap=settings.daily_token_cap or None)


def media_cache(settings: Settings) -> MediaCache:
    """The media cache the settings describe."""
    return settings.media_cache()


@asynccontextmanager
async def open_services(
    settings: Settings, *, database: str | None = None
) -> AsyncIterator[Services]:
    """Open the store and clients (``database`` overrides OMNICORD_DB); close them after."""
    api_key = settings.require_api_key()
    store = store_for(database or settings.database, pool_size=settings.db_pool_size)
    await store.open()
    pace = UpstreamPace(settings.upstream_rpm, store.limits)
    timeout, retries = settings.request_timeout, settings.max_retries
    omni = OmniClient(api_key, settings.base_url, timeout=timeout, max_retries=retries,
                      pace=pace)
    captioner = CaptionerClient(api_key, settings.base_url, model=settings.caption_model,
                                timeout=timeout, max_retries=retries, pace=pace)
    try:
        usage = UsageLedger(store, default_prices() | parse_prices(settings.prices))
        admission = Admission(
            defaults(settings), store.preferences, usage,
            cooldown=Cooldown(settings.cooldown_seconds, store.limits),
            concurrency=ConcurrencyLimit(settings.guild_concurrency, store.limits))
        cache = media_cache(settings)
        conversations = Conversations(store, omni, cache, streams=settings.process_replies)
        yield Services(settings, omni, captioner, store, cache, conversations,
                       store.preferences, usage, admission,
                       Privacy(store, cache, retention_days=settings.retention_days))
    finally:
        await store.close()
        await omni.aclose()
        await captioner.aclose()
