"""Who is heard in a talk session, and how much talk time a server has left."""

from __future__ import annotations

from omnicord.live.rules import may_be_heard, seconds_left
from omnicord.store.records import AccessList, TalkSettings


def test_without_talk_roles_or_an_allow_list_every_member_is_heard() -> None:
    assert may_be_heard(TalkSettings(enabled=True), ["1"])


def test_talk_roles_and_the_allow_list_must_both_let_a_member_in() -> None:
    talkers = TalkSettings(enabled=True, roles=frozenset({"talk"}))
    assert may_be_heard(talkers, ["talk", "x"])
    assert not may_be_heard(talkers, ["x"])
    allowed = AccessList(roles=frozenset({"members"}))
    assert may_be_heard(talkers, ["talk", "members"], allowed)
    assert not may_be_heard(talkers, ["talk"], allowed)  # Omnicord itself is closed to them
    assert may_be_heard(TalkSettings(), ["members"], allowed)


def test_talk_time_left_never_goes_below_zero() -> None:
    chosen = TalkSettings(minutes_per_day=2)
    assert seconds_left(chosen, 0.0) == 120.0
    assert seconds_left(chosen, 119.5) == 0.5
    assert seconds_left(chosen, 500.0) == 0.0
