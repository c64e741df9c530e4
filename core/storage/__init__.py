"""The conversation store: sessions, the turn log and handoffs in one SQL database."""

from __future__ import annotations

from core.storage.store import SQLITE_BUSY_TIMEOUT_MS, SQLConversationStore

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "SQLConversationStore"]
