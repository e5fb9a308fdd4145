"""The connection to the model service: the SDK client and the mapping of its failures.

Every SDK or transport exception becomes one of the few ``UpstreamError`` types in
``omnicord.errors``, with a message fit to show a member. Secrets never appear in those messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import openai

try:  # openai 3.x runs on httpx2; older releases on httpx
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx as _http  # type: ignore[no-redef]

from omnicord.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ModelNotAvailable,
    RateLimited,
    StreamCutOff,
    UpstreamError,
    UpstreamUnavailable,
)
from omnicord.secrets import redact

#: Awaited before each request to the model service; may wait, or raise RateLimited.
Pace = Callable[[], Awaitable[None]]


async def unpaced() -> None:
    """No limit on the request rate."""


TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (_http.TransportError, _http.StreamError)
#: Everything the SDK or its transport raises when the service fails.
SDK_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, *TRANSPORT_ERRORS)

_MAX_SERVER_MESSAGE = 300
#: A whole reply may take this many times the request timeout (which bounds each read).
TOTAL_TIMEOUT_FACTOR = 4


def make_client(
    api_key: str, base_url: str, *, timeout: float, max_retries: int
) -> openai.AsyncOpenAI:
    """An async SDK client for an OpenAI-compatible endpoint."""
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
    )


async def stream_chunks(
    open_stream: Callable[[], Awaitable[Any]], *, model: str, total_timeout: float
) -> AsyncIterator[Any]:
    """The chunks of one streamed completion, the whole stream bounded by ``total_timeout``.

    The SDK's own timeout bounds each read; this bounds the reply, so a server trickling a
    token now and then cannot hold a request open for ever. Every failure (SDK, transport,
    an unreadable chunk, the deadline) becomes one ``UpstreamError``.
    """
    # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancel that lands as a chunk
    # arrives, and a stopped reply would run on to its end.
    deadline = asyncio.get_running_loop().time() + total_timeout
    started = False
    try:
        async with asyncio.timeout_at(deadline):
            stream = await open_stream()
        started = True
        async with stream:
            chunks = aiter(stream)
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                yield chunk
    except TimeoutError:
        raise UpstreamUnavailable(
            f"The model service took more than {total_timeout:.0f} s to answer; try again"
        ) from None
    except ValueError as error:  # a chunk that is not JSON, or not a completion chunk
        raise unreadable_reply() from error
    except SDK_ERRORS as error:
        raise map_sdk_error(error, model=model, streaming_started=started) from error


def unreadable_reply() -> UpstreamUnavailable:
    """The error for a reply Omnicord cannot parse."""
    return UpstreamUnavailable("The model service sent a reply that could not be read; try "
                               "again")


def _server_message(error: openai.APIError) -> tuple[str, str | None]:
    body: Any = error.body
    message = getattr(error, "message", "") or ""
    code = getattr(error, "code", None)
    if isinstance(body, dict):
        inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
        message = str(inner.get("message") or message)
        code = inner.get("code") or code
    message = redact(" ".join(message.split()))[:_MAX_SERVER_MESSAGE]
    return message, (str(code) if code else None)


def map_sdk_error(
    error: BaseException, *, model: str, streaming_started: bool = False
) -> UpstreamError:
    """Translate an SDK or transport exception into an Omnicord upstream error."""
    if isinstance(error, UpstreamError):
        return error
    if isinstance(error, openai.APITimeoutError):
        return UpstreamUnavailable(f"The model service{_at_host(error)} timed out; try again "
                                   "shortly")
    if streaming_started and isinstance(error, (openai.APIConnectionError, *TRANSPORT_ERRORS)):
        return StreamCutOff("The reply was cut off by the model service; ask again")
    if isinstance(error, (openai.APIConnectionError, *TRANSPORT_ERRORS)):
        return UpstreamUnavailable(f"Could not reach the model service{_at_host(error)}; try "
                                   "again shortly")
    if isinstance(error, openai.APIStatusError):
        return _from_status(error, model)
    if isinstance(error, openai.APIError):  # an error event inside the stream
        return _from_code(error, model)
    raise error


def _at_host(error: BaseException) -> str:
    """`` at HOST[:PORT]`` for the request that failed (never its key or path), or nothing
    when the error does not say."""
    try:
        url = getattr(getattr(error, "request", None), "url", None)
    except RuntimeError:  # httpx's errors raise it when they carry no request
        return ""
    host = getattr(url, "host", "") or ""
    port = getattr(url, "port", None)
    if not host:
        return ""
    return f" at {host}:{port}" if port else f" at {host}"


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
