"""The conversation store: sessions, the turn log and handoffs in one SQL database."""

from __future__ import annotations

from core.storage.runner import SQLITE_BUSY_TIMEOUT_MS
from core.storage.store import SQLConversationStore

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "SQLConversationStore"]
