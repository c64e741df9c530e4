"""Prometheus metrics for one running shopbot, in a registry of its own.

Each :class:`Metrics` owns its own ``CollectorRegistry`` rather than the process-global one, so
several apps (and tests) can live in one process without "duplicated timeseries" errors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

__all__ = ["TURN_SECONDS_BUCKETS", "Metrics"]

# A turn costs a few milliseconds locally; the upper buckets catch slow storage or CRM calls.
TURN_SECONDS_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
)


class Metrics:
    """Counters and the turn latency histogram that ``GET /metrics`` exposes.

    The engine reports turns, fallbacks and handoffs; channels report requests they rejected;
    the dispatcher reports messages sent and given up.
    """

    # generate_latest writes text format 0.0.4, which every Prometheus server understands; the
    # library's CONTENT_TYPE_LATEST names a newer version in recent releases.
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._messages = Counter(
            "shopbot_messages",
            "Messages handled, by channel, recognised intent and outcome.",
            ("channel", "intent", "outcome"),
            registry=self.registry,
        )
        self._turn_seconds = Histogram(
            "shopbot_turn_seconds",
            "Time the engine took to handle one message, by channel.",
            ("channel",),
            buckets=TURN_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self._fallbacks = Counter(
            "shopbot_fallbacks",
            "Pipeline stages that failed and fell back to a safe answer, by stage.",
            ("stage",),
            registry=self.registry,
        )
        self._handoffs = Counter(
            "shopbot_handoffs",
            "Conversations handed to human staff, by channel and reason.",
            ("channel", "reason"),
            registry=self.registry,
        )
        self._rejected = Counter(
            "shopbot_rejected_requests",
            "Requests refused before reaching the engine (bad input, auth), by channel and reason.",
            ("channel", "reason"),
            registry=self.registry,
        )
        self._outbound_sent = Counter(
            "shopbot_outbound_sent",
            "Messages delivered to a messaging platform, by channel.",
            ("channel",),
            registry=self.registry,
        )
        self._outbound_failures = Counter(
            "shopbot_outbound_failures",
            "Messages given up on after the platform refused or kept failing, by channel and "
            "reason (auth, rate_limited, unavailable, no_sender).",
            ("channel", "reason"),
            registry=self.registry,
        )

    def observe_turn(self, channel: str, intent: str | None, outcome: str, seconds: float) -> None:
        """Count one handled message and record how long the turn took."""
        self._messages.labels(channel, intent or "unknown", outcome).inc()
        self._turn_seconds.labels(channel).observe(seconds)

    def count_fallback(self, stage: str) -> None:
        """Count a pipeline stage that failed and was replaced by its fallback."""
        self._fallbacks.labels(stage).inc()

    def count_handoff(self, channel: str, reason: str) -> None:
        """Count a conversation handed to a human."""
        self._handoffs.labels(channel, reason).inc()

    def count_rejected(self, channel: str, reason: str) -> None:
        """Count a request refused before the engine saw it (``reason`` is the error code)."""
        self._rejected.labels(channel, reason).inc()

    def count_outbound_sent(self, channel: str) -> None:
        """Count a message the platform accepted."""
        self._outbound_sent.labels(channel).inc()

    def count_outbound_failure(self, channel: str, reason: str) -> None:
        """Count a message that will not be delivered."""
        self._outbound_failures.labels(channel, reason).inc()

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry)
