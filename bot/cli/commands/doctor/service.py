"""The doctor's online checks: one tiny request to the model service, and Discord (whose
checks live in the plugin, ``omnicord.cogs.diagnose``, imported only here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from urllib.parse import urlsplit

from omnicord import build
from omnicord.checks import FAIL, OK, Check
from omnicord.errors import (
    AuthenticationFailed,
    ModelNotAvailable,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from omnicord.secrets import mask_url
from omnicord.settings import DEFAULT_BASE_URL, Settings

BEIJING_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
#: Model Studio regions by host: (name, the other region's base URL, its name).
REGIONS = {
    "dashscope-intl.aliyuncs.com": ("international (Singapore) region", BEIJING_BASE_URL,
                                    "Beijing"),
    "dashscope.aliyuncs.com": ("mainland China (Beijing) region", DEFAULT_BASE_URL,
                               "Singapore"),
}
#: The longest the doctor waits for the model service's whole reply.
PROBE_TIMEOUT = 30.0
SUBJECT = "model service"


async def check_model_service(settings: Settings) -> list[Check]:
    """Send one text-only request of one output token with this key, base URL and model."""
    if settings.api_key is None:
        return [Check(FAIL, SUBJECT, "DASHSCOPE_API_KEY is not set", "put your Model Studio "
                      "API key in .env or the environment")]
    from omnicord.model.rules import ChatRequest

    request = ChatRequest(model=settings.model, max_tokens=1,
                          messages=[{"role": "user", "content": "Reply with OK."}])
    client = build.omni_client(settings, timeout=min(settings.request_timeout, PROBE_TIMEOUT),
                               max_retries=0)
    try:
        async with aclosing(client):
            async with asyncio.timeout(PROBE_TIMEOUT):
                await _drain(client.stream(request))
    except TimeoutError:
        return [service_failure(UpstreamUnavailable(f"no reply within {PROBE_TIMEOUT:.0f} s"),
                                settings)]
    except UpstreamError as error:
        return [service_failure(error, settings)]
    return [Check(OK, SUBJECT, f"{settings.model} answered at {mask_url(settings.base_url)} "
                  f"({region_of(settings.base_url)})")]


async def _drain(events: AsyncIterator[object]) -> None:
    async for _ in events:
        pass


def region_of(base_url: str) -> str:
    """The Model Studio region a base URL belongs to."""
    host = urlsplit(base_url).hostname or ""
    return REGIONS[host][0] if host in REGIONS else "a custom endpoint"


def service_failure(error: UpstreamError, settings: Settings) -> Check:
    """The FAIL line for a failed request: what went wrong, where, and how to fix it."""
    base, model = mask_url(settings.base_url), settings.model
    if isinstance(error, AuthenticationFailed):
        return Check(FAIL, SUBJECT, f"DASHSCOPE_API_KEY was refused (HTTP {error.status}) by "
                     f"{base} ({region_of(base)})", _key_fix(base))
    if isinstance(error, ModelNotAvailable):
        return Check(FAIL, SUBJECT, f"{base} does not offer {model} (HTTP 404)",
                     "check OMNICORD_MODEL, and that DASHSCOPE_BASE_URL is the OpenAI-compatible "
                     "endpoint (ending in /compatible-mode/v1)")
    if isinstance(error, RateLimited):
        return Check(FAIL, SUBJECT, f"the key works, but {base} is rate limiting it or its "
                     "quota is used up", "check the quota in the Model Studio console")
    if isinstance(error, UpstreamUnavailable) and error.status is None:
        return Check(FAIL, SUBJECT, f"could not reach {base}: {error}",
                     "check DASHSCOPE_BASE_URL and that this machine can reach it")
    return Check(FAIL, SUBJECT, f"{base} answered {model}'s request with an error: {error}",
                 "check DASHSCOPE_BASE_URL and OMNICORD_MODEL; try again later")


def _key_fix(base_url: str) -> str:
    host = urlsplit(base_url).hostname or ""
    if host not in REGIONS:
        return ("use a key issued for this endpoint; Model Studio keys work only in their own "
                f"region ({DEFAULT_BASE_URL} or {BEIJING_BASE_URL})")
    name, other_url, other = REGIONS[host]
    return (f"keys work only in their own region: use a key from the {name}'s console, or for a "
            f"{other} key set DASHSCOPE_BASE_URL={other_url}")


async def check_discord(settings: Settings) -> list[Check]:
    """The token, the Message Content intent and the bot's permissions in each server."""
    if settings.discord_token is None:
        return [Check(FAIL, "Discord", "DISCORD_TOKEN is not set: needed for `omnicord run`",
                      "put the bot token from the developer portal (Bot → Reset Token) in .env "
                      "or the environment")]
    from omnicord.cogs.diagnose import diagnose_discord

    return await diagnose_discord(settings.discord_token.get_secret_value(),
                                  message_content=settings.message_content)
