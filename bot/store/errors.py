"""What a store raises when its database cannot be used, on either backend."""

from __future__ import annotations

from omnicord.errors import ConfigError


class StoreUnavailable(ConfigError):
    """The database cannot be opened, reached or used."""
