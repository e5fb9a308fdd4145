"""The builders: every piece Omnicord runs on, made from ``Settings`` one way only.

The command line's commands and the bot's runtime (``omnicord.services`` assembles its
``Services`` from these) get their model clients, store, limits, usage ledger and privacy
service here, so a setting means the same everywhere: every model client is paced by
OMNICORD_UPSTREAM_RPM, every ledger prices with OMNICORD_PRICES over the defaults. Building
anything from a ``Settings`` masks its secrets first, a host bot's own ``Settings`` included.

Each builder imports what it builds when called: a command pays only for what it uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from omnicord.secrets import register

if TYPE_CHECKING:
    from omnicord.conversation.privacy import Privacy
    from omnicord.media.cache import MediaCache
    from omnicord.media.prepare import PrepareOptions
    from omnicord.model.captioner import CaptionerClient
    from omnicord.model.catalog import Price
    from omnicord.model.omni import OmniClient
    from omnicord.policy.admission import Admission
    from omnicord.policy.budgets import Budgets
    from omnicord.policy.preferences import Defaults
    from omnicord.policy.throttle import UpstreamPace
    from omnicord.policy.usage import UsageLedger
    from omnicord.realtime.client import RealtimeClient
    from omnicord.settings import Settings
    from omnicord.store.interface import Limits, Store


def mask_secrets(settings: Settings) -> None:
    """Mask the key, the token and the secrets in the URLs of ``settings`` by value in every
    message and log from now on (again for the same values: nothing changes)."""
    register(*settings.secret_values())


def load_models(settings: Settings) -> None:
    """Make OMNICORD_MODELS_FILE's catalog (the built-ins alone without one) the process's;
    idempotent. ``load_settings`` does it; ``open_services`` does it for a host's own
    ``Settings``. ModelsFileError (a ConfigError) lists the file's mistakes."""
    from omnicord.model.models_file import install

    install(settings.models_file)


def upstream_pace(settings: Settings, limits: Limits | None = None) -> UpstreamPace:
    """OMNICORD_UPSTREAM_RPM, counted in ``limits``: a store's, shared by every process using
    that database; without one, this process's own count."""
    from omnicord.policy.throttle import UpstreamPace

    return UpstreamPace(settings.upstream_rpm, limits)


def omni_client(settings: Settings, pace: UpstreamPace | None = None, *,
                timeout: float | None = None, max_retries: int | None = None) -> OmniClient:
    """The chat model's client, paced (by this process's own count unless ``pace`` is given);
    ``timeout`` and ``max_retries`` override the settings' (the doctor's one quick probe)."""
    from omnicord.model.omni import OmniClient

    mask_secrets(settings)
    return OmniClient(settings.require_api_key(), settings.base_url,
                      timeout=settings.request_timeout if timeout is None else timeout,
                      max_retries=settings.max_retries if max_retries is None else max_retries,
                      pace=pace or upstream_pace(settings))


def captioner_client(settings: Settings, pace: UpstreamPace | None = None) -> CaptionerClient:
    """The captioner's client (OMNICORD_CAPTION_MODEL), paced like the chat model's."""
    from omnicord.model.captioner import CaptionerClient

    mask_secrets(settings)
    return CaptionerClient(settings.require_api_key(), settings.base_url,
                           model=settings.caption_model, timeout=settings.request_timeout,
                           max_retries=settings.max_retries,
                           pace=pace or upstream_pace(settings))


def realtime_client(settings: Settings, pace: UpstreamPace | None = None, *,
                    max_session_seconds: float | None = None) -> RealtimeClient:
    """The realtime (live talk) client for OMNICORD_REALTIME_URL, paced like the other model
    clients (one request per session opened); ``max_session_seconds`` overrides the model's
    session limit (tests)."""
    from omnicord.realtime.client import RealtimeClient

    mask_secrets(settings)
    return RealtimeClient(url=settings.realtime_url, api_key=settings.require_api_key(),
                          pace=pace or upstream_pace(settings),
                          connect_timeout=min(settings.request_timeout, 30.0),
                          max_session_seconds=max_session_seconds)


@asynccontextmanager
async def open_store(settings: Settings, *, database: str | None = None,
                     pool_size: int | None = None, migrate: bool = True
                     ) -> AsyncIterator[Store]:
    """The store OMNICORD_DB (or ``database``) names, opened (and migrated unless told not
    to) for the block; ``pool_size`` overrides OMNICORD_DB_POOL_SIZE (1 for one command)."""
    from omnicord.store import open_store as open_database

    mask_secrets(settings)
    async with open_database(database or settings.database, migrate=migrate,
                             pool_size=pool_size or settings.db_pool_size) as store:
        yield store


def prices(settings: Settings) -> dict[str, Price]:
    """The price list: the models' published prices, with OMNICORD_PRICES over them."""
    from omnicord.policy.usage import default_prices, parse_prices

    return default_prices() | parse_prices(settings.prices)


def usage_ledger(settings: Settings, store: Store) -> UsageLedger:
    """The usage ledger over ``store``, priced by ``prices``."""
    from omnicord.policy.usage import UsageLedger

    return UsageLedger(store, prices(settings))


def defaults(settings: Settings) -> Defaults:
    """The bot-wide defaults members and servers start from."""
    from omnicord.policy.preferences import Defaults
    from omnicord.store.records import ReplyMode

    return Defaults(model=settings.model, voice=settings.voice,
                    reply_mode=ReplyMode(settings.reply_mode),
                    daily_token_cap=settings.daily_token_cap or None)


def admission(settings: Settings, store: Store, usage: UsageLedger) -> Admission:
    """The request gate: the defaults, the cooldown, the per-server concurrency and the
    monthly budgets."""
    from omnicord.policy.admission import Admission
    from omnicord.policy.throttle import ConcurrencyLimit, Cooldown

    return Admission(defaults(settings), store.preferences, usage,
                     cooldown=Cooldown(settings.cooldown_seconds, store.limits),
                     concurrency=ConcurrencyLimit(settings.guild_concurrency, store.limits),
                     budgets=budgets(settings, store, usage))


def budgets(settings: Settings, store: Store, usage: UsageLedger) -> Budgets:
    """The monthly budgets: the servers' own and the bot-wide ones, priced as ``usage``."""
    from omnicord.policy.budgets import Budgets

    return Budgets(store, usage.prices, bot_tokens=settings.monthly_budget_tokens,
                   bot_dollars=settings.monthly_budget_usd)


def media_cache(settings: Settings) -> MediaCache:
    """The prepared-media cache (OMNICORD_CACHE_DIR, OMNICORD_CACHE_MAX_MB and _DAYS)."""
    from omnicord.media.cache import MediaCache

    return MediaCache(settings.media_cache_dir, max_bytes=settings.cache_max_mb * 1024 * 1024,
                      max_age_seconds=settings.cache_max_days * 86_400)


def privacy(settings: Settings, store: Store, cache: MediaCache | None = None) -> Privacy:
    """Erasures and retention over ``store`` and the media cache (the settings' own unless
    ``cache`` is given)."""
    from omnicord.conversation.privacy import Privacy

    return Privacy(store, cache or media_cache(settings),
                   retention_days=settings.retention_days)


def prepare_options(settings: Settings) -> PrepareOptions:
    """The media pipeline's own limits (input size, text cap)."""
    from omnicord.media.prepare import PrepareOptions

    return PrepareOptions(max_input_bytes=settings.max_input_mb * 1024 * 1024,
                          text_limit=settings.text_limit)


def configure_ffmpeg(settings: Settings) -> None:
    """Make the media pipeline use OMNICORD_FFMPEG; ConfigError naming it if invalid."""
    from omnicord.media.ffmpeg import configure_ffmpeg as use_ffmpeg

    use_ffmpeg(settings.ffmpeg)
