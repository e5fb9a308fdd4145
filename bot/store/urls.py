"""What OMNICORD_DB names: a SQLite file (a path or ``sqlite:///path``) or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

from omnicord.errors import ConfigError
from omnicord.secrets import mask_url


def is_postgresql_url(database: str) -> bool:
    """Whether a database setting is a PostgreSQL URL."""
    return database.startswith(("postgresql://", "postgres://"))


def sqlite_path(database: str) -> Path:
    """The file of a SQLite database setting: a path, or ``sqlite:///path``."""
    if is_postgresql_url(database):
        raise ConfigError("OMNICORD_DB names a PostgreSQL database, not a SQLite file")
    # As SQLAlchemy spells it: sqlite:///relative.db, sqlite:////absolute.db
    return Path(database.removeprefix("sqlite:///"))


def without_password(url: str) -> str:
    """A database setting fit to print: any password, token or key replaced by ``***``."""
    return mask_url(url)
