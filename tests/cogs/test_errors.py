"""What a member reads when something fails: one line, nothing of the server's insides."""

from __future__ import annotations

from omnicord.cogs.delivery.friendly import STORE_DOWN, friendly
from omnicord.store.errors import StoreUnavailable


def test_a_database_that_is_down_is_one_line_without_its_url() -> None:
    error = StoreUnavailable("OMNICORD_DB: lost the connection 5 times to "
                             "postgresql://omnicord:***@db.internal:5432/omnicord: "
                             "connection refused")
    shown = friendly(error)
    assert shown == STORE_DOWN.render("en")
    assert "db.internal" not in shown and "OMNICORD_DB" not in shown
