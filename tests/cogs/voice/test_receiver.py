"""The receiver on its own: RTP parsing, transport decryption against discord.py's own and an
independent encryptor, SSRC mapping, RTCP and garbage, and the DAVE layer with real davey."""

from __future__ import annotations

import asyncio
import os
import struct

import davey
import nacl.secret
import pytest
from omnicord.cogs.voice.crypto import TransportCipher, UnsupportedMode
from omnicord.cogs.voice.dave import Outcome, open_frame
from omnicord.cogs.voice.receiver import VoiceReceiver
from omnicord.cogs.voice.rtp import parse_rtp
from omnicord.voice.codec import OPUS_SILENCE

KEY = bytes(range(32))
XCHACHA = "aead_xchacha20_poly1305_rtpsize"


def sealed(mode: str, ssrc: int, seq: int, opus: bytes, *, ext: bytes = b"",
           csrcs: tuple[int, ...] = (), padding: int = 0) -> bytes:
    first = 0x80 | (0x10 if ext else 0) | (0x20 if padding else 0) | len(csrcs)
    header = struct.pack(">BBHII", first, 0x78, seq, seq * 960, ssrc)
    header += b"".join(struct.pack(">I", c) for c in csrcs)
    pad = (bytes(padding - 1) + bytes([padding])) if padding else b""
    if mode == XCHACHA:
        if ext:
            header += struct.pack(">HH", 0xBEDE, len(ext) // 4)
        nonce = struct.pack(">I", seq)
        box = nacl.secret.Aead(KEY)
        return header + box.encrypt(ext + opus + pad, header, nonce + bytes(20)).ciphertext \
            + nonce
    assert mode == "xsalsa20_poly1305_lite"
    body = (struct.pack(">HH", 0xBEDE, len(ext) // 4) + ext if ext else b"") + opus + pad
    nonce = struct.pack(">I", seq)
    return header + nacl.secret.SecretBox(KEY).encrypt(body, nonce + bytes(20)).ciphertext \
        + nonce


def receiver(mode: str = XCHACHA, dave: tuple[int, object] = (0, None)) -> VoiceReceiver:
    return VoiceReceiver(asyncio.new_event_loop(), keys=lambda: (mode, KEY),
                         dave=lambda: dave)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("mode", [XCHACHA, "xsalsa20_poly1305_lite"])
@pytest.mark.parametrize(("ext", "csrcs", "padding"), [
    (b"", (), 0), (b"\x10\xff\x00\x00", (), 0), (b"\x10\xff\x00\x00" * 2, (7, 8), 3)])
def test_packets_round_trip_with_extension_csrcs_and_padding(
        mode: str, ext: bytes, csrcs: tuple[int, ...], padding: int) -> None:
    r = receiver(mode)
    r.speaking(42, 555)
    packet = r.process(sealed(mode, 555, 1, b"opus-frame", ext=ext, csrcs=csrcs,
                              padding=padding))
    assert packet is not None and (packet.user_id, packet.opus) == (42, b"opus-frame")
    parsed = parse_rtp(sealed(mode, 555, 9, b"x", csrcs=csrcs))
    assert parsed is not None and parsed.csrc_count == len(csrcs) and parsed.sequence == 9


def test_discord_pys_own_encryptor_decrypts() -> None:
    import discord

    class Sender(discord.VoiceClient):
        secret_key = list(KEY)  # type: ignore[assignment]  # noqa: RUF012

    sender = object.__new__(Sender)
    sender._incr_nonce = 5
    header = bytearray(struct.pack(">BBHII", 0x80, 0x78, 3, 2880, 555))
    datagram = sender._encrypt_aead_xchacha20_poly1305_rtpsize(header, b"from-discord-py")
    r = receiver()
    r.speaking(42, 555)
    packet = r.process(datagram)
    assert packet is not None and packet.opus == b"from-discord-py"


def test_unknown_ssrc_rtcp_garbage_late_and_wrong_key_are_counted_not_raised() -> None:
    r = receiver()
    assert r.process(sealed(XCHACHA, 999, 1, b"who")) is None  # nobody announced 999
    assert r.process(bytes([0x81, 0xC9]) + bytes(30)) is None  # RTCP receiver report
    for junk in [b"", b"\x00", os.urandom(11), os.urandom(300), b"\x80\x78" + bytes(10)]:
        assert r.process(junk) is None
    r.speaking(42, 555)
    assert r.process(sealed(XCHACHA, 555, 10, b"a")) is not None
    assert r.process(sealed(XCHACHA, 555, 10, b"a")) is None  # duplicate
    assert r.process(sealed(XCHACHA, 555, 9, b"a")) is None  # late
    tampered = bytearray(sealed(XCHACHA, 555, 11, b"a"))
    tampered[20] ^= 1
    assert r.process(bytes(tampered)) is None
    s = r.stats
    assert (s.unmapped, s.rtcp, s.late, s.undecryptable, s.delivered) == (1, 1, 2, 2, 1)
    assert s.malformed == 4  # the fifth parses as RTP: undecryptable
    r.disconnected(42)
    assert r.process(sealed(XCHACHA, 555, 12, b"a")) is None and r.stats.unmapped == 2


def test_aes_gcm_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedMode, match="aead_aes256_gcm_rtpsize"):
        TransportCipher("aead_aes256_gcm_rtpsize", KEY)
    r = receiver("aead_aes256_gcm_rtpsize")
    r.speaking(42, 555)
    assert r.process(sealed(XCHACHA, 555, 1, b"a")) is None and r.stats.no_keys == 1


async def test_datagrams_from_another_thread_reach_the_iterator() -> None:
    import threading

    r = VoiceReceiver(asyncio.get_running_loop(), keys=lambda: (XCHACHA, KEY),
                      dave=lambda: (0, None))
    r.speaking(42, 555)
    thread = threading.Thread(target=lambda: [r.on_datagram(sealed(XCHACHA, 555, n, b"x"))
                                              for n in range(1, 21)])
    thread.start()
    thread.join()
    got = []
    async with asyncio.timeout(10):
        async for packet in r:
            got.append(packet.sequence)
            if len(got) == 20:
                break
    assert got == list(range(1, 21))


# ---------------------------------------------------------------- DAVE, with real davey

def test_protocol_0_or_no_session_takes_frames_as_they_are() -> None:
    session = davey.DaveSession(1, 1, 2)
    assert open_frame((0, session), 42, b"opus") == (b"opus", Outcome.plain)
    assert open_frame((1, None), 42, b"opus") == (b"opus", Outcome.plain)


def test_a_session_not_ready_passes_unencrypted_frames_and_refuses_dave_frames() -> None:
    session = davey.DaveSession(1, 1, 2)
    assert not session.ready
    assert open_frame((1, session), 42, b"\xf8\xff\xfe") == (b"\xf8\xff\xfe", Outcome.unencrypted)
    assert open_frame((1, session), 42, b"ciphertext\x00\x01\xfa\xfa") == (None, Outcome.failed)
    session.set_passthrough_mode(True, 10)  # davey's passthrough needs a member's decryptor
    assert open_frame((1, session), 42, b"ciphertext\xfa\xfa")[1] is Outcome.failed


def test_a_refused_frame_becomes_silence_counted_and_the_live_session_is_used() -> None:
    sessions = [davey.DaveSession(1, 1, 2)]
    r = receiver(dave=(1, None))
    r.dave.state = lambda: (1, sessions[-1])
    r.speaking(42, 555)
    packet = r.process(sealed(XCHACHA, 555, 1, b"enc\x00\xfa\xfa"))
    assert packet is not None and packet.opus == OPUS_SILENCE and not packet.ok
    assert r.stats.dave_failed == 1
    sessions.append(davey.DaveSession(1, 1, 2))  # discord.py replaced the session
    packet = r.process(sealed(XCHACHA, 555, 2, b"plain-opus"))
    assert packet is not None and packet.opus == b"plain-opus"
    assert r.stats.dave_unencrypted == 1
