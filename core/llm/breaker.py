"""A circuit breaker that stops calling a failing model endpoint for a while.

After ``failures`` consecutive failed calls the circuit *opens*: calls are refused at once,
without touching the network, for ``cooldown_seconds``. Then it is *half-open*: one trial call
goes through while the others are still refused; its success closes the circuit, its failure
opens it for another cooldown. One process, one event loop: no locking needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures of one endpoint and decides whether a call may go out.

    ``clock`` returns seconds on a monotonic scale (``time.monotonic`` by default; tests
    inject their own to pass the cooldown without waiting).
    """

    def __init__(
        self,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        if cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must not be negative")
        self._threshold = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """``closed`` (calls go out), ``open`` (refused) or ``half_open`` (one trial allowed)."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self._cooldown:
            return "open"
        return "half_open"

    @property
    def consecutive_failures(self) -> int:
        """Failed calls since the last success."""
        return self._consecutive_failures

    def fresh(self) -> CircuitBreaker:
        """A new, closed breaker with these settings (and clock)."""
        return CircuitBreaker(self._threshold, self._cooldown, self._clock)

    def allow(self) -> bool:
        """Whether a call may go out now; in the half-open state, only the first caller's.

        A caller that was allowed must report the outcome with :meth:`record_success`,
        :meth:`record_failure` or, if it was cancelled, :meth:`record_abandoned`.
        """
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        """The endpoint answered: close the circuit."""
        self._consecutive_failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """The call failed: open the circuit at the threshold, or again after a failed trial."""
        self._consecutive_failures += 1
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        if was_trial or self._consecutive_failures >= self._threshold:
            self._opened_at = self._clock()

    def record_abandoned(self) -> None:
        """An allowed call was cancelled before it finished: let another trial through."""
        self._trial_in_flight = False
