"""Sending native Discord voice messages, which discord.py 2.7 has no public API for.

A voice message is an ordinary ``POST /channels/{id}/messages`` whose body has flags
``IS_VOICE_MESSAGE`` (8192), no content and no embeds, and exactly one audio attachment whose
entry in ``payload_json`` carries ``duration_secs`` and a base64 ``waveform`` (one byte per
point, at most 256 points). ``discord.File`` cannot carry those two fields and
``handle_message_parameters`` sends every file as ``application/octet-stream``, so
``send_voice_message`` builds that one request's body and has ``discord_internals.post_message``
hand it to discord.py's own HTTP client, which keeps rate limiting, retries and error mapping.
Drop both when discord.py ships support for sending voice messages.

Discord refuses voice messages with codes 50159-50162 and 50173, or with 50013 when the bot
lacks SEND_VOICE_MESSAGES; ``send_voice_or_file`` then sends the audio as a plain file.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import discord
from omnicord.cogs.discord_internals import post_message, target_channel

__all__ = [
    "MAX_WAVEFORM_POINTS",
    "VOICE_REFUSAL_CODES",
    "VoiceMessageRefused",
    "send_voice_message",
    "send_voice_or_file",
]

#: Discord keeps at most this many waveform points (one byte each).
MAX_WAVEFORM_POINTS = 256
#: Error codes meaning "not as a voice message" (50173: not allowed in this channel).
VOICE_REFUSAL_CODES = frozenset({50159, 50160, 50161, 50162, 50173})
_MISSING_PERMISSIONS = 50013
_VOICE_CONTENT_TYPE = "audio/ogg"


class VoiceMessageRefused(Exception):
    """Discord would not take the audio as a voice message (send it as a plain file instead)."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


def _voice_permission(channel: Any) -> bool | None:
    """Whether the bot may send voice messages in ``channel``; ``None`` when unknown (DMs)."""
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None)
    if me is None or not hasattr(channel, "permissions_for"):
        return None
    return channel.permissions_for(me).send_voice_messages


def _payload(filename: str, duration: float, waveform: bytes,
             reply_to: discord.Message | None) -> dict[str, Any]:
    """The ``payload_json`` of a voice message."""
    allowed_mentions = discord.AllowedMentions.none().to_dict()
    allowed_mentions["replied_user"] = False
    payload: dict[str, Any] = {
        "flags": discord.MessageFlags(voice=True).value,
        "allowed_mentions": allowed_mentions,
        "attachments": [{
            "id": "0",
            "filename": filename,
            "duration_secs": round(float(duration), 3),
            "waveform": base64.b64encode(waveform).decode("ascii"),
        }],
    }
    if reply_to is not None:
        reference = reply_to.to_reference(fail_if_not_exists=False)
        payload["message_reference"] = reference.to_dict()
    return payload


def _check_arguments(ogg_opus: bytes, duration: float, waveform: bytes) -> None:
    if not ogg_opus:
        raise ValueError("voice message audio is empty")
    if not duration > 0:
        raise ValueError(f"voice message duration must be positive, not {duration!r}")
    if not 0 < len(waveform) <= MAX_WAVEFORM_POINTS:
        raise ValueError(f"waveform must have 1-{MAX_WAVEFORM_POINTS} points, not {len(waveform)}")


async def send_voice_message(channel: discord.abc.Messageable, ogg_opus: bytes, *,
                             duration: float, waveform: bytes,
                             reply_to: discord.Message | None = None,
                             filename: str = "voice-message.ogg") -> discord.Message:
    """Send ``ogg_opus`` (OGG/Opus, 48 kHz mono) as a native voice message; return it.

    The message has no content and mentions nobody; ``reply_to`` makes it a reply that does not
    ping the replied-to author (and is sent as a plain message if that one was deleted).

    Raises ``VoiceMessageRefused`` when Discord will not take a voice message here (codes
    50159-50162, 50173, or 50013 while the bot lacks SEND_VOICE_MESSAGES, which is checked
    before sending when the guild permissions are known), ``ValueError`` for bad arguments, and
    discord.py's ``HTTPException`` family for anything else.
    """
    _check_arguments(ogg_opus, duration, waveform)
    target = await target_channel(channel)
    if _voice_permission(target) is False:
        raise VoiceMessageRefused("missing the Send Voice Messages permission",
                                  code=_MISSING_PERMISSIONS)
    file = discord.File(io.BytesIO(ogg_opus), filename=filename)
    payload = _payload(filename, duration, waveform, reply_to)
    try:
        return await post_message(target, payload, file, content_type=_VOICE_CONTENT_TYPE)
    except discord.HTTPException as exc:
        if exc.code in VOICE_REFUSAL_CODES:
            raise VoiceMessageRefused(exc.text or "voice message refused", code=exc.code) from exc
        if exc.code == _MISSING_PERMISSIONS and _voice_permission(target) is not True:
            raise VoiceMessageRefused(exc.text or "missing permissions", code=exc.code) from exc
        raise
    finally:
        file.close()


async def send_voice_or_file(channel: discord.abc.Messageable, ogg_opus: bytes, *,
                             duration: float, waveform: bytes,
                             reply_to: discord.Message | None = None,
                             filename: str = "voice-message.ogg",
                             ) -> tuple[discord.Message, bool]:
    """Send a voice message, or the same .ogg as a plain file attachment if it is refused.

    Returns ``(message, was_voice)``. The fallback is an ordinary message (a non-pinging reply
    when ``reply_to`` is given) with mentions disabled.
    """
    try:
        message = await send_voice_message(channel, ogg_opus, duration=duration,
                                           waveform=waveform, reply_to=reply_to,
                                           filename=filename)
    except VoiceMessageRefused:
        pass
    else:
        return message, True
    file = discord.File(io.BytesIO(ogg_opus), filename=filename)
    none = discord.AllowedMentions.none()
    if reply_to is None:
        return await channel.send(file=file, allowed_mentions=none), False
    reference = reply_to.to_reference(fail_if_not_exists=False)
    message = await channel.send(file=file, reference=reference, mention_author=False,
                                 allowed_mentions=none)
    return message, False
