"""Tombstones and the turns they delete: SQL text both backends build their statements from."""

from __future__ import annotations

from omnicord.store.records import Kept

#: Tombstone kinds: an erased member (subject: a user id), a deleted or edited message
#: (subject: a message id). The message kinds' values are ``Kept`` values.
MEMBER_ERASED = "member"
MESSAGE_ERASURES = (Kept.DELETED.value, Kept.EDITED.value)
#: Which tombstone decides a turn's fate when several apply.
VERDICT_ORDER = "CASE kind WHEN 'deleted' THEN 0 WHEN 'edited' THEN 1 ELSE 2 END"
#: What an erasure reads back from the turns it deletes.
DELETED_COLUMNS = "media_json, source_message_id, reply_message_ids"
#: Turns deleted per transaction by ``prune``.
PRUNE_BATCH = 2000
#: The oldest turns, ``prune``'s batch ($1: created before, $2: how many).
OLDER_THAN = "id IN (SELECT id FROM turns WHERE created_at < $1 LIMIT $2)"


def verdict(blocked: str | None) -> Kept:
    """A turn's fate from the kind of the tombstone that blocked it (None: stored)."""
    if blocked is None:
        return Kept.STORED
    return Kept.FORGOTTEN if blocked == MEMBER_ERASED else Kept(blocked)
