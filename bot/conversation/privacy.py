"""Members' data under members' control: erasing what Omnicord kept when a message is deleted
or a member asks, pruning turns past the retention period, and the data statement that says
what is kept, where, for how long and who else sees it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from omnicord.i18n import DEFAULT_LANGUAGE, language_of, t, text
from omnicord.i18n.formatting import format_number
from omnicord.media.cache import MediaCache
from omnicord.store.interface import Store
from omnicord.store.records import ERASURE_KEEP_SECONDS, Kept, Removed

#: How long this process remembers where a deleted message was: longer than any caption
#: takes, so captions posted for a voice message deleted meanwhile go at once.
DELETION_MEMORY_SECONDS = 15 * 60
_MAX_REMEMBERED = 10_000
#: How far back, and how many, stored turns are checked for messages deleted while the bot
#: was away (at each new gateway session).
MISSED_DELETIONS_DAYS = 7
MISSED_DELETIONS_LIMIT = 500

#: Deletes Omnicord's own messages in Discord: called with a channel (or thread, or DM
#: channel) id and the message ids. Set by the Discord side; it never raises.
MessageDeleter = Callable[[str, Sequence[str]], Awaitable[None]]


def dm_scope(user_id: int | str) -> str:
    """The conversation scope of a member's direct messages with the bot."""
    return f"dm:{user_id}"


class RecentDeletions:
    """Where messages deleted lately were (monotonic seconds; this process only): turns need
    no such memory (tombstones in the store stop them), captions posted meanwhile do."""

    def __init__(self, keep_seconds: float = DELETION_MEMORY_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._channels: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def note(self, message_ids: Sequence[str], channel_id: str) -> None:
        """Remember that these messages, in ``channel_id``, were deleted now."""
        now = time.monotonic()
        for message_id in message_ids:
            self._channels[message_id] = (now, channel_id)
            self._channels.move_to_end(message_id)
        while self._channels and (len(self._channels) > _MAX_REMEMBERED or next(
                iter(self._channels.values()))[0] < now - self.keep_seconds):
            self._channels.popitem(last=False)

    def channel_of(self, message_id: str) -> str:
        """The channel of a message deleted lately ("" if unknown or not deleted)."""
        return self._channels.get(message_id, (0.0, ""))[1]


class PostedCaptions:
    """The caption and transcript messages this process posted lately for voice messages
    (kept in memory only, the newest ``limit``), so they can go when a voice message does."""

    def __init__(self, limit: int = _MAX_REMEMBERED) -> None:
        self.limit = limit
        self._posted: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def note(self, message_id: str, caption_ids: Sequence[str]) -> None:
        """Remember the messages posted for ``message_id`` (added to any posted before)."""
        self._posted[message_id] = (*self._posted.pop(message_id, ()), *caption_ids)
        while len(self._posted) > self.limit:
            self._posted.popitem(last=False)

    def take(self, message_ids: Sequence[str]) -> list[str]:
        """Forget, and return, the messages posted for these messages."""
        return [caption for message_id in message_ids
                for caption in self._posted.pop(message_id, ())]


class Privacy:
    """Erasures over the store and the media cache, and the retention period."""

    def __init__(self, store: Store, cache: MediaCache | None = None, *,
                 retention_days: int = 0) -> None:
        self.store = store
        self.cache = cache
        self.retention_days = retention_days
        self.deletions = RecentDeletions()
        self.captions = PostedCaptions()
        #: Deletes the replies (and captions) left to deleted messages; None: they stay.
        self.delete_messages: MessageDeleter | None = None

    async def messages_deleted(self, message_ids: Sequence[str], *,
                               channel_id: str = "") -> Removed:
        """Erase the turns these messages (in ``channel_id``) made or answered, and their media
        once unused, and stop any turn from them still to come; then delete, in that channel,
        Omnicord's replies (and captions) to those that were members' messages."""
        if channel_id:
            self.deletions.note(message_ids, channel_id)
        removed = await self._released(await self.store.forget_messages(message_ids))
        captions = self.captions.take(message_ids)
        await self._delete(channel_id, [*removed.orphaned_replies, *captions])
        return removed

    async def message_edited(self, message_id: str) -> Removed:
        """Erase the turn a member's edited message made (its words are no longer what the
        member says), and stop any turn from it still to come. Omnicord's reply stays in
        Discord."""
        return await self._released(
            await self.store.forget_messages([message_id], why=Kept.EDITED))

    async def captions_posted(self, message_id: str, channel_id: str,
                              caption_ids: Sequence[str]) -> None:
        """Remember the captions posted for a voice message, to delete with it; if it was
        deleted meanwhile, delete them now."""
        if self.deletions.channel_of(message_id):
            await self._delete(channel_id, caption_ids)
        else:
            self.captions.note(message_id, caption_ids)

    async def forget_member(self, user_id: str) -> Removed:
        """Erase every turn a member spoke (and the replies to them), their DMs, preferences
        and usage, in every server; nothing of theirs begun before now is stored later, by
        any process."""
        return await self._released(
            await self.store.forget_member(user_id, own_scopes=[dm_scope(user_id)]))

    async def reply_kept(self, kept: Kept, *, channel_id: str,
                         reply_ids: Sequence[str]) -> None:
        """Call with what the store made of a reply's turn: if its member's message was deleted
        while it was under way, Omnicord's reply messages go too."""
        if kept is Kept.DELETED:
            await self._delete(channel_id, reply_ids)

    async def recent_sources(self, *, now: datetime | None = None) -> list[tuple[str, str]]:
        """(scope, message id) of the turns to check for messages deleted while the bot was
        away: the newest ``MISSED_DELETIONS_LIMIT`` of the last ``MISSED_DELETIONS_DAYS``."""
        since = (now or datetime.now(UTC)) - timedelta(days=MISSED_DELETIONS_DAYS)
        return await self.store.recent_sources(since=iso(since), limit=MISSED_DELETIONS_LIMIT)

    async def prune_tombstones(self, *, now: datetime | None = None) -> int:
        """Forget tombstones older than any reply can take (``ERASURE_KEEP_SECONDS``)."""
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=ERASURE_KEEP_SECONDS)
        return await self.store.prune_erasures(older_than=iso(cutoff))

    async def prune_expired(self, *, days: int | None = None,
                            now: datetime | None = None) -> Removed | None:
        """Delete turns older than the retention period (``days`` or OMNICORD_RETENTION_DAYS;
        None when there is none) and usage from before both it and the current month."""
        days = self.retention_days if days is None else days
        if days <= 0:
            return None
        turns_before, usage_before = retention_cutoffs(days, now or datetime.now(UTC))
        return await self._released(await self.store.prune(turns_before=turns_before,
                                                           usage_before=usage_before))

    async def _delete(self, channel_id: str, message_ids: Sequence[str]) -> None:
        if channel_id and message_ids and self.delete_messages is not None:
            await self.delete_messages(channel_id, message_ids)

    async def _released(self, removed: Removed) -> Removed:
        if self.cache is not None and removed.released_media:
            await self.cache.drop(removed.released_media)
        return removed


def iso(moment: datetime) -> str:
    """A time as the store writes times (ISO 8601 UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def retention_cutoffs(days: int, now: datetime) -> tuple[str, str]:
    """The creation time before which turns go, and the day before which usage goes (never
    this month's, which ``/omni usage`` totals)."""
    cutoff = now.astimezone(UTC) - timedelta(days=days)
    return iso(cutoff), min(cutoff.strftime("%Y-%m-%d"), now.strftime("%Y-%m-01"))


# --- the data statement -----------------------------------------------------------------------

#: Model Studio endpoints (host, or a region id in a workspace host) and where they are.
_REGIONS = (
    ("dashscope-intl.aliyuncs.com", "singapore"),
    ("dashscope-us.aliyuncs.com", "us"),
    ("dashscope.aliyuncs.com", "beijing"),
    (".ap-southeast-1.", "singapore"),
    (".us-east-1.", "us"),
    (".cn-beijing.", "beijing"),
    (".cn-hongkong.", "hongkong"),
    (".ap-northeast-1.", "tokyo"),
    (".eu-central-1.", "frankfurt"),
)


def model_service(base_url: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Who members' messages are sent to, from DASHSCOPE_BASE_URL: Alibaba Cloud Model Studio
    and its region, or the other service's host name (in ``language``)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host.endswith(".aliyuncs.com"):
        for marker, region in _REGIONS:
            if host == marker or (marker.startswith(".") and marker in f".{host}"):
                return t(language, "privacy.service.region",
                         region=text(f"privacy.region.{region}"))
        return t(language, "privacy.service.host", host=host)
    return t(language, "privacy.service.other",
             host=host or text("privacy.service.unnamed_host"))


@dataclass(frozen=True)
class DataFacts:
    """What the data statement depends on."""

    base_url: str
    retention_days: int
    backend: str  # "sqlite" or "postgresql"
    cache_days: float


def data_statement(facts: DataFacts, language: str = DEFAULT_LANGUAGE) -> str:
    """A few lines for members, in ``language``: what is stored, where, for how long, sent to
    whom, and how to delete it."""
    kept = (text("privacy.statement.kept_days", count=facts.retention_days)
            if facts.retention_days > 0 else text("privacy.statement.kept_until_deleted"))
    database = text("privacy.statement.postgresql" if facts.backend == "postgresql"
                    else "privacy.statement.sqlite")
    # As many decimals as the setting has (1.5 days, not 1.50), in the language's notation.
    decimals = len(f"{facts.cache_days:g}".partition(".")[2])
    cache_days = format_number(language_of(language), facts.cache_days, decimals=decimals)
    return "\n".join([
        t(language, "privacy.statement.data", database=database, kept=kept,
          cache_days=cache_days),
        t(language, "privacy.statement.sent_to",
          service=model_service(facts.base_url, language)),
        t(language, "privacy.statement.deleting"),
    ])
