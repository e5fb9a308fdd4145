"""The line for Discord out of reach: which host could not be reached, never the token."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from omnicord.cogs.discord_internals import api_base


def unreachable(error: BaseException) -> str:
    """``Could not reach Discord at HOST (ErrorType)``: the host the connection was for
    (its REST API's, unless the error names another, such as the gateway's)."""
    return f"Could not reach Discord at {discord_host(error)} ({type(error).__name__})"


def discord_host(error: BaseException) -> str:
    """The host (and port, when not the default) a failed connection to Discord was for."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return _host_port(error.host, error.port)
    if isinstance(error, aiohttp.ClientResponseError) and error.request_info is not None:
        url = error.request_info.url
        return _host_port(url.host or "", url.port)
    parts = urlsplit(api_base())
    return _host_port(parts.hostname or "discord.com", parts.port)


def _host_port(host: str, port: int | None) -> str:
    return host if port in (None, 80, 443) else f"{host}:{port}"
