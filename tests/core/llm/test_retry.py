"""When a failed model call is tried again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from core.errors import LLMAuthError, LLMBadOutput, LLMError, LLMRateLimited, LLMUnavailable
from core.llm import LLMEndpoint, RetryPolicy, retry_after_seconds


def test_retry_hints_are_read_from_either_header() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "100", "retry-after": "9"}) == 0.1
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0
    assert retry_after_seconds({}) is None


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(
        max_retries=5, base_delay_seconds=0.1, max_wait_seconds=0.5, rng=random.Random(1)
    )
    error = LLMUnavailable("down")
    delays = [policy.delay_before_retry(attempt, error) for attempt in range(5)]
    assert 0.05 <= (delays[0] or 0) < 0.15
    assert 0.1 <= (delays[1] or 0) < 0.3
    assert all(delay is not None and delay <= 0.5 for delay in delays)
    assert policy.delay_before_retry(5, error) is None  # retries used up


@pytest.mark.parametrize(
    "error",
    [LLMAuthError("401"), LLMBadOutput("junk"), LLMError("400")],
)
def test_only_rate_limits_and_unavailability_are_retried(error: LLMError) -> None:
    assert RetryPolicy().delay_before_retry(0, error) is None


def test_a_servers_hint_replaces_the_backoff_unless_it_is_too_long() -> None:
    policy = RetryPolicy(max_wait_seconds=2.0)
    assert policy.delay_before_retry(0, LLMRateLimited("429", retry_after=1.5)) == 1.5
    assert policy.delay_before_retry(0, LLMRateLimited("429", retry_after=20)) is None


def test_the_key_is_not_in_the_endpoints_repr() -> None:
    endpoint = LLMEndpoint(api_key="sk-very-secret", model="gpt-4o-mini")
    assert "sk-very-secret" not in repr(endpoint)
