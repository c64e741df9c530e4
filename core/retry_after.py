"""A server's Retry-After hint in seconds, shared by the model client and the channels."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's retry hint: ``retry-after-ms`` (OpenAI), else ``retry-after`` in seconds
    or as an HTTP date. ``None`` when absent or unreadable; never negative.
    """
    if not headers:
        return None
    lowered = {name.lower(): value for name, value in headers.items()}
    if (millis := _number(lowered.get("retry-after-ms"))) is not None:
        return max(millis / 1000, 0.0)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    if (seconds := _number(raw)) is not None:
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, not the local time zone
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - time.time(), 0.0)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value == value and value != float("inf") else None
