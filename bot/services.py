"""The composition root's long-lived half: the services a front end answers members with.

The Discord cogs' runtime and ``omnicord ask`` (and ``transcribe --member``) open them here;
every piece comes from ``omnicord.build``, as the other commands' pieces do, so the bot and
the command line behave alike: model clients, the store, the media cache, conversations,
preferences, the usage ledger, the admission gate and privacy.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.conversation.cache_sweep import MIN_IDLE_SECONDS, CacheSweep
from omnicord.conversation.captioning import audio_describer
from omnicord.conversation.privacy import DataFacts, Privacy, data_statement
from omnicord.conversation.respond import Conversations
from omnicord.i18n import DEFAULT_LANGUAGE
from omnicord.media.cache import MediaCache
from omnicord.media.prepare import PrepareOptions
from omnicord.media.types import AudioDescriber
from omnicord.model.captioner import CaptionerClient
from omnicord.model.omni import OmniClient
from omnicord.policy.access import Access
from omnicord.policy.admission import Admission
from omnicord.policy.throttle import forget_expired
from omnicord.policy.usage import UsageLedger
from omnicord.settings import Settings
from omnicord.store import Store
from omnicord.store.interface import PreferenceStore
from omnicord.store.records import Expired

if TYPE_CHECKING:  # the realtime client (aiohttp) loads only for live talk
    from omnicord.realtime.client import RealtimeClient

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

    def data_statement(self, language: str = DEFAULT_LANGUAGE) -> str:
        """What is kept about members, where, for how long, and who else sees it (in
        ``language``)."""
        return data_statement(DataFacts(
            base_url=self.settings.base_url, retention_days=self.settings.retention_days,
            backend=self.store.backend, cache_days=self.settings.cache_max_days), language)

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

    @functools.cached_property
    def realtime(self) -> RealtimeClient:
        """The realtime model client of live talk (built on first use: the command line
        never needs it)."""
        return build.realtime_client(self.settings, build.upstream_pace(self.settings,
                                                                        self.store.limits))

    async def close_realtime(self) -> None:
        """Close the realtime client, if it was ever built."""
        client = self.__dict__.pop("realtime", None)
        if client is not None:
            await client.aclose()

    @property
    def describe_audio(self) -> AudioDescriber:
        """Captions a media file's sound, for videos shown as frames."""
        return audio_describer(self.captioner)

    @property
    def prepare_options(self) -> PrepareOptions:
        """The pipeline's own limits, from settings."""
        return build.prepare_options(self.settings)


@asynccontextmanager
async def open_services(
    settings: Settings, *, database: str | None = None
) -> AsyncIterator[Services]:
    """Open the store and clients (``database`` overrides OMNICORD_DB); close them after.
    The settings' secrets are masked from here on (by the builders), a host's own included."""
    settings.require_api_key()  # before the store opens: a missing key is one error
    build.load_models(settings)  # a host's own Settings never went through load_settings
    async with build.open_store(settings, database=database) as store:
        pace = build.upstream_pace(settings, store.limits)  # shared by all on this database
        async with (aclosing(build.omni_client(settings, pace)) as omni,
                    aclosing(build.captioner_client(settings, pace)) as captioner):
            usage = build.usage_ledger(settings, store)
            cache = build.media_cache(settings)
            conversations = Conversations(store, omni, cache, streams=settings.process_replies)
            services = Services(settings, omni, captioner, store, cache, conversations,
                                store.preferences, usage, build.admission(settings, store, usage),
                                build.privacy(settings, store, cache))
            try:
                yield services
            finally:
                await services.close_realtime()
