"""Fetching attachments from Discord's CDN only, streamed, with size checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlparse

import aiohttp
from omnicord.errors import MediaError
from omnicord.media.tempfiles import too_large

CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK_BYTES = 1 << 16
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15, sock_read=60)


def check_cdn_url(url: str) -> None:
    """MediaError unless ``url`` is an https URL on Discord's own CDN."""
    parsed = urlparse(url)
    if parsed.scheme != "https" or (parsed.hostname or "").lower() not in CDN_HOSTS:
        raise MediaError("attachments are only fetched from Discord's own servers")


async def cdn_chunks(
    session: aiohttp.ClientSession, url: str, *, max_bytes: int,
    rewrite: Callable[[str], str] | None = None,
) -> AsyncIterator[bytes]:
    """The file at a Discord CDN ``url``, in chunks; MediaError on refusal or failure.

    ``rewrite`` lets tests serve the CDN from a local server; the host check applies to the
    original URL.
    """
    check_cdn_url(url)
    target = rewrite(url) if rewrite else url
    try:
        async with session.get(target, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                raise MediaError(f"Discord would not hand over the file (HTTP {response.status})")
            if (response.content_length or 0) > max_bytes:
                raise MediaError(too_large(max_bytes, response.content_length))
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                yield chunk
    except (aiohttp.ClientError, TimeoutError) as error:
        raise MediaError("the file could not be downloaded from Discord; try again") from error
