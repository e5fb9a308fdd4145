"""Secrets masked by value wherever text leaves Omnicord: CLI output, logs, Discord messages.

Every ``Settings`` registers its API key, Discord token and the passwords in its URLs here
when it is built (a host bot's own ``Settings`` included), whatever their shape. ``redact``
masks those values, and anything shaped like a key or a bearer token besides. ``mask_url`` is
the one way a URL is shown: its passwords, tokens and keys masked.

In the log, a record factory masks Omnicord's own records (registered values and key shapes)
and any other record only where it holds a registered value, its traceback included, before
any handler sees it. A host's record that holds none of Omnicord's secrets is left exactly as
the host made it (the same ``msg`` and ``args``); Omnicord's own handlers mask key shapes in
everything they write (``omnicord.logs``).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import unquote, unquote_plus

MASK = "[redacted]"
URL_MASK = "***"
_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|Bearer\s+\S+)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

_secrets: list[str] = []
_lock = threading.Lock()
_installed = False


def register(*values: str | None) -> None:
    """Mask these values from now on (and install the log masking, once)."""
    with _lock:
        for value in values:
            if value and len(value.strip()) >= _MIN_SECRET_LENGTH and value not in _secrets:
                _secrets.append(value.strip())
        _secrets.sort(key=len, reverse=True)  # a secret containing another goes first
    _install_log_masking()


def redact(text: str) -> str:
    """``text`` with every registered secret and anything shaped like a key masked."""
    return _PATTERN.sub(MASK, redact_registered(text))


def redact_registered(text: str) -> str:
    """``text`` with every registered secret masked (shapes alone are left: not ours)."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _install_log_masking() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _mask(record)
        return record

    logging.setLogRecordFactory(masked_record)


def _mask(record: logging.LogRecord) -> None:
    """Mask a record in place where it holds a secret; otherwise leave it untouched."""
    name = record.name or ""  # logging.makeLogRecord builds one without a name first
    ours = name == "omnicord" or name.startswith("omnicord.")
    masking = redact if ours else redact_registered
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it for logging to report
        return
    masked = masking(message)
    if masked != message:  # otherwise msg and args stay as they were made
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        trace = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if masking(trace) != trace:
            record.exc_text = masking(trace)


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$", re.DOTALL)
#: A query parameter holding a secret (``password=``, ``sslpassword=``, ``api_key=``, …). Its
#: value runs to the next ``&``: an unencoded ``#`` in it is part of it, not a fragment.
_SECRET_PARAMETER = re.compile(
    r"([?&][^=&?#]*?(?:pass|passwd|password|pwd|secret|token|key|auth|credentials?|signature"
    r"|sig)=)([^&]*)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` fit to show: the password of its userinfo and every secret query parameter
    replaced by ``***``, even when the URL is too broken to parse. Not a URL: unchanged."""
    parts = _url_parts(url)
    if parts is None:
        return url
    scheme, user, password, rest = parts
    userinfo = f"{user}:{URL_MASK}@" if password is not None else user
    return scheme + userinfo + _SECRET_PARAMETER.sub(rf"\g<1>{URL_MASK}", rest)


def url_secrets(url: str) -> list[str]:
    """Every password, token or key in ``url`` (userinfo and query), as written and
    percent-decoded: what ``register`` needs to mask them by value."""
    parts = _url_parts(url)
    if parts is None:
        return []
    _, _, password, rest = parts
    values = [password] if password else []
    values += [match.group(2) for match in _SECRET_PARAMETER.finditer(rest) if match.group(2)]
    found: list[str] = []
    for value in values:
        for form in (value, unquote(value), unquote_plus(value)):
            if form not in found:
                found.append(form)
    return found


def url_password(url: str) -> str | None:
    """The userinfo password as written, found as ``mask_url`` finds it (None: there is none)."""
    parts = _url_parts(url)
    return None if parts is None else parts[2]


def _url_parts(url: str) -> tuple[str, str, str | None, str] | None:
    """``(scheme://, user + "@" or "", password or None, the rest)``; None if not a URL.

    A password may hold an unencoded ``@``, ``/``, ``?`` or ``#``, so the userinfo runs to the
    URL's last ``@``: an ``@`` further on (in a query, say) masks too much, never too little.
    """
    match = _URL.match(url)
    if match is None:
        return None
    scheme, rest = match.groups()
    if rest.startswith("/"):  # no authority: sqlite:///path
        return scheme, "", None, rest
    userinfo, at, after = rest.rpartition("@")
    if at and ":" in userinfo:
        user, _, password = userinfo.partition(":")
        return scheme, user, password, after
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    user, at, _ = authority.rpartition("@")  # a user without a password
    return scheme, f"{user}@" if at else "", None, rest[len(user) + 1:] if at else rest
