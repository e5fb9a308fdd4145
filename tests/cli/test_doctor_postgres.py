"""``omnicord doctor``'s database check on PostgreSQL (skips without a reachable server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omnicord.cli import main
from omnicord.store.postgres.migrate import load_migrations

from tests.cli.test_doctor import doctor, env  # noqa: F401  (env is a fixture)
from tests.store.conftest import postgres_url  # noqa: F401  (a fixture)


def test_doctor_on_postgresql_fresh_migrated_and_unreachable(
    env: Path, postgres_url: str, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNICORD_DB", postgres_url)
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 0
    first = load_migrations()[0].name
    assert lines["database"].startswith(
        f"note  database: postgresql {postgres_url}, schema version 0, pending migrations "
        f"{first}")
    assert lines["database"].endswith("to apply them now, run `omnicord db migrate`")
    assert main(["db", "migrate"]) == 0
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 0
    assert lines["database"] == (f"ok    database: postgresql {postgres_url}, schema version "
                                 f"{load_migrations()[-1].version}, up to date")
    password = "doctor-secret-pw"
    monkeypatch.setenv("OMNICORD_DB", f"postgresql://postgres:{password}@127.0.0.1:9/none")
    status, lines, out = doctor(capsys, "--offline")
    assert status == 1
    assert lines["database"].startswith("FAIL  database: OMNICORD_DB: cannot connect to ")
    assert password not in out
