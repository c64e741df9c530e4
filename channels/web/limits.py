"""In-memory rate limits of the website chat: per conversation and per client IP address.

Each key has a token bucket holding up to ``per_minute`` messages and refilling at
``per_minute`` a minute, so a burst up to the limit is fine and a steady flood is held to it.
Memory is bounded: at most ``max_keys`` buckets are kept, the least recently used dropped first
(an idle bucket has refilled, so dropping it forgets nothing that matters).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "WebRateLimits"]

_DEFAULT_MAX_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key; ``clock`` is monotonic seconds (``time.monotonic``)."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = _DEFAULT_MAX_KEYS,
    ) -> None:
        if per_minute < 1 or max_keys < 1:
            raise ValueError("per_minute and max_keys must be at least 1")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may send again, or None when it may send now (nothing taken)."""
        tokens = self._refilled(key)
        if tokens >= 1.0:
            return None
        return (1.0 - tokens) / self._rate

    def take(self, key: str) -> None:
        """Count one message for ``key`` (call after :meth:`retry_after` said it may send)."""
        tokens = self._refilled(key)
        self._buckets[key] = _Bucket(max(tokens - 1.0, 0.0), self._clock())
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return self._capacity
        elapsed = max(self._clock() - bucket.updated, 0.0)
        return min(self._capacity, bucket.tokens + elapsed * self._rate)


class WebRateLimits:
    """Both limits of one chat message — the conversation's and the client IP's — and, apart
    from them, the client IP's limit on (re)connections."""

    def __init__(
        self,
        conversation: RateLimiter,
        ip: RateLimiter,
        connections: RateLimiter | None = None,
    ) -> None:
        self._conversation = conversation
        self._ip = ip
        self._connections = connections or RateLimiter(120)

    def acquire(self, conversation_id: str, ip: str) -> float | None:
        """None and one message counted on both limits when both allow it; otherwise the whole
        seconds to wait (at least 1), and nothing counted."""
        waits = [self._conversation.retry_after(conversation_id), self._ip.retry_after(ip)]
        longest = max((w for w in waits if w is not None), default=None)
        if longest is not None:
            return float(max(1, math.ceil(longest)))
        self._conversation.take(conversation_id)
        self._ip.take(ip)
        return None

    def acquire_connection(self, ip: str) -> float | None:
        """None and one (re)connection counted for ``ip`` when allowed; else seconds to wait."""
        wait = self._connections.retry_after(ip)
        if wait is not None:
            return float(max(1, math.ceil(wait)))
        self._connections.take(ip)
        return None
