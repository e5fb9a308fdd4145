"""An answer's audio as 20 ms Opus packets behind a jitter buffer (the core side of speaking)."""

from __future__ import annotations

import threading

from omnicord.voice.codec import OpusDecoder
from omnicord.voice.pcm import dbfs, rms
from omnicord.voice.playback import AnswerAudio

from tests.doubles.fake_voice.speech import voiced


def drain(audio: AnswerAudio) -> list[bytes]:
    packets = []
    while (packet := audio.next_packet()) is not None:
        packets.append(packet)
    return packets


def test_playing_waits_for_the_jitter_buffer_then_starts() -> None:
    answer = voiced(1.0, rate=24_000, channels=1)
    audio = AnswerAudio(24_000, jitter_ms=60)
    audio.feed(answer[:24_000 * 2 * 40 // 1000])  # 40 ms: under the buffer
    assert audio.next_packet() is None and audio.packets_sent == 0
    assert 39 < audio.buffered_ms <= 40
    audio.feed(answer[24_000 * 2 * 40 // 1000: 24_000 * 2 * 100 // 1000])  # now 100 ms
    packets = drain(audio)
    assert 3 <= len(packets) <= 5  # about 100 ms, less the resampler's delay
    assert audio.next_packet() is None and not audio.finished  # ran dry: buffering again
    audio.feed(answer[24_000 * 2 * 100 // 1000:])
    audio.end()
    packets += drain(audio)
    assert audio.finished and audio.packets_sent == len(packets)
    assert 49 <= len(packets) <= 51  # 1 s in 20 ms packets, the tail padded
    decoder = OpusDecoder()
    pcm = b"".join(decoder.decode(p) for p in packets)
    assert abs(dbfs(pcm) - dbfs(answer)) < 2


def test_a_short_answer_plays_on_end_without_filling_the_buffer() -> None:
    audio = AnswerAudio(16_000, jitter_ms=200)
    audio.feed(voiced(0.05, rate=16_000, channels=1))
    assert audio.next_packet() is None
    audio.end()
    assert len(drain(audio)) == 3 and audio.finished  # 50 ms: two frames and a padded third


def test_clear_drops_everything_at_once() -> None:
    audio = AnswerAudio(24_000)
    audio.feed(voiced(5.0, rate=24_000, channels=1))
    assert audio.next_packet() is not None
    audio.clear()
    assert audio.buffered_ms == 0 and audio.finished and audio.ended
    assert audio.next_packet() is None
    audio.feed(voiced(1.0, rate=24_000, channels=1))  # late audio of the cleared answer
    assert audio.buffered_ms == 0 and audio.next_packet() is None


def test_what_is_held_is_bounded() -> None:
    audio = AnswerAudio(16_000, max_queued_ms=1_000)
    second = bytes(32_000)
    for _ in range(3):
        audio.feed(second)
    assert audio.buffered_ms <= 1_000 and abs(audio.dropped_ms - 2_000) < 1


def test_feeding_and_reading_from_two_threads() -> None:
    audio = AnswerAudio(24_000, jitter_ms=20)
    chunk = voiced(0.1, rate=24_000, channels=1)
    packets: list[bytes] = []

    def player() -> None:
        while not audio.finished:
            packet = audio.next_packet()
            if packet is not None:
                packets.append(packet)

    thread = threading.Thread(target=player)
    thread.start()
    for _ in range(20):
        audio.feed(chunk)
    audio.end()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert 99 <= len(packets) <= 101
    assert rms(b"".join(OpusDecoder().decode(p) for p in packets)) > 1000
