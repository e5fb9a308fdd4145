"""Conversation storage: the interface callers use and its SQLite implementation."""

from omnicord.media.types import MediaRef
from omnicord.store.base import ConversationStore, Turn
from omnicord.store.sqlite import SqliteStore

__all__ = ["ConversationStore", "MediaRef", "SqliteStore", "Turn"]
