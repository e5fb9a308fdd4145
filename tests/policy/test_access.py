"""Who may use Omnicord where: the DM policy and servers' allow lists of roles and channels."""

from __future__ import annotations

import pytest
from omnicord.policy.access import Access, AccessRefused, check_access
from omnicord.store.records import AccessList


def test_empty_lists_let_everyone_in_everywhere() -> None:
    check_access(AccessList(), role_ids=[], channel_ids=["1"])


def test_a_role_list_needs_one_of_its_roles() -> None:
    access = AccessList(roles=frozenset({"10", "11"}))
    check_access(access, role_ids=["5", "11"], channel_ids=["1"])
    with pytest.raises(AccessRefused, match="only open to some roles"):
        check_access(access, role_ids=["5"], channel_ids=["1"])


def test_a_channel_list_admits_the_channel_its_parent_or_its_category() -> None:
    access = AccessList(channels=frozenset({"100"}))
    for place in (["100"], ["7", "100"], ["7", "8", "100"]):  # channel, thread, category
        check_access(access, role_ids=[], channel_ids=place)
    with pytest.raises(AccessRefused, match="isn't available in this channel"):
        check_access(access, role_ids=[], channel_ids=["7", "8"])


class Lists:
    """A preference store holding one server's allow lists."""

    def __init__(self, access: AccessList) -> None:
        self.asked: list[str] = []
        self._access = access

    async def access(self, guild_id: str) -> AccessList:
        self.asked.append(guild_id)
        return self._access


async def test_direct_messages_follow_the_dm_policy_only() -> None:
    lists = Lists(AccessList(roles=frozenset({"10"})))
    await Access(lists, allow_dms=True).check("")  # type: ignore[arg-type]
    with pytest.raises(AccessRefused, match="direct messages"):
        await Access(lists, allow_dms=False).check("")  # type: ignore[arg-type]
    assert lists.asked == []
    with pytest.raises(AccessRefused):
        await Access(lists).check("g1", role_ids=["9"])  # type: ignore[arg-type]
    assert lists.asked == ["g1"]
