"""Replacing a conversation's turn (a regenerated answer, or the answer to an edited question):
the SQL both backends build ``replace_turn`` from.

The replacing turn is checked against the tombstones as ``add_turn`` checks a turn, with one
difference: an "edited" tombstone keeps it out only if the edit came at or after the turn began
(``created_at``). The answer to an edited question begins after that edit, so the edit does not
block it; an edit during it does (and so does a later one of an edit storm). A "deleted"
tombstone always blocks, and a member erasure blocks what began before it, as for ``add_turn``.
"""

from __future__ import annotations

from omnicord.store.sql.erasures import VERDICT_ORDER

#: The kind of the tombstone that keeps a replacing turn out ($1, $2: the speaker and whom the
#: usage counts against; $3: when the turn began; $4: its member's message id).
BLOCKED = f"""
    SELECT kind FROM erasures
    WHERE (kind = 'member' AND subject IN ($1, $2) AND erased_at >= $3)
       OR (kind = 'deleted' AND subject = $4)
       OR (kind = 'edited' AND subject = $4 AND erased_at >= $3)
    ORDER BY {VERDICT_ORDER} LIMIT 1"""

#: Delete the turn being replaced: the scope's turn made from the message $1 ($2: the scope).
#: A plain delete, no tombstone: the message still stands, its new turn replaces the old.
DELETE_OLD = """
    DELETE FROM turns
    WHERE id IN (SELECT turn_id FROM turn_refs WHERE kind = 'message' AND ref = $1)
      AND source_message_id = $1
      AND conversation_id IN (SELECT id FROM conversations WHERE scope = $2)"""
