"""The core's Opus codec and resampler (PyAV in process): real encoding and decoding."""

from __future__ import annotations

import os
import time

import pytest
from omnicord.voice.codec import (
    FRAME_BYTES,
    OPUS_SILENCE,
    SILENCE_FRAME,
    OpusDecoder,
    OpusEncoder,
    Resampler,
)
from omnicord.voice.pcm import dbfs, duration_ms, rms

from tests.doubles.fake_voice.speech import best_correlation, frames, tone, voiced


def round_trip(pcm: bytes) -> bytes:
    encoder, decoder = OpusEncoder(), OpusDecoder()
    return b"".join(decoder.decode(encoder.encode(frame)) for frame in frames(pcm))


def test_speech_survives_an_opus_round_trip() -> None:
    speech = voiced(1.0)
    decoded = round_trip(speech)
    assert len(decoded) == len(speech)  # 50 frames in, 50 frames of 3,840 bytes out
    assert abs(dbfs(decoded) - dbfs(speech)) < 1.5  # same energy
    # Opus delays by its look-ahead (312 samples with libopus): line the two up, then compare
    window = speech[48_000 * 4 // 5 * 2 // 4 * 4 // 2:][: 9600 * 4]  # 200 ms from 0.4 s
    start = len(speech) // 2 - len(window)
    decoded_window = decoded[start:][: len(window) + 600 * 4]
    assert best_correlation(speech[start:start + len(window)], decoded_window,
                            max_shift_samples=600, step=6) > 0.9
    assert decoder_handles_silence()


def decoder_handles_silence() -> bool:
    return OpusDecoder().decode(OPUS_SILENCE) == SILENCE_FRAME


def test_every_decoded_frame_is_20_ms_of_48k_stereo() -> None:
    encoder, decoder = OpusEncoder(), OpusDecoder()
    for frame in frames(tone(0.2)):
        assert len(decoder.decode(encoder.encode(frame))) == FRAME_BYTES


@pytest.mark.parametrize("packet", [b"", b"\xff" * 100, os.urandom(400), b"\x00" * 5000],
                         ids=["empty", "invalid-toc", "random", "huge-zeros"])
def test_a_corrupt_packet_decodes_to_silence_and_the_decoder_goes_on(packet: bytes) -> None:
    decoder = OpusDecoder()
    out = decoder.decode(packet)
    assert len(out) == FRAME_BYTES or (len(out) % 4 == 0 and out)  # silence or concealment
    if packet in (b"", b"\xff" * 100):
        assert out == SILENCE_FRAME and decoder.failures == 1
    good = OpusEncoder().encode(frames(tone(0.02))[0])
    assert len(decoder.decode(good)) == FRAME_BYTES


def test_the_encoder_takes_exactly_one_frame() -> None:
    with pytest.raises(ValueError, match="3840 bytes"):
        OpusEncoder().encode(bytes(100))


@pytest.mark.parametrize(("in_rate", "in_ch", "out_rate", "out_ch"), [
    (48_000, 2, 16_000, 1), (24_000, 1, 48_000, 2), (16_000, 1, 48_000, 2),
    (48_000, 2, 48_000, 2), (24_000, 1, 16_000, 1),
])
def test_the_resampler_keeps_duration_and_level_across_odd_chunks(
        in_rate: int, in_ch: int, out_rate: int, out_ch: int) -> None:
    source = tone(1.0, freq=300, rate=in_rate, channels=in_ch)
    resampler = Resampler(in_rate, in_ch, out_rate, out_ch)
    out = b"".join(resampler.convert(source[i:i + 1001]) for i in range(0, len(source), 1001))
    out += resampler.flush()
    assert len(out) % (2 * out_ch) == 0
    assert abs(duration_ms(out, out_rate, out_ch) - 1000) < 5
    assert abs(rms(out) - rms(source)) / rms(source) < 0.03


def test_the_resampler_rejects_more_than_two_channels() -> None:
    with pytest.raises(ValueError, match="mono and stereo"):
        Resampler(48_000, 6, 16_000, 1)


def test_cost(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timing assertion (busy machines): prints the cost per 20 ms frame, with a bound
    far from anything real time would notice."""
    pcm = frames(voiced(2.0))
    encoder, decoder, down = OpusEncoder(), OpusDecoder(), Resampler(48_000, 2, 16_000, 1)
    start = time.perf_counter()
    packets = [encoder.encode(frame) for frame in pcm]
    encoded = time.perf_counter()
    decoded = [decoder.decode(packet) for packet in packets]
    decoded_at = time.perf_counter()
    for frame in decoded:
        down.convert(frame)
    done = time.perf_counter()
    per = {name: (b - a) / len(pcm) * 1000 for name, a, b in [
        ("encode", start, encoded), ("decode", encoded, decoded_at),
        ("48k stereo -> 16k mono", decoded_at, done)]}
    with capsys.disabled():
        print("\nms per 20 ms frame: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    assert all(v < 20 for v in per.values())
