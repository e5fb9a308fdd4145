"""Wiring the core together from settings: clients, store, media cache and conversations.

The command line and the Discord cogs both build their services here, so they behave alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from omnicord.conversation.respond import Conversations
from omnicord.media.cache import MediaCache
from omnicord.media.captions import audio_describer
from omnicord.media.prepare import PrepareOptions
from omnicord.media.types import AudioDescriber
from omnicord.model.captioner import CaptionerClient
from omnicord.model.omni import OmniClient
from omnicord.settings import Settings
from omnicord.store import SqliteStore


@dataclass
class Services:
    """Everything a front end needs to answer members."""

    settings: Settings
    omni: OmniClient
    captioner: CaptionerClient
    store: SqliteStore
    cache: MediaCache
    conversations: Conversations

    @property
    def describe_audio(self) -> AudioDescriber:
        """Captions a media file's sound, for videos shown as frames."""
        return audio_describer(self.captioner)

    @property
    def prepare_options(self) -> PrepareOptions:
        """The pipeline's own limits, from settings."""
        return prepare_options(self.settings)


def prepare_options(settings: Settings) -> PrepareOptions:
    """The media pipeline's own limits (input size, text cap) from settings."""
    return PrepareOptions(max_input_bytes=settings.max_input_mb * 1024 * 1024,
                          text_limit=settings.text_limit)


def media_cache(settings: Settings) -> MediaCache:
    """The media cache the settings describe."""
    return MediaCache(
        settings.media_cache_dir,
        max_bytes=settings.cache_max_mb * 1024 * 1024,
        max_age_seconds=settings.cache_max_days * 86_400,
    )


@asynccontextmanager
async def open_services(
    settings: Settings, *, db_path: str | None = None
) -> AsyncIterator[Services]:
    """Open clients and the store (``db_path`` overrides OMNICORD_DB); close them after."""
    api_key = settings.require_api_key()
    common = {"timeout": settings.request_timeout, "max_retries": settings.max_retries}
    omni = OmniClient(api_key, settings.base_url, **common)
    captioner = CaptionerClient(api_key, settings.base_url, model=settings.caption_model, **common)
    store = SqliteStore(db_path or settings.db_path)
    try:
        await store.open()
        cache = media_cache(settings)
        yield Services(settings, omni, captioner, store, cache, Conversations(store, omni, cache))
    finally:
        await store.close()
        await omni.aclose()
        await captioner.aclose()
