"""The ``Store`` contract, written once and run on every backend: SQLite and PostgreSQL keep
turns, personas, usage, preferences and limits the same way, and ``db copy`` moves everything
between them unchanged."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import pytest
from omnicord.store import MediaRef, Store, Turn
from omnicord.store.copy import COPY_TABLES, copy_store
from omnicord.store.records import (
    AccessList,
    CaptionMode,
    GuildPreferences,
    MemberPreferences,
    ReplyMode,
    SlotsFull,
    TalkSettings,
    UsageRow,
)
from omnicord.store.schema import Migration
from omnicord.store.sqlite.migrate import load_migrations as sqlite_migrations
from omnicord.store.sqlite.store import SqliteStore

from tests.store.conftest import StoreFactory, require_postgres

MODEL = "qwen3-omni-flash"


def turn(text: str, speaker: str = "7", **fields: object) -> Turn:
    return Turn(speaker_id=speaker, speaker_name="Ada", text=text, reply_text=f"re {text}",
                model=MODEL, **fields)  # type: ignore[arg-type]


def usage(user: str = "7", prompt: int = 10, completion: int = 5, *, guild: str = "g1",
          model: str = MODEL, day: str = "2025-03-01") -> UsageRow:
    return UsageRow(user_id=user, model=model, prompt_tokens=prompt, completion_tokens=completion,
                    guild_id=guild, channel_id="c1", day=day)


def migrations_of(store: Store) -> list[Migration]:
    if store.backend == "sqlite":
        return sqlite_migrations()
    from omnicord.store.postgres.migrate import load_migrations

    return load_migrations()


async def refuse_usage_model(store: Store, model: str) -> None:
    """Make the database itself reject usage rows of ``model`` (a failure mid-write)."""
    if isinstance(store, SqliteStore):
        await store.write(lambda db: db.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON usage WHEN NEW.model = '{model}'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    else:
        await store.database.pool.execute(  # type: ignore[attr-defined]
            f"ALTER TABLE usage ADD CONSTRAINT refuse CHECK (model <> '{model}')")


# --- turns and personas -----------------------------------------------------------------------

async def test_a_turn_round_trips_every_field(store: Store) -> None:
    full = Turn(
        speaker_id="42", speaker_name="Ada Lovelace", text="what is this? ünïcode ✓",
        reply_text="a cat", model=MODEL,
        media=(MediaRef(kind="image", name="cat.png", description="a cat", content_hash="ab12",
                        format="png", size_bytes=10, tokens=6),
               MediaRef(kind="audio", name="note.ogg", format="ogg", seconds=2.5, tokens=50)),
        usage={"prompt_tokens": 5, "details": {"audio": 3}, "ratio": 0.5},
        created_at="2025-03-01T10:00:00.123Z", replied_at="2025-03-01T10:00:02.456Z",
        source_message_id="1234567890", reply_message_ids=("111", "222"),
    )
    bare = turn("plain")
    await store.add_turn("channel:1", full)
    await store.add_turn("channel:1", bare)
    assert await store.history("channel:1") == [full, bare]
    assert bare.usage is None and bare.media == () and bare.source_message_id is None


async def test_history_limit_returns_the_newest_turns_oldest_first(store: Store) -> None:
    for n in range(6):
        await store.add_turn("dm:1", turn(f"t{n}"))
    assert [t.text for t in await store.history("dm:1")] == [f"t{n}" for n in range(6)]
    assert [t.text for t in await store.history("dm:1", limit=3)] == ["t3", "t4", "t5"]
    assert [t.text for t in await store.history("dm:1", limit=10)] == [f"t{n}" for n in range(6)]
    assert await store.history("dm:1", limit=0) == []
    assert await store.history("dm:unknown") == []


async def test_recall_returns_the_turns_and_the_persona(store: Store) -> None:
    await store.set_system_prompt("thread:1", "speak like a pirate")
    for n in range(4):
        await store.add_turn("thread:1", turn(f"t{n}"))
    turns, persona = await store.recall("thread:1", limit=2)
    assert [t.text for t in turns] == ["t2", "t3"] and persona == "speak like a pirate"
    assert await store.recall("thread:1", limit=0) == ([], "speak like a pirate")
    assert await store.recall("thread:none") == ([], None)
    await store.set_system_prompt("thread:2", "terse")
    assert await store.recall("thread:2") == ([], "terse")


async def test_reset_counts_and_clears_only_its_own_turns(store: Store) -> None:
    for n in range(3):
        await store.add_turn("channel:a", turn(f"a{n}"))
    await store.add_turn("channel:b", turn("b0"))
    await store.set_system_prompt("channel:a", "kind")
    assert await store.reset("channel:a") == 3
    assert await store.reset("channel:a") == 0
    assert await store.reset("channel:never") == 0
    assert await store.history("channel:a") == []
    assert [t.text for t in await store.history("channel:b")] == ["b0"]
    assert await store.system_prompt("channel:a") == "kind"  # a reset keeps the persona
    await store.add_turn("channel:a", turn("again"))
    assert [t.text for t in await store.history("channel:a")] == ["again"]


async def test_a_persona_is_set_and_cleared(store: Store) -> None:
    assert await store.system_prompt("guild:1") is None
    await store.set_system_prompt("guild:1", "be brief")
    assert await store.system_prompt("guild:1") == "be brief"
    await store.add_turn("guild:1", turn("hi"))
    await store.set_system_prompt("guild:1", "be verbose")
    assert await store.system_prompt("guild:1") == "be verbose"
    await store.set_system_prompt("guild:1", None)
    assert await store.system_prompt("guild:1") is None
    assert [t.text for t in await store.history("guild:1")] == ["hi"]
    assert await store.system_prompt("guild:2") is None


# --- usage ------------------------------------------------------------------------------------

async def test_a_turns_usage_is_recorded_with_it(store: Store) -> None:
    await store.add_turn("channel:1", turn("a"), usage("7", 10, 5))
    await store.add_turn("channel:1", turn("b"), usage("7", 20, 7, model="qwen-omni-turbo"))
    await store.add_turn("channel:2", turn("c"), usage("8", 1, 1, guild="g2"))
    await store.add_turn("channel:2", turn("d"))  # no usage: no row
    await store.add_usage(usage("7", 100, 50, day="2025-02-01"))  # a caption, last month
    assert await store.count_rows("usage") == 4
    totals = sorted(await store.usage_by_model(since_day="2025-03-01"))
    assert totals == sorted([(MODEL, 11, 6), ("qwen-omni-turbo", 20, 7)])
    assert sorted(await store.usage_by_model(since_day="2025-01-01", user_id="7",
                                             guild_id="g1")) == sorted([
        (MODEL, 110, 55), ("qwen-omni-turbo", 20, 7)])
    assert await store.usage_by_model(since_day="2025-03-01", guild_id="g2") == [(MODEL, 1, 1)]
    assert await store.usage_by_model(since_day="2025-03-02") == []


async def test_a_turn_and_its_usage_are_stored_together_or_not_at_all(store: Store) -> None:
    await refuse_usage_model(store, "refused")
    with pytest.raises(Exception, match="refuse"):
        await store.add_turn("channel:1", turn("lost"), usage(model="refused"))
    assert await store.history("channel:1") == []
    assert await store.count_rows("turns") == await store.count_rows("usage") == 0
    await store.add_turn("channel:1", turn("kept"), usage())
    assert [t.text for t in await store.history("channel:1")] == ["kept"]
    assert await store.usage_by_model(since_day="2025-01-01") == [(MODEL, 10, 5)]


async def test_a_hundred_concurrent_turns_lose_nothing_and_keep_each_scopes_order(
        store: Store) -> None:
    for burst in range(3):  # a misordering needs the right timing: give it a few chances
        await asyncio.gather(*[
            store.add_turn(f"channel:{burst}:{n % 10}", turn(str(n), speaker=str(n)),
                           usage(str(n), n, 1))
            for n in range(100)])
        for scope in range(10):
            turns = await store.history(f"channel:{burst}:{scope}")
            assert [t.text for t in turns] == [str(n) for n in range(scope, 100, 10)]
    assert await store.count_rows("turns") == await store.count_rows("usage") == 300
    assert await store.usage_by_model(since_day="2025-01-01") == [
        (MODEL, 3 * sum(range(100)), 300)]


# --- preferences ------------------------------------------------------------------------------

async def test_guild_preferences_are_replaced_whole(store: Store) -> None:
    prefs = store.preferences
    assert await prefs.guild("g1") == GuildPreferences()
    full = GuildPreferences(model="qwen3-omni-flash", voice="Cherry", reply_mode=ReplyMode.AUTO,
                            thinking=False, system_prompt="be kind", daily_token_cap=50_000)
    await prefs.save_guild("g1", full)
    assert await prefs.guild("g1") == full
    await prefs.save_guild("g1", GuildPreferences(thinking=True))
    assert await prefs.guild("g1") == GuildPreferences(thinking=True)
    assert await prefs.guild("g2") == GuildPreferences()


async def test_member_preferences_are_per_server(store: Store) -> None:
    prefs = store.preferences
    assert await prefs.member("g1", "7") == MemberPreferences()
    await prefs.save_member("g1", "7", MemberPreferences(voice="Ethan", reply_mode=ReplyMode.BOTH))
    await prefs.save_member("", "7", MemberPreferences(reply_mode=ReplyMode.VOICE))
    assert await prefs.member("g1", "7") == MemberPreferences(voice="Ethan",
                                                              reply_mode=ReplyMode.BOTH)
    assert await prefs.member("", "7") == MemberPreferences(reply_mode=ReplyMode.VOICE)
    await prefs.save_member("g1", "7", MemberPreferences(voice="Cherry"))
    assert await prefs.member("g1", "7") == MemberPreferences(voice="Cherry")
    assert await prefs.member("g1", "8") == MemberPreferences()


async def test_a_members_discord_language_is_kept_for_dms_beside_their_choices(
        store: Store) -> None:
    prefs = store.preferences
    await prefs.remember_language("7", "ja")  # no row yet: one is made
    assert await prefs.member("", "7") == MemberPreferences(language="ja")
    await prefs.save_member("", "7", replace(await prefs.member("", "7"), voice="Ethan"))
    await asyncio.gather(*(prefs.remember_language("7", ("ko", "ja")[n % 2]) for n in range(9)))
    await prefs.remember_language("7", "pt-BR")
    assert await prefs.member("", "7") == MemberPreferences(voice="Ethan", language="pt-BR")
    assert await prefs.member("g1", "7") == MemberPreferences()  # the DM row only
    await store.forget_member("7")
    assert await prefs.member("", "7") == MemberPreferences()


async def test_channel_roles_switch_on_and_off(store: Store) -> None:
    prefs = store.preferences
    assert not await prefs.channel_role("c1", "chat")
    await prefs.set_channel_role("g1", "c1", "chat", True)
    await prefs.set_channel_role("g1", "c2", "chat", True)
    await prefs.set_channel_role("g1", "c2", "auto_caption", True)
    await prefs.set_channel_role("g2", "c9", "chat", True)
    assert await prefs.channel_role("c1", "chat") and not await prefs.channel_role(
        "c1", "auto_caption")
    assert sorted(await prefs.channels_with("g1", "chat")) == ["c1", "c2"]
    assert await prefs.channels_with("g1", "auto_caption") == ["c2"]
    await prefs.set_channel_role("g1", "c1", "chat", False)
    assert not await prefs.channel_role("c1", "chat")
    assert await prefs.channels_with("g1", "chat") == ["c2"]
    assert await prefs.channels_with("g2", "chat") == ["c9"]
    assert await prefs.channels_with("g3", "chat") == []
    with pytest.raises(ValueError, match="unknown channel role"):
        await prefs.channel_role("c1", "chat; DROP TABLE turns")


async def test_caption_channels_post_transcripts_unless_told_otherwise(store: Store) -> None:
    prefs = store.preferences
    assert await prefs.caption_mode("c1") is CaptionMode.TRANSCRIPT  # never set
    await prefs.set_channel_role("g1", "c1", "auto_caption", True)
    assert await prefs.caption_mode("c1") is CaptionMode.TRANSCRIPT  # a new caption channel
    await prefs.set_caption_mode("g1", "c1", CaptionMode.BOTH)
    await prefs.set_caption_mode("g1", "c2", CaptionMode.DESCRIPTION)  # before captions are on
    await prefs.set_channel_role("g1", "c1", "auto_caption", False)
    await prefs.set_channel_role("g1", "c1", "auto_caption", True)
    assert await prefs.caption_mode("c1") is CaptionMode.BOTH  # kept while off
    assert await prefs.caption_mode("c2") is CaptionMode.DESCRIPTION
    assert not await prefs.channel_role("c2", "auto_caption")
    assert await prefs.channels_with("g1", "auto_caption") == ["c1"]


async def test_caption_languages_are_kept_for_servers_and_members(store: Store) -> None:
    prefs = store.preferences
    await prefs.save_guild("g1", GuildPreferences(voice="Ethan", caption_language="French"))
    assert await prefs.guild("g1") == GuildPreferences(voice="Ethan", caption_language="French")
    await prefs.save_member("g1", "7", MemberPreferences(caption_language="none"))
    await prefs.save_member("g1", "8", MemberPreferences(voice="Cherry",
                                                         caption_language="Japanese"))
    assert (await prefs.member("g1", "7")).caption_language == "none"
    assert await prefs.member("g1", "8") == MemberPreferences(voice="Cherry",
                                                              caption_language="Japanese")
    await prefs.save_member("g1", "8", MemberPreferences(voice="Cherry"))
    assert await prefs.member("g1", "8") == MemberPreferences(voice="Cherry")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_channels_captioning_before_transcripts_keep_descriptions(
        backend: str, make_store: StoreFactory) -> None:
    if backend == "postgresql":
        require_postgres()
    store = await make_store(backend, migrate=False)
    await migrate_to(store, 5 if backend == "sqlite" else 2)  # the release before transcripts
    prefs = store.preferences
    await prefs.set_channel_role("g1", "captioning", "auto_caption", True)
    await prefs.set_channel_role("g1", "chatting", "chat", True)
    assert await store.migrate()
    assert await prefs.caption_mode("captioning") is CaptionMode.DESCRIPTION
    assert await prefs.caption_mode("chatting") is CaptionMode.TRANSCRIPT


async def test_allow_lists_add_and_remove_roles_and_channels(store: Store) -> None:
    prefs = store.preferences
    assert await prefs.access("g1") == AccessList()
    await prefs.set_access("g1", "role", "10", True)
    await prefs.set_access("g1", "role", "10", True)  # twice is once
    await prefs.set_access("g1", "role", "11", True)
    await prefs.set_access("g1", "channel", "20", True)
    await prefs.set_access("g2", "channel", "30", True)
    assert await prefs.access("g1") == AccessList(roles=frozenset({"10", "11"}),
                                                  channels=frozenset({"20"}))
    await prefs.set_access("g1", "role", "10", False)
    await prefs.set_access("g1", "channel", "20", False)
    await prefs.set_access("g1", "channel", "99", False)  # never listed: nothing happens
    assert await prefs.access("g1") == AccessList(roles=frozenset({"11"}))
    assert await prefs.access("g2") == AccessList(channels=frozenset({"30"}))
    with pytest.raises(ValueError, match="unknown access kind"):
        await prefs.set_access("g1", "user", "7", True)


# --- members' data ----------------------------------------------------------------------------

def media(content_hash: str) -> MediaRef:
    return MediaRef(kind="image", name=f"{content_hash}.png", content_hash=content_hash)


async def test_a_deleted_message_takes_its_turn_and_unshared_media(store: Store) -> None:
    await store.add_turn("channel:1", turn("a", media=(media("aa"), media("shared")),
                                           source_message_id="m1", reply_message_ids=("r1",)))
    await store.add_turn("channel:1", turn("b", media=(media("shared"),),
                                           source_message_id="m2", reply_message_ids=("r2", "r3")))
    await store.add_turn("channel:2", turn("c", source_message_id="m3"))
    assert await store.forget_messages([]) == await store.forget_messages(["nothing"])
    removed = await store.forget_messages(["m1"])  # the member's message
    assert (removed.turns, removed.released_media) == (1, ("aa",))
    assert [t.text for t in await store.history("channel:1")] == ["b"]
    removed = await store.forget_messages(["r3", "m3"])  # a reply, and one in another channel
    assert (removed.turns, removed.released_media) == (2, ("shared",))
    assert await store.count_rows("turns") == 0
    assert (await store.forget_messages(["r2"])).turns == 0  # gone with its turn


async def test_a_deleted_question_names_the_reply_messages_left_in_discord(
        store: Store) -> None:
    await store.add_turn("channel:1", turn("a", source_message_id="m1",
                                           reply_message_ids=("r1", "r2", "v1")))
    await store.add_turn("channel:1", turn("b", source_message_id="m2",
                                           reply_message_ids=("r3", "r4")))
    await store.add_turn("channel:1", turn("c", source_message_id="m3",
                                           reply_message_ids=("r5",)))
    # A purge of one question and of one of another turn's replies (r4 stays in Discord,
    # but a reply's deletion never takes the member's question or its other replies).
    removed = await store.forget_messages(["m1", "r2", "r3"])
    assert (removed.turns, removed.orphaned_replies) == (2, ("r1", "v1"))
    removed = await store.forget_messages(["m3"])
    assert removed.orphaned_replies == ("r5",)
    await store.add_turn("channel:1", turn("d", speaker="8", source_message_id="m4",
                                           reply_message_ids=("r6",)))
    assert (await store.forget_member("8")).orphaned_replies == ()  # forget-me: none


async def test_referenced_media_names_the_hashes_some_turn_still_uses(store: Store) -> None:
    await store.add_turn("channel:1", turn("a", media=(media("aa"), media("shared")),
                                           source_message_id="m1"))
    await store.add_turn("channel:2", turn("b", media=(media("shared"),), source_message_id="m2"))
    asked = ["aa", "shared", "never", "aa"]
    assert await store.referenced_media(asked) == {"aa", "shared"}
    assert await store.referenced_media([]) == set()
    await store.forget_messages(["m1"])
    assert await store.referenced_media(asked) == {"shared"}
    await store.forget_messages(["m2"])
    assert await store.referenced_media(asked) == set()


async def test_forgetting_a_member_leaves_nothing_of_them_and_all_of_others(
        store: Store) -> None:
    for scope, guild in (("channel:a", "g1"), ("channel:b", "g2")):
        await store.add_turn(scope, turn(f"mine in {guild}", speaker="7",
                                         media=(media("mine"), media("both"))), usage("7"))
        await store.add_turn(scope, turn(f"theirs in {guild}", speaker="8",
                                         media=(media("both"),)), usage("8", guild=guild))
    await store.add_turn("dm:7", turn("my dm", speaker="7"), usage("7", guild=""))
    await store.set_system_prompt("dm:7", "my persona")
    await store.add_usage(usage("7", day="2025-03-02"))  # a caption
    prefs = store.preferences
    for guild in ("g1", "g2", ""):
        await prefs.save_member(guild, "7", MemberPreferences(voice="Ethan"))
        await prefs.save_member(guild, "8", MemberPreferences(voice="Cherry"))
    removed = await store.forget_member("7", own_scopes=["dm:7"])
    assert (removed.turns, removed.preferences, removed.usage) == (3, 3, 4)
    assert removed.released_media == ("mine",)
    for scope, guild in (("channel:a", "g1"), ("channel:b", "g2")):
        assert [(t.speaker_id, t.text) for t in await store.history(scope)] == [
            ("8", f"theirs in {guild}")]
        assert await prefs.member(guild, "7") == MemberPreferences()
        assert await prefs.member(guild, "8") == MemberPreferences(voice="Cherry")
    assert await store.recall("dm:7") == ([], None)
    assert await prefs.member("", "7") == MemberPreferences()
    assert await store.usage_by_model(since_day="2000-01-01", user_id="7") == []
    assert await store.usage_by_model(since_day="2000-01-01", user_id="8") == [(MODEL, 20, 10)]
    again = await store.forget_member("7", own_scopes=["dm:7"])
    assert (again.turns, again.preferences, again.usage) == (0, 0, 0)


async def test_pruning_deletes_old_turns_and_usage_in_batches(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import omnicord.store.postgres.store as postgres_store
    import omnicord.store.sqlite.store as sqlite_store

    monkeypatch.setattr(sqlite_store if store.backend == "sqlite" else postgres_store,
                        "PRUNE_BATCH", 2)
    for n in range(5):
        await store.add_turn("channel:1", turn(f"old{n}", media=(media(f"h{n}"), media("kept")),
                                               created_at=f"2025-01-0{n + 1}T10:00:00.000Z"))
    await store.add_turn("channel:1", turn("new", media=(media("kept"),),
                                           created_at="2025-03-01T10:00:00.000Z"))
    for day in ("2025-01-31", "2025-02-01", "2025-03-01"):
        await store.add_usage(usage(day=day))
    removed = await store.prune(turns_before="2025-02-01T00:00:00.000Z",
                                usage_before="2025-02-01")
    assert (removed.turns, removed.usage) == (5, 1)
    assert removed.released_media == tuple(f"h{n}" for n in range(5))
    assert [t.text for t in await store.history("channel:1")] == ["new"]
    assert await store.usage_by_model(since_day="2000-01-01") == [(MODEL, 20, 10)]
    nothing = await store.prune(turns_before="2025-02-01T00:00:00.000Z",
                                usage_before="2025-02-01")
    assert (nothing.turns, nothing.usage) == (0, 0)


async def add_old_turn(store: Store, speaker: str, media_json: str, source: str | None,
                       replies: str) -> None:
    """A turn as an older release wrote it (its schema lacks today's columns)."""
    values = ("channel:1", speaker, media_json, source, replies)
    conversation = ("INSERT INTO conversations (scope, created_at, updated_at) VALUES"
                    " ({0}, 'then', 'then') ON CONFLICT (scope) DO NOTHING")
    insert = ("INSERT INTO turns (conversation_id, speaker_id, speaker_name, text, media_json,"
              " reply_text, model, created_at, replied_at, source_message_id,"
              " reply_message_ids) SELECT id, {1}, 'Ada', 'old', {2}, 're', 'm', 'then',"
              " 'then', {3}, {4} FROM conversations WHERE scope = {0}")
    if isinstance(store, SqliteStore):
        def write(db) -> None:
            db.execute(conversation.format("?"), values[:1])
            db.execute(insert.format("?5", "?1", "?2", "?3", "?4"), (*values[1:], values[0]))

        await store.write(write)
    else:
        pool = store.database.pool  # type: ignore[attr-defined]
        await pool.execute(conversation.format("$1"), values[0])
        await pool.execute(insert.format("$1", "$2", "$3", "$4::text", "$5"), *values)


async def migrate_to(store: Store, version: int) -> None:
    """Apply the shipped migrations up to ``version`` only (an older release's schema)."""
    create = ("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
              " applied_at TEXT NOT NULL)")
    wanted = [m for m in migrations_of(store) if m.version <= version]
    if isinstance(store, SqliteStore):
        from omnicord.store.sqlite.migrate import _statements

        def apply(db) -> None:
            db.execute(create)
            for migration in wanted:
                for statement in _statements(migration.sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')",
                           (migration.version, migration.name))

        await store.write(apply)
        return
    async with store.database.pool.acquire() as conn:  # type: ignore[attr-defined]
        await conn.execute(create)
        for migration in wanted:
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, 'then')",
                               migration.version, migration.name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_turns_stored_before_the_upgrade_can_be_forgotten(
        backend: str, make_store: StoreFactory) -> None:
    if backend == "postgresql":
        require_postgres()
    store = await make_store(backend, migrate=False)
    await migrate_to(store, 5 if backend == "sqlite" else 2)
    await add_old_turn(store, "7", '[{"kind": "image", "content_hash": "h1"}]', "m1",
                       '["r1", "r2"]')
    await add_old_turn(store, "8", '[{"kind": "image", "content_hash": "h1"}]', None, "[]")
    assert await store.migrate()
    assert (await store.forget_messages(["r2"])).released_media == ()  # h1 is still used
    assert (await store.forget_member("8")).released_media == ("h1",)
    assert await store.count_rows("turns") == 0


# --- limits -----------------------------------------------------------------------------------

async def test_a_cooldown_admits_one_request_per_interval(store: Store) -> None:
    limits = store.limits
    assert await limits.try_cooldown("cooldown:7", 30) == 0
    wait = await limits.try_cooldown("cooldown:7", 30)
    assert 29 < wait <= 30
    assert await limits.try_cooldown("cooldown:8", 30) == 0  # keys are independent
    assert await limits.try_cooldown("cooldown:short", 3) == 0
    assert 0 < await limits.try_cooldown("cooldown:short", 3) <= 3  # seconds to spare
    await asyncio.sleep(3.05)
    assert await limits.try_cooldown("cooldown:short", 3) == 0
    assert await limits.try_cooldown("cooldown:none", 0) == 0
    assert await limits.try_cooldown("cooldown:none", 0) == 0


async def test_slots_admit_at_most_the_limit(store: Store) -> None:
    limits = store.limits
    async with limits.slot("slots:g1", 2), limits.slot("slots:g1", 2):
        with pytest.raises(SlotsFull):
            async with limits.slot("slots:g1", 2):
                pytest.fail("a third slot of two")
        async with limits.slot("slots:g2", 1):  # another key has slots of its own
            pass
    with pytest.raises(RuntimeError, match="inside"):
        async with limits.slot("slots:g1", 1):
            raise RuntimeError("inside")
    async with limits.slot("slots:g1", 1):  # the failed block gave its slot back
        with pytest.raises(SlotsFull):
            async with limits.slot("slots:g1", 1):
                pass


async def test_the_upstream_window_admits_per_minute(store: Store) -> None:
    limits = store.limits
    assert [await limits.try_upstream(3) for _ in range(3)] == [0, 0, 0]
    waits = [await limits.try_upstream(3) for _ in range(3)]
    assert all(59 < wait <= 60 for wait in waits), waits
    assert await limits.try_upstream(4) == 0  # the fourth of four fits
    assert await limits.try_upstream(4) > 0


async def test_pruning_limits_forgets_old_cooldowns_and_keeps_recent_ones(store: Store) -> None:
    limits = store.limits
    for key in ("cooldown:chat:1", "cooldown:caption:1"):
        assert await limits.try_cooldown(key, 30) == 0
    await asyncio.sleep(2.0)  # generous: a busy machine may stall the steps below a second
    assert await limits.try_cooldown("cooldown:chat:2", 30) == 0
    expired = await limits.prune(cooldowns_older_than=1.5)
    assert (expired.cooldowns, expired.leases) == (2, 0)
    assert await limits.try_cooldown("cooldown:chat:2", 30) > 0  # recent: still cooling down
    assert await limits.try_cooldown("cooldown:chat:1", 30) == 0  # forgotten: admitted anew
    assert (await limits.prune(cooldowns_older_than=1.5)).total == 0


async def test_cooldowns_hit_while_limits_are_pruned_are_never_lost(store: Store) -> None:
    limits = store.limits
    keys = [f"cooldown:chat:{n}" for n in range(40)]
    for key in keys:
        assert await limits.try_cooldown(key, 1.0) == 0
    await asyncio.sleep(1.6)  # every cooldown ran out and is old enough to prune

    async def hit(key: str) -> float:
        return await limits.try_cooldown(key, 1.0)

    # A hit only just made is never that old, even if a busy machine stalls the prunes.
    prunes = [limits.prune(cooldowns_older_than=1.5) for _ in range(4)]
    results = await asyncio.gather(*[hit(key) for key in keys], *prunes)
    assert results[:len(keys)] == [0.0] * len(keys)  # each old cooldown had run out
    assert sum(expired.cooldowns for expired in results[len(keys):]) <= len(keys)
    waits = [await limits.try_cooldown(key, 30) for key in keys]
    assert all(20 < wait <= 30 for wait in waits), waits  # every hit just made was kept


# --- migrations -------------------------------------------------------------------------------

async def test_migrations_apply_once(store: Store) -> None:
    latest = migrations_of(store)[-1].version
    assert await store.schema_version() == latest
    assert await store.pending_migrations() == []
    assert await store.migrate() == []
    assert await store.migrate() == []
    assert await store.schema_version() == latest


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_new_database_migrates_on_demand(backend: str, make_store: StoreFactory) -> None:
    if backend == "postgresql":
        require_postgres()
    store = await make_store(backend, migrate=False)
    shipped = migrations_of(store)
    assert shipped and all(re.fullmatch(r"\d{4}_[\w-]+\.sql", m.name) for m in shipped)
    assert await store.schema_version() == 0
    assert await store.pending_migrations() == [m.name for m in shipped]
    assert await store.migrate() == [m.version for m in shipped]
    assert await store.pending_migrations() == [] and await store.migrate() == []
    assert await store.schema_version() == shipped[-1].version


def test_each_backend_loads_only_its_own_migrations() -> None:
    from omnicord.store import postgres, sqlite
    from omnicord.store.postgres.migrate import load_migrations

    sqlite_folder = Path(sqlite.__file__).parent / "migrations"
    postgres_folder = Path(postgres.__file__).parent / "migrations"
    assert [m.name for m in sqlite_migrations()] == sorted(
        p.name for p in sqlite_folder.glob("*.sql"))
    assert [m.name for m in load_migrations()] == sorted(
        p.name for p in postgres_folder.glob("*.sql"))


# --- export, import and copy between backends -------------------------------------------------

async def fill(store: Store) -> None:
    """Some of everything a store keeps, in several scopes and servers."""
    for n in range(23):
        await store.add_turn(
            f"guild:1:channel:{n % 3}",
            turn(f"t{n}", media=(MediaRef(kind="image", name=f"{n}.png", tokens=n),),
                 usage={"prompt_tokens": n}, source_message_id=f"m{n}",
                 reply_message_ids=(f"r{n}",)),
            usage(str(n % 4), n, 1, guild="1", day=f"2025-03-{n % 28 + 1:02d}"))
    await store.set_system_prompt("guild:1:channel:0", "be brief")
    await store.set_system_prompt("dm:9", "persona without turns")
    await store.add_usage(usage("9", 4, 2, guild=""))
    prefs = store.preferences
    for guild in ("b", "a", "é", "Z"):
        await prefs.save_guild(guild, GuildPreferences(voice="Ethan", thinking=True,
                                                       daily_token_cap=500,
                                                       caption_language="German"))
        await prefs.save_member(guild, "7", MemberPreferences(reply_mode=ReplyMode.TEXT))
        await prefs.save_member(guild, "10", MemberPreferences(voice="Cherry"))
        await prefs.set_channel_role(guild, f"{guild}-55", "auto_caption", True)
        await prefs.set_channel_role(guild, f"{guild}-56", "chat", True)
        await prefs.set_caption_mode(guild, f"{guild}-55", CaptionMode.BOTH)
        await prefs.save_member(guild, "11", MemberPreferences(caption_language="Thai"))
        await prefs.set_access(guild, "role", "r1", True)
        await prefs.set_access(guild, "channel", f"{guild}-56", True)
    for guild, minutes in (("b", 30), ("a", 90)):
        await store.talk.save(guild, TalkSettings(enabled=True, minutes_per_day=minutes,
                                                  roles=frozenset({"r1", "r2"})))
        await store.talk.spend(guild, "2025-03-01", 12.5)
        await store.talk.spend(guild, "2025-03-02", 0.25)
    await store.reset("guild:1:channel:2")  # ids with gaps


async def export_all(store: Store, batch: int = 1000) -> dict[str, list[tuple[object, ...]]]:
    return {table: [row async for rows in store.export_rows(table, batch=batch) for row in rows]
            for table in COPY_TABLES}


@pytest.mark.parametrize(("source_backend", "target_backend"),
                         [("sqlite", "postgresql"), ("postgresql", "sqlite")])
async def test_copy_moves_every_row_unchanged(source_backend: str, target_backend: str,
                                              make_store: StoreFactory) -> None:
    require_postgres()
    source = await make_store(source_backend)
    target = await make_store(target_backend)
    await fill(source)
    exported = await export_all(source, batch=4)
    assert exported == await export_all(source)  # batches page through the whole table
    copied = await copy_store(source, target, batch=4)
    assert all(c.source_rows == c.target_rows > 0 for c in copied)
    assert await export_all(target) == exported
    assert [len(exported[t]) for t in COPY_TABLES] == [
        await target.count_rows(t) for t in COPY_TABLES]
    assert await target.history("guild:1:channel:0") == await source.history("guild:1:channel:0")
    assert await target.recall("dm:9") == ([], "persona without turns")
    # New rows continue above the copied ids, in every table with ids.
    await target.add_turn("guild:1:channel:0", turn("after"), usage())
    await target.set_system_prompt("dm:new", "new")
    after = await export_all(target)
    for table in ("conversations", "turns", "usage"):
        old_ids = [row[0] for row in exported[table]]
        new_ids = [row[0] for row in after[table]][len(old_ids):]
        assert new_ids and min(new_ids) > max(old_ids), table
    assert [t.text for t in await target.history("guild:1:channel:0")][-1] == "after"
    # The copied turns can be found from their messages: the target indexed them itself.
    assert (await target.forget_messages(["r3", "m6"])).turns == 2


# --- daily usage ------------------------------------------------------------------------------

async def test_daily_usage_is_summed_per_day_and_model_under_concurrent_writes(
        store: Store) -> None:
    writes = []
    for n in range(40):  # turns with usage and plain usage rows, written all at once
        day = f"2025-03-0{1 + n % 3}"
        row = usage(str(7 + n % 2), 10, 1, guild=f"g{n % 2}", day=day,
                    model=MODEL if n % 4 else "qwen-omni-turbo")
        writes.append(store.add_turn(f"channel:{n % 5}", turn(str(n)), row) if n % 2
                      else store.add_usage(row))
    await asyncio.gather(*writes)
    await store.add_usage(usage("7", 1000, 1000, day="2025-02-28"))  # before the range
    await store.add_usage(usage("7", 1000, 1000, day="2025-03-04"))  # after it
    daily = await store.usage_by_day(since_day="2025-03-01", until_day="2025-03-03")
    assert sum(row[2] for row in daily) == 400 and sum(row[3] for row in daily) == 40
    assert [row[:2] for row in daily] == sorted(row[:2] for row in daily)  # by day, then model
    assert ("2025-03-01", "qwen-omni-turbo", 40, 4) in daily  # n = 0, 12, 24, 36
    member = await store.usage_by_day(since_day="2025-03-01", until_day="2025-03-03",
                                      user_id="8")
    assert sum(row[2] for row in member) == 200 and {row[1] for row in member} == {MODEL}
    server = await store.usage_by_day(since_day="2025-03-02", guild_id="g0", user_id="7")
    assert [row[:2] for row in server] == [  # not 2025-03-04's: another server's
        ("2025-03-02", "qwen-omni-turbo"), ("2025-03-02", MODEL),
        ("2025-03-03", "qwen-omni-turbo"), ("2025-03-03", MODEL)]
    assert await store.usage_by_day(since_day="2025-03-05") == []


# --- slash-command sync state -----------------------------------------------------------------

async def test_the_command_tree_hash_is_kept_per_application(store: Store) -> None:
    assert await store.command_tree_hash("1") is None
    claim = await store.claim_command_sync("1", "hash-a")
    assert claim is not None
    assert await store.claim_command_sync("1", "hash-a") is None  # claimed: one syncer
    assert await store.claim_command_sync("1", "hash-b") is None
    assert await store.command_tree_hash("1") is None  # nothing synced yet
    await store.set_command_tree_hash("1", "hash-a", claim=claim)
    assert await store.command_tree_hash("1") == "hash-a"
    assert await store.claim_command_sync("1", "hash-a") is None  # synced already
    assert await store.command_tree_hash("2") is None  # another application
    changed = await store.claim_command_sync("1", "hash-b")
    assert changed is not None
    await store.release_command_sync("1", changed)  # the sync failed
    assert await store.command_tree_hash("1") == "hash-a"
    retry = await store.claim_command_sync("1", "hash-b")  # so the next start retries
    assert retry is not None and retry != changed
    await store.set_command_tree_hash("1", "hash-b", claim=retry)
    assert await store.command_tree_hash("1") == "hash-b"
    await store.set_command_tree_hash("1", "hash-c")  # forced, without a claim
    assert await store.command_tree_hash("1") == "hash-c"


async def test_an_abandoned_sync_claim_expires_and_a_late_release_spares_the_next(
        store: Store) -> None:
    stale = await store.claim_command_sync("1", "hash-a", seconds=0.05)
    assert stale is not None
    await asyncio.sleep(0.2)
    fresh = await store.claim_command_sync("1", "hash-a", seconds=60)
    assert fresh is not None and fresh != stale
    await store.release_command_sync("1", stale)  # the first process, late: not its claim now
    assert await store.claim_command_sync("1", "hash-a") is None


async def test_of_processes_claiming_a_sync_together_exactly_one_wins(
        store: Store, make_store: StoreFactory) -> None:
    if isinstance(store, SqliteStore):
        other: Store = SqliteStore(store.path)
    else:
        from omnicord.store.postgres.store import PostgresStore

        other = PostgresStore(store.url)  # type: ignore[attr-defined]

    async def start(process: Store, tree: str) -> bool:
        """One process starting: claim the tree's sync, and record it at once if claimed."""
        claim = await process.claim_command_sync("1", tree)
        if claim is not None:
            await process.set_command_tree_hash("1", tree, claim=claim)
        return claim is not None

    await other.open()
    try:
        claims = await asyncio.gather(*[
            (store if n % 2 else other).claim_command_sync("1", "hash-a") for n in range(12)])
        assert len([claim for claim in claims if claim is not None]) == 1
        await store.set_command_tree_hash("1", "hash-a", claim=next(filter(None, claims)))
        for release in range(8):  # each new tree: one syncs, even racing the one recording it
            started = await asyncio.gather(*[start(store if n % 2 else other, f"r{release}")
                                             for n in range(6)])
            assert started.count(True) == 1, release
    finally:
        await other.close()


async def test_a_message_finds_its_turn_and_conversation(store: Store) -> None:
    await store.add_turn("chain:1:100", turn("first", source_message_id="100",
                                             reply_message_ids=("101", "102")))
    await store.add_turn("chain:1:100", turn("second", source_message_id="103",
                                             reply_message_ids=("104",)))
    await store.add_turn("channel:2", turn("elsewhere", source_message_id="200"))
    for message, text in (("100", "first"), ("102", "first"), ("104", "second")):
        found = await store.turn_for_message(message)
        assert found is not None
        scope, kept = found
        assert (scope, kept.text, kept.source_message_id) == ("chain:1:100", text,
                                                              kept.source_message_id)
    found = await store.turn_for_message("101")
    assert found is not None and found[1].reply_message_ids == ("101", "102")
    assert (await store.turn_for_message("200"))[0] == "channel:2"  # type: ignore[index]
    assert await store.turn_for_message("999") is None
    await store.forget_messages(["103"])
    assert await store.turn_for_message("104") is None  # erased with its turn


async def test_a_place_holds_its_channel_history_and_reply_chains(store: Store) -> None:
    await store.add_turn("channel:5", turn("shared"))
    await store.add_turn("chain:5:1", turn("chain one"))
    await store.add_turn("chain:5:2", turn("chain two"))
    await store.add_turn("chain:55:3", turn("another channel"))  # a prefix of digits, not ours
    await store.add_turn("chain:5_:4", turn("a wildcard in the prefix"))
    found = await store.place_history("channel:5", "chain:5:")
    assert [(scope, kept.text) for scope, kept in found] == [
        ("channel:5", "shared"), ("chain:5:1", "chain one"), ("chain:5:2", "chain two")]
    newest = await store.place_history("channel:5", "chain:5:", limit=2)
    assert [kept.text for _, kept in newest] == ["chain one", "chain two"]
    assert await store.reset_place("channel:5", "chain:5:") == 3
    assert await store.place_history("channel:5", "chain:5:") == []
    assert [t.text for t in await store.history("chain:55:3")] == ["another channel"]
    assert [t.text for t in await store.history("chain:5_:4")] == ["a wildcard in the prefix"]


async def test_channels_and_threads_keep_their_own_settings(store: Store) -> None:
    from omnicord.store.records import ConversationMode, PlaceSettings

    assert await store.preferences.place("10") == PlaceSettings()
    await store.preferences.set_channel_role("g", "10", "chat", True)
    chosen = PlaceSettings(ConversationMode.CHANNEL, "Be brief.", "qwen-omni-turbo")
    await store.preferences.save_place("g", "10", chosen)
    await store.preferences.save_place("g", "11", PlaceSettings(system_prompt="A thread's"))
    assert await store.preferences.place("10") == chosen
    assert await store.preferences.channel_role("10", "chat")  # the switches stay
    assert (await store.preferences.place("11")).system_prompt == "A thread's"
    await store.preferences.save_place("g", "10", PlaceSettings())
    assert await store.preferences.place("10") == PlaceSettings()
