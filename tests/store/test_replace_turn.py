"""``replace_turn``: a regenerated answer (or the answer to an edited question) replaces its
turn in one transaction, on both backends, under the same erasure rules as ``add_turn`` except
that an edit only blocks a turn begun before it."""

from __future__ import annotations

import asyncio

from omnicord.store import Store, Turn
from omnicord.store.records import Kept, UsageRow, utc_now

MODEL = "qwen3-omni-flash"
BEFORE = "2020-01-01T00:00:00.000Z"


def turn(text: str, reply: str, *, source: str = "m1", speaker: str = "7",
         created_at: str = BEFORE, replies: tuple[str, ...] = ()) -> Turn:
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text=reply,
                model=MODEL, created_at=created_at, source_message_id=source,
                reply_message_ids=replies)


def usage(tokens: int, user: str = "7", *, began_at: str = BEFORE) -> UsageRow:
    return UsageRow(user_id=user, model=MODEL, prompt_tokens=tokens, completion_tokens=1,
                    guild_id="g", channel_id="c1", began_at=began_at)


async def prompt_tokens(store: Store) -> int:
    return sum(n for _, n, _ in await store.usage_by_model(since_day="2000-01-01"))


async def test_the_new_turn_replaces_the_old_and_both_usages_count(store: Store) -> None:
    await store.add_turn("channel:1", turn("q0", "a0", source="m0"))
    await store.add_turn("channel:1", turn("q1", "old answer", replies=("r1",)), usage(10))
    kept = await store.replace_turn("channel:1", "m1",
                                    turn("q1", "new answer", replies=("r1",)), usage(5))
    assert kept is Kept.STORED
    history = await store.history("channel:1")
    assert [(t.text, t.reply_text) for t in history] == [("q0", "a0"), ("q1", "new answer")]
    assert await store.count_rows("turns") == 2  # deleted, not left behind
    assert await prompt_tokens(store) == 15  # the old answer's tokens were spent too
    found = await store.turn_for_message("r1")
    assert found is not None and found[1].reply_text == "new answer"


async def test_no_tombstone_is_left_by_a_replacement(store: Store) -> None:
    await store.add_turn("channel:1", turn("q1", "a"))
    await store.replace_turn("channel:1", "m1", turn("q1", "b"))
    # A later replacement (and a plain add of that message) is still welcome.
    assert await store.replace_turn("channel:1", "m1", turn("q1", "c")) is Kept.STORED
    assert [t.reply_text for t in await store.history("channel:1")] == ["c"]


async def test_other_scopes_turns_of_the_same_message_id_stay(store: Store) -> None:
    await store.add_turn("channel:1", turn("q", "here"))
    await store.add_turn("cli:1", turn("q", "there"))
    await store.replace_turn("channel:1", "m1", turn("q", "new"))
    assert [t.reply_text for t in await store.history("cli:1")] == ["there"]


async def test_a_deleted_message_keeps_the_replacement_out(store: Store) -> None:
    await store.add_turn("channel:1", turn("q1", "a"))
    await store.forget_messages(["m1"])
    later = utc_now()
    kept = await store.replace_turn("channel:1", "m1", turn("q1", "b", created_at=later))
    assert kept is Kept.DELETED
    assert await store.history("channel:1") == []


async def test_an_edit_blocks_only_turns_begun_before_it(store: Store) -> None:
    began = utc_now()
    await asyncio.sleep(0.01)
    await store.add_turn("channel:1", turn("q1", "a"))
    await store.forget_messages(["m1"], why=Kept.EDITED)
    # The answer under way for the old words (begun before the edit) stays out...
    assert await store.replace_turn("channel:1", "m1",
                                    turn("q1", "stale", created_at=began)) is Kept.EDITED
    # ...as does a plain add, however late it began (add_turn's rule is unchanged).
    await asyncio.sleep(0.01)
    after = utc_now()
    assert await store.add_turn("channel:1", turn("q1", "x", created_at=after)) is Kept.EDITED
    # The answer to the edited words, begun after the edit, is kept.
    assert await store.replace_turn("channel:1", "m1",
                                    turn("q1 edited", "fresh", created_at=after)) is Kept.STORED
    assert [t.reply_text for t in await store.history("channel:1")] == ["fresh"]


async def test_a_member_erased_meanwhile_keeps_the_replacement_out(store: Store) -> None:
    began = utc_now()
    await store.add_turn("channel:1", turn("q1", "a", created_at=began))
    await asyncio.sleep(0.01)
    await store.forget_member("7")
    kept = await store.replace_turn("channel:1", "m1", turn("q1", "b", created_at=began),
                                    usage(3, began_at=began))
    assert kept is Kept.FORGOTTEN
    assert await store.count_rows("turns") == 0
    assert await prompt_tokens(store) == 0


async def test_an_erasure_racing_replacements_leaves_nothing_behind(store: Store) -> None:
    """Replacements of many messages' turns racing the erasure of their member: each is
    either erased with the rest or kept out, never left behind; the old turns go either way."""
    for round_ in range(3):
        user = f"7{round_}"
        began = utc_now()
        for i in range(20):
            await store.add_turn("channel:1", turn(f"q{i}", "old", source=f"{user}-{i}",
                                                   speaker=user, created_at=began))
        await asyncio.sleep(0.005)
        later = utc_now()
        swaps = [store.replace_turn("channel:1", f"{user}-{i}",
                                    turn(f"q{i}", "new", source=f"{user}-{i}", speaker=user,
                                         created_at=later), usage(1, user, began_at=later))
                 for i in range(20)]
        results = await asyncio.gather(*swaps, store.forget_member(user))
        verdicts = results[:-1]
        assert {*verdicts} <= {Kept.STORED, Kept.FORGOTTEN}
        left = [t for t in await store.history("channel:1") if t.speaker_id == user]
        assert left == []
        used = await store.usage_by_model(since_day="2000-01-01", user_id=user)
        assert used == []


async def test_concurrent_replacements_of_one_turn_leave_exactly_one(store: Store) -> None:
    await store.add_turn("channel:1", turn("q1", "a"))
    later = utc_now()
    verdicts = await asyncio.gather(*[
        store.replace_turn("channel:1", "m1", turn("q1", f"v{i}", created_at=later))
        for i in range(8)])
    assert all(v is Kept.STORED for v in verdicts)
    assert len(await store.history("channel:1")) == 1
