"""Latency summaries: nearest-rank percentiles in milliseconds (no third-party statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Timing", "percentile", "summarise"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Latency summary of one stage, in milliseconds.

    ``p50_ms``/``p99_ms`` are wall-clock (what a user waits, and what the targets are about);
    ``cpu_p50_ms``/``cpu_p99_ms`` are the process's CPU time over the same calls, which other
    processes on a shared machine cannot inflate — a wall p99 far above the CPU p99 means the
    call waited (for a thread, a lock, or the scheduler), not that it computed.
    """

    name: str
    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    cpu_p50_ms: float = math.nan
    cpu_p99_ms: float = math.nan


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(name: str, samples_ns: Sequence[int], cpu_ns: Sequence[int] = ()) -> Timing:
    """p50/p99/mean/max of ``samples_ns`` (and p50/p99 of ``cpu_ns``) in milliseconds."""
    values = sorted(sample / 1e6 for sample in samples_ns)
    cpu = sorted(sample / 1e6 for sample in cpu_ns)
    mean = sum(values) / len(values) if values else math.nan
    return Timing(
        name=name,
        count=len(values),
        p50_ms=percentile(values, 0.50),
        p99_ms=percentile(values, 0.99),
        mean_ms=mean,
        max_ms=values[-1] if values else math.nan,
        cpu_p50_ms=percentile(cpu, 0.50),
        cpu_p99_ms=percentile(cpu, 0.99),
    )
