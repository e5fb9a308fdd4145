"""The store's shape: one schema version for both backends, and backends that share code only
through the store's common modules, never each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from omnicord import store as store_package
from omnicord.store.interface import Store
from omnicord.store.postgres.migrate import load_migrations as postgres_migrations
from omnicord.store.sqlite.migrate import load_migrations as sqlite_migrations

from tests.conftest import run_cli
from tests.store.conftest import (  # noqa: F401  (postgres_url is a fixture)
    StoreFactory,
    postgres_url,
    require_postgres,
)

STORE = Path(store_package.__file__).parent
BACKEND_PACKAGES = ("sqlite", "postgres")


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, absolute names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("backend", BACKEND_PACKAGES)
def test_no_backend_imports_the_other(backend: str) -> None:
    other = next(name for name in BACKEND_PACKAGES if name != backend)
    forbidden = f"omnicord.store.{other}"
    for path in sorted((STORE / backend).glob("*.py")):
        leaks = {m for m in imported_modules(path) if m == forbidden
                 or m.startswith(f"{forbidden}.")}
        assert not leaks, f"{path.name} imports {sorted(leaks)}"


def test_shared_modules_import_no_backend() -> None:
    for path in sorted([*STORE.glob("*.py"), *(STORE / "sql").glob("*.py")]):
        if path.name == "__init__.py" and path.parent == STORE:
            continue  # the entry point opens whichever backend OMNICORD_DB names, lazily
        leaks = {m for m in imported_modules(path) for backend in BACKEND_PACKAGES
                 if m.startswith(f"omnicord.store.{backend}")}
        assert not leaks, f"{path.relative_to(STORE)} imports {sorted(leaks)}"


def test_both_backends_ship_the_same_schema_version() -> None:
    assert sqlite_migrations()[-1].version == postgres_migrations()[-1].version
    shared = {m.version for m in sqlite_migrations()} & {m.version for m in postgres_migrations()}
    newest = sqlite_migrations()[-1].version
    assert newest in shared  # migrations are numbered alike from the one schema version on


async def test_both_backends_report_the_same_schema_version(make_store: StoreFactory) -> None:
    require_postgres()
    sqlite = await make_store("sqlite")
    postgresql = await make_store("postgresql")
    assert await sqlite.schema_version() == await postgresql.schema_version()
    assert await sqlite.pending_migrations() == await postgresql.pending_migrations() == []


def test_db_status_says_the_same_version_on_both_backends(
        cli_env: dict[str, str], tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    versions = []
    for database in (str(tmp_path / "server.db"), postgres_url):
        env = cli_env | {"OMNICORD_DB": database}
        assert run_cli(["db", "migrate"], env, tmp_path).returncode == 0
        status = run_cli(["db", "status"], env, tmp_path)
        assert status.returncode == 0, status.stderr
        versions.append(next(line for line in status.stdout.splitlines()
                             if "schema version:" in line).split("schema version:")[1].strip())
    assert versions[0] == versions[1] == str(sqlite_migrations()[-1].version)


async def test_channels_with_sorts_and_is_indexed_on_both(store: Store) -> None:
    for channel in ("30", "4", "200"):
        await store.preferences.set_channel_role("1", channel, "chat", True)
    assert await store.preferences.channels_with("1", "chat") == ["200", "30", "4"]  # bytes
    find = ("SELECT name FROM sqlite_master WHERE name = $1" if store.backend == "sqlite"
            else "SELECT indexname FROM pg_indexes WHERE indexname = $1")
    executor = store.executor  # type: ignore[attr-defined]
    assert await executor.fetchrow(find, "channel_settings_by_guild") is not None
