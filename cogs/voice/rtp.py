"""RTP as Discord's voice servers send it: the fixed header, CSRCs, the header extension and
padding (RFC 3550), and telling RTCP apart. Nothing here decrypts."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
#: The payload type Discord gives Opus audio.
OPUS_PAYLOAD_TYPE = 120
FIXED_HEADER = 12
#: RTCP packet types 200-204 (SR, RR, SDES, BYE, APP) share the byte RTP keeps its marker bit
#: and payload type in; masked with 0x7F they read 72-76.
RTCP_MASKED_TYPES = range(72, 77)


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet, its payload still as it came (encrypted)."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    padding: bool
    #: The header as sent in the clear: fixed header, CSRCs and, with an extension, its
    #: 4-byte extension header (profile and length); the "rtpsize" modes authenticate it.
    header: bytes
    #: Length of the extension body in bytes (its 32-bit words times 4; 0 without one).
    extension_length: int
    #: Everything after ``header``: the extension body, payload and padding, encrypted.
    body: bytes

    @property
    def has_extension(self) -> bool:
        """Whether the extension bit is set."""
        return bool(self.header[0] & 0x10)

    @property
    def csrc_count(self) -> int:
        """How many contributing sources the header lists."""
        return self.header[0] & 0x0F


def is_rtcp(datagram: bytes) -> bool:
    """Whether ``datagram`` is an RTCP packet (Discord sends receiver and sender reports)."""
    return len(datagram) >= 2 and datagram[0] >> 6 == RTP_VERSION \
        and datagram[1] & 0x7F in RTCP_MASKED_TYPES


def parse_rtp(datagram: bytes) -> RtpPacket | None:
    """``datagram`` as RTP, or ``None`` when it is not RTP version 2 or is cut short."""
    if len(datagram) < FIXED_HEADER or datagram[0] >> 6 != RTP_VERSION:
        return None
    first, second, sequence, timestamp, ssrc = struct.unpack_from(">BBHII", datagram)
    size = FIXED_HEADER + 4 * (first & 0x0F)
    extension_length = 0
    if first & 0x10:
        if len(datagram) < size + 4:
            return None
        extension_length = 4 * struct.unpack_from(">H", datagram, size + 2)[0]
        size += 4
    if len(datagram) < size:
        return None
    return RtpPacket(marker=bool(second & 0x80), payload_type=second & 0x7F, sequence=sequence,
                     timestamp=timestamp, ssrc=ssrc, padding=bool(first & 0x20),
                     header=bytes(datagram[:size]), extension_length=extension_length,
                     body=bytes(datagram[size:]))


def newer(sequence: int, than: int) -> bool:
    """Whether 16-bit sequence number ``sequence`` comes after ``than`` (wrapping)."""
    return 0 < (sequence - than) & 0xFFFF < 0x8000
