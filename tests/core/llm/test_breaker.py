"""The circuit breaker: on its own with a hand-moved clock, and inside the client against the
fake server (an open circuit sends nothing to the endpoint)."""

from __future__ import annotations

import pytest

from core.errors import LLMBadOutput, LLMRateLimited, LLMUnavailable
from core.llm import BreakerState, ChatMessage, CircuitBreaker, LLMClient
from core.metrics import Metrics
from tests.core.llm.conftest import ClientFactory, ManualClock
from tests.core.llm.fake_openai import FakeOpenAI, RecordedRequest, Reply

HELLO = [ChatMessage("user", "hello")]


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state now (a call, so type checkers do not assume it unchanged)."""
    return breaker.state


async def ask(client: LLMClient) -> str:
    return (await client.text(purpose="reply", system="Be brief.", messages=HELLO)).content


def test_opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown(
    clock: ManualClock,
) -> None:
    breaker = CircuitBreaker(failures=3, cooldown_seconds=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert state(breaker) == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open"
    assert not breaker.allow()
    clock.advance(29.9)
    assert not breaker.allow()
    clock.advance(0.2)
    assert state(breaker) == "half_open"
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_success()
    assert state(breaker) == "closed"
    assert breaker.consecutive_failures == 0


def test_a_failed_trial_opens_the_circuit_for_another_cooldown(clock: ManualClock) -> None:
    breaker = CircuitBreaker(failures=2, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open"
    clock.advance(9)
    assert not breaker.allow()


def test_an_abandoned_trial_lets_the_next_caller_try(clock: ManualClock) -> None:
    breaker = CircuitBreaker(failures=1, cooldown_seconds=5, clock=clock)
    breaker.allow()
    breaker.record_failure()
    clock.advance(5)
    assert breaker.allow()
    breaker.record_abandoned()
    assert breaker.allow()


def test_a_success_resets_the_count_of_consecutive_failures(clock: ManualClock) -> None:
    breaker = CircuitBreaker(failures=2, cooldown_seconds=5, clock=clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) == "closed"


def test_nonsense_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failures=0, cooldown_seconds=5)


async def test_an_open_circuit_stops_calls_reaching_the_endpoint_until_a_trial_succeeds(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics, clock: ManualClock
) -> None:
    fake_openai.always(fake_openai.error_reply(500))
    client = await make_client(max_retries=0, breaker_failures=2, cooldown_seconds=30)
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await ask(client)
    assert len(fake_openai.requests) == 2

    for _ in range(3):  # open: fail fast, nothing sent
        with pytest.raises(LLMUnavailable, match="circuit"):
            await ask(client)
    assert len(fake_openai.requests) == 2
    sample = 'shopbot_llm_calls_total{outcome="circuit_open",purpose="reply"} 3.0'
    assert sample in metrics.render().decode()

    clock.advance(30)  # half-open: the trial fails, the circuit opens again
    with pytest.raises(LLMUnavailable):
        await ask(client)
    assert len(fake_openai.requests) == 3
    with pytest.raises(LLMUnavailable, match="circuit"):
        await ask(client)
    assert len(fake_openai.requests) == 3

    fake_openai.always(fake_openai.text_reply("We're back."))
    clock.advance(30)  # the next trial succeeds and closes the circuit
    assert await ask(client) == "We're back."
    assert state(client.breaker("reply")) == "closed"
    assert await ask(client) == "We're back."
    assert len(fake_openai.requests) == 5


async def test_a_rate_limited_call_counts_as_a_failure_but_bad_output_does_not(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    client = await make_client(max_retries=0, breaker_failures=2)
    fake_openai.answer(fake_openai.error_reply(429))
    with pytest.raises(LLMRateLimited):
        await ask(client)
    assert client.breaker("reply").consecutive_failures == 1
    fake_openai.answer(fake_openai.no_choices_reply())
    with pytest.raises(LLMBadOutput):
        await ask(client)
    assert client.breaker("reply").consecutive_failures == 0  # the endpoint answered
    assert state(client.breaker("reply")) == "closed"


async def test_an_endpoint_failing_one_kind_of_call_stops_being_asked_only_that(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    # Short structured calls get answers; the longer text calls fail (an overloaded server).
    def respond(request: RecordedRequest) -> Reply:
        if request.response_format is not None:
            return fake_openai.json_reply({"intent": "order_status"})
        return fake_openai.error_reply(503)

    fake_openai.respond_with(respond)
    client = await make_client(max_retries=0, breaker_failures=2)
    schema = {"type": "object", "properties": {"intent": {"type": "string"}}}
    for _ in range(3):
        answer = await client.structured(
            purpose="understand", system="s", messages=HELLO, schema_name="x", schema=schema
        )
        assert answer.data == {"intent": "order_status"}
        with pytest.raises(LLMUnavailable):
            await client.text(purpose="phrase", system="s", messages=HELLO)
    assert state(client.breaker("phrase")) == "open"
    assert state(client.breaker("understand")) == "closed"
    text_requests = [r for r in fake_openai.requests if r.response_format is None]
    assert len(text_requests) == 2  # the third phrasing never reached the endpoint
