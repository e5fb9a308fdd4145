"""The errors Omnicord raises, each carrying a message fit to show a person.

Two families: ``InputError`` (our side refused: bad settings, bad input, a request the API
would reject; nothing was sent) and ``UpstreamError`` (the model service failed).

An error may be raised with a catalogue message (``omnicord.i18n.text``) instead of a string:
``str(error)`` is then its English, and ``error.text`` lets whoever shows it to a member
render it in the member's language.
"""

from __future__ import annotations

from typing import Any

from omnicord.i18n.text import Text


class OmnicordError(Exception):
    """Base class; ``str(error)`` is a short, user-presentable sentence."""

    def __init__(self, message: str | Text = "", *args: Any) -> None:
        super().__init__(str(message), *args)
        #: The message as a catalogue entry, when it was raised as one.
        self.text: Text | None = message if isinstance(message, Text) else None


class InputError(OmnicordError):
    """Something we were given cannot be used; nothing was sent upstream."""


class ConfigError(InputError):
    """A setting is missing or invalid; the message names the setting."""


class RequestRefused(InputError):
    """The request breaks a rule of the model's API, so it was not sent."""


class MediaError(InputError):
    """An attachment could not be read or converted."""


class UpstreamError(OmnicordError):
    """The model service failed to answer."""

    def __init__(self, message: str | Text, *, status: int | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationFailed(UpstreamError):
    """The API key was refused (401/403)."""


class ModelNotAvailable(UpstreamError):
    """The service does not know the model, or this key cannot use it (404)."""


class RateLimited(UpstreamError):
    """Too many requests or quota exhausted (429)."""


class BadRequest(UpstreamError):
    """The service rejected the request (400); the message includes the server's reason."""


class ContentBlocked(BadRequest):
    """The service's content moderation refused the input or output."""


class UpstreamUnavailable(UpstreamError):
    """The service is down, overloaded, unreachable or timed out."""


class StreamCutOff(UpstreamError):
    """The reply stream ended before the model finished."""
