"""Mixing members who speak at once into the 16 kHz mono stream the model hears."""

from __future__ import annotations

from array import array

from omnicord.voice.codec import FRAME_BYTES, SILENCE_FRAME
from omnicord.voice.mixer import Mixer
from omnicord.voice.pcm import duration_ms, rms

from tests.doubles.fake_voice.speech import frames, tone, voiced


def constant(value: int, count: int = 960) -> bytes:
    return array("h", [value] * (count * 2)).tobytes()


def test_one_speaker_comes_out_at_16k_mono_with_its_level() -> None:
    mixer = Mixer()
    speech = tone(1.0, freq=300)
    out = b""
    for frame in frames(speech):
        mixer.add(7, frame)
        out += mixer.drain()
    assert abs(duration_ms(out, 16_000, 1) - 1000) < 10
    assert abs(rms(out[3200:]) - rms(speech)) / rms(speech) < 0.05
    assert mixer.active_speakers() == {7}


def test_two_speakers_are_summed_with_clipping_and_both_are_credited() -> None:
    mixer = Mixer()
    for _ in range(10):
        mixer.add(1, constant(20_000))
        mixer.add(2, constant(20_000))
    out = array("h")
    out.frombytes(mixer.drain())
    assert mixer.active_speakers() == {1, 2}
    steady = out[200:-200]  # away from the resampler's edges
    assert max(steady) == 32767 and min(steady) > 32000  # 40,000 clipped to full scale


def test_quieter_sums_stay_exact_and_opposites_cancel() -> None:
    mixer = Mixer()
    for _ in range(10):
        mixer.add(1, constant(3_000))
        mixer.add(2, constant(4_000))
    out = array("h")
    out.frombytes(mixer.drain())
    assert abs(sorted(out)[len(out) // 2] - 7_000) < 50
    for _ in range(10):
        mixer.add(1, constant(5_000))
        mixer.add(2, constant(-5_000))
    assert rms(mixer.drain()[800:]) < 300  # only the filter's memory of the last window


def test_silence_does_not_count_as_speaking_and_attribution_is_per_window() -> None:
    mixer = Mixer()
    mixer.add(1, frames(voiced(0.1))[2])
    mixer.add(2, SILENCE_FRAME)
    mixer.drain()
    assert mixer.active_speakers() == {1}
    mixer.add(2, SILENCE_FRAME)
    mixer.drain()
    assert mixer.active_speakers() == set()
    assert mixer.drain() == b"" and mixer.active_speakers() == set()


def test_a_speaker_queues_at_most_the_bound() -> None:
    mixer = Mixer(max_buffered_ms=100)
    for _ in range(20):
        mixer.add(3, SILENCE_FRAME)
    assert mixer.dropped_bytes == 15 * FRAME_BYTES
    assert abs(duration_ms(mixer.drain(), 16_000, 1) - 100) < 10
