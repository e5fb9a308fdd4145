"""Real ``omnicord db status``, ``db migrate``, ``db copy`` and ``doctor --offline`` processes
on PostgreSQL with a password in every shape of OMNICORD_DB: it appears nowhere in their
output, as written or decoded, whether the database is reached or not."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import run_cli
from tests.store.conftest import postgres_url  # noqa: F401  (a fixture)

#: How to put a password into a working URL (``postgresql://postgres@host:port/db``).
USERINFO = "userinfo"
QUERY = "query"
SHAPES = [  # (a plain user:password@ was masked already: test_doctor_postgres.py)
    (QUERY, "password=query-Secret-43"),
    (QUERY, "PWD=upper-Secret-44"),
    (USERINFO, "hash#broken-Secret-45"),
    (USERINFO, "slash/broken-Secret-46"),
    (USERINFO, "quest?broken-Secret-47"),
    (USERINFO, "at@broken-Secret-48"),
]


def pieces(secret: str) -> list[str]:
    """The secret, its decoded form, and every run of it between URL delimiters long enough
    to recognise."""
    found = {secret, unquote(secret)}
    found.update(part for part in re.split(r"[#/?@%]", secret) if len(part) >= 4)
    return sorted(found)


def with_password(url: str, shape: str, secret: str) -> str:
    if shape == USERINFO:
        return url.replace("postgres@", f"postgres:{secret}@", 1)
    return f"{url}?sslmode=disable&{secret}"


def assert_hidden(secret: str, *outputs: str) -> None:
    value = secret.partition("=")[2] or secret
    for output in outputs:
        for piece in pieces(value):
            assert piece not in output, output
        assert "Traceback" not in output


@pytest.mark.parametrize(("shape", "secret"), SHAPES)
def test_db_and_doctor_never_print_the_password(
    shape: str, secret: str, cli_env: dict[str, str], tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    env = cli_env | {"OMNICORD_DB": with_password(postgres_url, shape, secret)}
    for command in (["db", "status"], ["db", "migrate"], ["db", "status"],
                    ["doctor", "--offline"]):
        done = run_cli(command, env, tmp_path)
        assert_hidden(secret, done.stdout, done.stderr)
        assert "***" in done.stdout + done.stderr, (command, done.stdout, done.stderr)
        if done.returncode == 2:  # a URL the driver cannot use: one line saying why
            assert done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith("omnicord: error: OMNICORD_DB: cannot ")
            assert "percent-encode" in done.stderr or shape == QUERY


@pytest.mark.parametrize(("shape", "secret"), [SHAPES[0], SHAPES[2], SHAPES[3]])
def test_a_connection_failure_line_never_prints_the_password(
    shape: str, secret: str, cli_env: dict[str, str], tmp_path: Path,
) -> None:
    unreachable = with_password("postgresql://postgres@127.0.0.1:9/none", shape, secret)
    env = cli_env | {"OMNICORD_DB": unreachable}
    for command in (["db", "status"], ["db", "migrate"], ["doctor", "--offline"]):
        done = run_cli(command, env, tmp_path)
        assert done.returncode in (1, 2)
        assert "cannot connect to postgresql://postgres" in done.stdout + done.stderr
        assert_hidden(secret, done.stdout, done.stderr)
    copy = run_cli(["db", "copy", "--from", unreachable, "--to", str(tmp_path / "t.db")],
                   cli_env, tmp_path)
    assert copy.returncode == 2 and copy.stderr.count("\n") == 1
    assert_hidden(secret, copy.stdout, copy.stderr)
    assert unquote(secret) not in copy.stderr
