"""The connection to the model service: the SDK client and the mapping of its failures.

Every SDK or transport exception becomes one of the few ``UpstreamError`` types in
``bot.errors``, with a message fit to show a member. Secrets never appear in those messages.
"""

from __future__ import annotations

import re
from typing import Any

import openai

try:  # openai 3.x runs on httpx2; older releases on httpx
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx as _http  # type: ignore[no-redef]

from bot.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ModelNotAvailable,
    RateLimited,
    StreamCutOff,
    UpstreamError,
    UpstreamUnavailable,
)

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (_http.TransportError, _http.StreamError)

_SECRET = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|Bearer\s+\S+)", re.IGNORECASE)
_MAX_SERVER_MESSAGE = 300


def make_client(
    api_key: str, base_url: str, *, timeout: float, max_retries: int
) -> openai.AsyncOpenAI:
    """An async SDK client for an OpenAI-compatible endpoint."""
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
    )


def redact(text: str) -> str:
    """``text`` with anything that looks like an API key or bearer token masked."""
    return _SECRET.sub("[redacted]", text)


def _server_message(error: openai.APIError) -> tuple[str, str | None]:
    body: Any = error.body
    message = getattr(error, "message", "") or ""
    code = getattr(error, "code", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = str(inner.get("message") or message)
        code = inner.get("code") or code
    message = redact(" ".join(message.split()))[:_MAX_SERVER_MESSAGE]
    return message, (str(code) if code else None)


def map_sdk_error(
    error: Exception, *, model: str, streaming_started: bool = False
) -> UpstreamError:
    """Translate an SDK or transport exception into an Omnicord upstream error."""
    if isinstance(error, UpstreamError):
        return error
    if isinstance(error, openai.APITimeoutError):
        return UpstreamUnavailable("The model service timed out; try again shortly")
    if streaming_started and isinstance(error, (openai.APIConnectionError, *TRANSPORT_ERRORS)):
        return StreamCutOff("The reply was cut off by the model service; ask again")
    if isinstance(error, openai.APIConnectionError):
        return UpstreamUnavailable("Could not reach the model service; try again shortly")
    if isinstance(error, openai.APIStatusError):
        return _from_status(error, model)
    if isinstance(error, openai.APIError):  # an error event inside the stream
        return _from_code(error, model)
    if isinstance(error, TRANSPORT_ERRORS):
        return UpstreamUnavailable("Could not reach the model service; try again shortly")
    raise error


def _from_status(error: openai.APIStatusError, model: str) -> UpstreamError:
    message, code = _server_message(error)
    status = error.status_code
    if status in (401, 403):
        return AuthenticationFailed(
            "The model service refused the API key (check DASHSCOPE_API_KEY, its region and "
            f"its access to {model}): {message}",
            status=status,
            code=code,
        )
    if status == 404:
        return ModelNotAvailable(
            f"The model service does not offer {model!r} at this address: {message}",
            status=status,
            code=code,
        )
    if status == 429:
        return RateLimited(
            "The model service is rate limiting us or the quota is used up; try again in a "
            "minute",
            status=status,
            code=code,
        )
    if status >= 500:
        return UpstreamUnavailable(
            f"The model service failed (HTTP {status}); try again shortly",
            status=status,
            code=code,
        )
    return _bad_request(message, code, status)


def _from_code(error: openai.APIError, model: str) -> UpstreamError:
    message, code = _server_message(error)
    lowered = (code or "").lower()
    if "throttl" in lowered or "ratequota" in lowered:
        return RateLimited(
            "The model service is rate limiting us; try again in a minute", code=code
        )
    if "apikey" in lowered or "accessdenied" in lowered:
        return AuthenticationFailed(
            f"The model service refused the API key: {message}", code=code
        )
    if "modelnotfound" in lowered:
        return ModelNotAvailable(f"The model service does not offer {model!r}", code=code)
    if "internal" in lowered or "unavailable" in lowered:
        return UpstreamUnavailable("The model service failed mid-reply; try again", code=code)
    return _bad_request(message, code, None)


def _bad_request(message: str, code: str | None, status: int | None) -> BadRequest:
    if code and "datainspection" in code.lower():
        return ContentBlocked(
            "The model service's content filter refused this message or its reply",
            status=status,
            code=code,
        )
    detail = message or "no reason given"
    return BadRequest(
        f"The model service rejected the request: {detail}", status=status, code=code
    )
