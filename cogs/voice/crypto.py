"""Transport decryption of members' voice packets, for the modes discord.py 2.7 negotiates.

discord.py offers ``aead_xchacha20_poly1305_rtpsize`` first, then the deprecated
``xsalsa20_poly1305_lite``, ``_suffix`` and plain ``xsalsa20_poly1305`` (which Discord no
longer offers). ``aead_aes256_gcm_rtpsize`` is not among discord.py's modes, so it is never
negotiated, and PyNaCl 1.5 has no AES-256-GCM either: it is refused here by name.

Layouts (Discord's voice docs): the "rtpsize" modes leave the RTP header, its CSRCs and the
4-byte extension header in the clear and authenticate them as associated data; the extension
body, payload and padding are encrypted, and a 4-byte nonce counter follows (zero-padded to
the cipher's nonce size). The old xsalsa20 modes encrypt everything after the fixed header and
CSRCs (the whole extension included): ``_lite`` with a 4-byte counter nonce at the end,
``_suffix`` with a 24-byte nonce at the end, the plain mode with the 12-byte RTP header as nonce.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.secret
from omnicord.cogs.voice.rtp import FIXED_HEADER, RtpPacket

XCHACHA = "aead_xchacha20_poly1305_rtpsize"
AES_GCM = "aead_aes256_gcm_rtpsize"
SUPPORTED_MODES = (XCHACHA, "xsalsa20_poly1305_lite", "xsalsa20_poly1305_suffix",
                   "xsalsa20_poly1305")


class TransportError(Exception):
    """A packet that does not decrypt (wrong key, cut short, tampered with)."""


class UnsupportedMode(TransportError):
    """A mode this receiver cannot decrypt."""


class TransportCipher:
    """Decrypts packets sealed with one voice connection's mode and secret key."""

    def __init__(self, mode: str, secret_key: bytes) -> None:
        if mode not in SUPPORTED_MODES:
            raise UnsupportedMode(f"voice encryption mode {mode!r} is not supported "
                                  f"(supported: {', '.join(SUPPORTED_MODES)})")
        if len(secret_key) != 32:
            raise TransportError("a voice secret key is 32 bytes")
        self.mode = mode
        self.key = bytes(secret_key)
        self._box = nacl.secret.SecretBox(self.key) if mode != XCHACHA else None

    def decrypt(self, packet: RtpPacket) -> bytes:
        """The packet's Opus payload: decrypted, without the extension body or padding."""
        try:
            if self.mode == XCHACHA:
                plain = self._xchacha(packet)
                payload = plain[packet.extension_length:]
            else:
                plain = self._xsalsa(packet)
                payload = _skip_old_extension(packet, plain)
        except (nacl.exceptions.CryptoError, ValueError, TypeError) as error:
            raise TransportError(f"undecryptable voice packet: {error}") from None
        if packet.padding and payload:
            count = payload[-1]
            if count == 0 or count > len(payload):
                raise TransportError("bad RTP padding")
            payload = payload[:-count]
        return payload

    def _xchacha(self, packet: RtpPacket) -> bytes:
        if len(packet.body) < 4 + 16:
            raise TransportError("voice packet cut short")
        nonce = packet.body[-4:] + bytes(20)
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            packet.body[:-4], packet.header, nonce, self.key)

    def _xsalsa(self, packet: RtpPacket) -> bytes:
        assert self._box is not None
        clear = FIXED_HEADER + 4 * packet.csrc_count
        sealed = (packet.header + packet.body)[clear:]
        if self.mode == "xsalsa20_poly1305_lite":
            return self._box.decrypt(sealed[:-4], sealed[-4:] + bytes(20))
        if self.mode == "xsalsa20_poly1305_suffix":
            return self._box.decrypt(sealed[:-24], sealed[-24:])
        return self._box.decrypt(sealed, packet.header[:FIXED_HEADER] + bytes(12))


def _skip_old_extension(packet: RtpPacket, plain: bytes) -> bytes:
    """The old modes encrypt the extension header too: skip it and its body."""
    if not packet.has_extension:
        return plain
    if len(plain) < 4:
        raise TransportError("RTP extension cut short")
    words = int.from_bytes(plain[2:4], "big")
    return plain[4 + 4 * words:]
