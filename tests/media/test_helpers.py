"""The pipeline's shared helpers: sizes of inline media, thinning frames, lengths of time."""

from __future__ import annotations

import pytest
from omnicord.media.durations import clock, describe_duration
from omnicord.media.frames import fewer, spread
from omnicord.media.types import PreparedPart
from omnicord.model.parts import audio_part, base64_chars, data_url, data_url_chars


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 1000, 1_920_044])
@pytest.mark.parametrize("mime", ["", "image/jpeg", "image/png"])
def test_a_data_urls_size_is_known_before_it_is_built(size: int, mime: str) -> None:
    data = bytes(size)
    assert data_url_chars(size, mime) == len(data_url(data, mime))
    assert base64_chars(size) == len(data_url(data, mime).partition(",")[2])


def test_frames_are_thinned_evenly_from_the_middle_of_each_share() -> None:
    assert spread(range(10), 5) == [1, 3, 5, 7, 9]
    assert spread(range(3), 6) == [0, 0, 1, 1, 2, 2]  # too few: repeated in order
    assert spread(range(7), 7) == list(range(7))


def test_fewer_frames_stay_above_the_minimum_and_a_multiple_of_the_factor() -> None:
    frames = list(range(40))
    assert fewer(frames, 0.5, minimum=4) == spread(frames, 20)
    assert fewer(frames, 0.99, minimum=4) == spread(frames, 39)  # always fewer than now
    assert len(fewer(frames, 0.33, minimum=4, factor=2) or []) == 12
    assert fewer(frames, 0.01, minimum=4) == spread(frames, 4)
    assert fewer(frames[:4], 0.5, minimum=4) is None


def test_lengths_read_as_limits_and_as_places_in_a_recording() -> None:
    assert [describe_duration(s) for s in (40, 60, 150, 1200, 3900, 7200)] == [
        "40 s", "1 min", "150 s", "20 min", "1 h 5 min", "2 h"]
    assert [clock(s) for s in (0, 59.6, 65, 3600, 3725)] == [
        "0:00", "1:00", "1:05", "1:00:00", "1:02:05"]


def test_a_parts_repr_leaves_out_its_inline_media() -> None:
    part = PreparedPart(part=audio_part(bytes(300_000), "wav"), kind="audio", format="wav",
                        tokens=10, seconds=9.4)
    assert len(repr(part)) < 300
    assert "format='wav'" in repr(part)
