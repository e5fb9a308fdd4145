"""Turning any failure into a short, friendly line for the member (never a traceback)."""

from __future__ import annotations

import logging

from omnicord.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    InputError,
    MediaError,
    ModelNotAvailable,
    OmnicordError,
    RateLimited,
    StreamCutOff,
    UpstreamError,
    UpstreamUnavailable,
)
from omnicord.i18n import DEFAULT_LANGUAGE, t, text
from omnicord.pseudonyms import member_tag, reveal
from omnicord.secrets import redact
from omnicord.store.errors import StoreUnavailable

log = logging.getLogger("omnicord")

_UPSTREAM = (
    (AuthenticationFailed, text("errors.auth_failed")),
    (ModelNotAvailable, text("errors.model_unavailable")),
    (RateLimited, text("errors.rate_limited")),
    (ContentBlocked, text("errors.content_blocked")),
    (StreamCutOff, text("errors.stream_cut")),
    (UpstreamUnavailable, text("errors.upstream_unavailable")),
)


def friendly(error: BaseException, *, attachment: str | None = None,
             language: str = DEFAULT_LANGUAGE) -> str:
    """A one-line explanation of ``error`` fit to show a member (secrets masked), in
    ``language`` (English where the error carries no catalogue message)."""
    return redact(_explain(error, attachment, language))


def log_refusal(what: str, error: BaseException, *, member: object) -> None:
    """One WARNING line for ``member``'s request refused for a known reason (cooldown, cap,
    access, a file that cannot be used, the model service refusing …): the reason, never the
    message; the member by pseudonym (their id in a DEBUG line before it). Unexpected errors
    are logged with their traceback by ``friendly``."""
    if isinstance(error, OmnicordError):
        reveal(log, member)
        log.warning("refused %s for member %s: %s: %s", what, member_tag(member),
                    type(error).__name__, _reason(error))


def _reason(error: OmnicordError) -> str:
    # The service's own words may quote what it was sent: the log keeps its status and code.
    if isinstance(error, BadRequest) and not isinstance(error, ContentBlocked):
        return f"The model service rejected the request (HTTP {error.status or '-'}, " \
               f"code {error.code or '-'})"
    return str(error).rstrip(".")


#: A store that cannot be reached: the member hears nothing of the server's database.
STORE_DOWN = text("errors.store_down")


def _explain(error: BaseException, attachment: str | None, language: str) -> str:
    if isinstance(error, StoreUnavailable):
        return STORE_DOWN.render(language)
    if isinstance(error, MediaError) and attachment:
        return t(language, "errors.couldnt_use", name=attachment,
                 reason=_said(error, language).rstrip("."))
    if isinstance(error, InputError):
        said = _said(error, language)
        return said[:1].upper() + said[1:] + _full_stop(said, language)
    for kind, message in _UPSTREAM:
        if isinstance(error, kind):
            return message.render(language)
    if isinstance(error, BadRequest):
        return f"{error}."  # the service's own words
    if isinstance(error, UpstreamError):
        return t(language, "errors.upstream_failed")
    log.exception("unexpected error", exc_info=error)
    return t(language, "errors.unexpected")


def _full_stop(said: str, language: str) -> str:
    """What ends a sentence that lacks its stop: ``。`` in Japanese and Chinese."""
    if said.endswith((".", "!", "?", "。", "！", "？")):
        return ""
    return "。" if language in ("ja", "zh-CN", "zh-TW") else "."


def _said(error: OmnicordError, language: str) -> str:
    """The error's message in ``language`` (its English when raised with a plain string)."""
    return error.text.render(language) if error.text is not None else str(error)
