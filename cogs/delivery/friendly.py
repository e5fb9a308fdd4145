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
from omnicord.i18n import DEFAULT_LANGUAGE
from omnicord.pseudonyms import member_tag, reveal
from omnicord.secrets import redact
from omnicord.store.errors import StoreUnavailable

log = logging.getLogger("omnicord")

_UPSTREAM = (
    (AuthenticationFailed, "The model service refused this bot's API key; a server admin or "
     "the bot's owner needs to check it."),
    (ModelNotAvailable, "The configured model is not available right now; an admin can check "
     "`/omni status`."),
    (RateLimited, "The model service is busy (rate limited); please try again in a minute."),
    (ContentBlocked, "The model service's content filter declined this message."),
    (StreamCutOff, "The reply was cut off by the model service; please ask again."),
    (UpstreamUnavailable, "The model service is not answering right now; please try again "
     "shortly."),
)


def friendly(error: BaseException, *, attachment: str | None = None,
             language: str = DEFAULT_LANGUAGE) -> str:
    """A one-line explanation of ``error`` fit to show a member (secrets masked), in
    ``language`` where the error was raised with a catalogue message."""
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
STORE_DOWN = "Omnicord's database is not answering right now; please try again in a minute."


def _explain(error: BaseException, attachment: str | None, language: str) -> str:
    if isinstance(error, StoreUnavailable):
        return STORE_DOWN
    if isinstance(error, MediaError) and attachment:
        return f"I couldn't use **{attachment}**: {error}."
    if isinstance(error, InputError):
        text = error.text.render(language) if error.text is not None else str(error)
        return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
    for kind, message in _UPSTREAM:
        if isinstance(error, kind):
            return message
    if isinstance(error, BadRequest):
        return f"{error}."
    if isinstance(error, UpstreamError):
        return "The model service failed to answer; please try again."
    log.exception("unexpected error", exc_info=error)
    return "Something went wrong on my side; please try again."
