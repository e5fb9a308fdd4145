"""Conversation storage: the interface callers use and its SQLite implementation."""

from bot.store.base import ConversationStore, MediaRef, Turn
from bot.store.sqlite import SqliteStore

__all__ = ["ConversationStore", "MediaRef", "SqliteStore", "Turn"]
