"""When to try a failed model call again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from core.errors import LLMError, LLMRateLimited, LLMUnavailable
from core.retry_after import retry_after_seconds  # re-exported for the model client

__all__ = ["RetryPolicy", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with jitter for rate limits and unavailable endpoints.

    Attempt ``n`` (0-based) waits ``base_delay_seconds * 2**n`` scaled by a random factor in
    [0.5, 1.5), at most ``max_wait_seconds``. A server's retry-after hint replaces the
    back-off; a hint longer than ``max_wait_seconds`` is not waited for at all: the caller
    gets the error at once and the local pipeline answers instead of keeping a customer
    waiting.
    """

    max_retries: int = 2
    base_delay_seconds: float = 0.25
    max_wait_seconds: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay_before_retry(self, attempt: int, error: LLMError) -> float | None:
        """Seconds to wait before retrying after failed ``attempt``; ``None``: do not retry."""
        if attempt >= self.max_retries:
            return None
        if not isinstance(error, LLMRateLimited | LLMUnavailable):
            return None
        hint: float | None = error.retry_after
        if hint is not None:
            return hint if hint <= self.max_wait_seconds else None
        backoff = self.base_delay_seconds * 2.0**attempt * self.rng.uniform(0.5, 1.5)
        return min(backoff, self.max_wait_seconds)
