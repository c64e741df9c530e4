"""Fixtures: the fake OpenAI-compatible server, a metrics registry and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from core.llm import CircuitBreaker, LLMClient, LLMEndpoint, RetryPolicy
from core.metrics import Metrics
from tests.core.llm.fake_openai import FakeOpenAI

API_KEY = "sk-test-0123456789abcdef"


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


ClientFactory = Callable[..., Awaitable[LLMClient]]


@pytest.fixture
async def make_client(
    fake_openai: FakeOpenAI, metrics: Metrics, clock: ManualClock
) -> AsyncIterator[ClientFactory]:
    """``await make_client(max_retries=…, timeout_seconds=…, breaker_failures=…, provider=…)``:
    a started client talking to the fake, reporting to ``metrics``; stopped afterwards."""
    clients: list[LLMClient] = []

    async def factory(
        *,
        model: str = "gpt-4o-mini",
        provider: str = "openai",
        max_retries: int = 2,
        timeout_seconds: float = 2.0,
        breaker_failures: int = 5,
        cooldown_seconds: float = 30.0,
        max_wait_seconds: float = 2.0,
        **endpoint: Any,
    ) -> LLMClient:
        if provider == "azure":
            endpoint.setdefault("azure_endpoint", fake_openai.azure_endpoint)
            endpoint.setdefault("azure_api_version", "2024-10-21")
        else:
            endpoint.setdefault("base_url", fake_openai.base_url)
        client = LLMClient(
            LLMEndpoint(api_key=API_KEY, model=model, provider=provider, **endpoint),  # type: ignore[arg-type]
            timeout_seconds=timeout_seconds,
            max_tokens=300,
            retry=RetryPolicy(
                max_retries=max_retries, base_delay_seconds=0.01, max_wait_seconds=max_wait_seconds
            ),
            breaker=CircuitBreaker(breaker_failures, cooldown_seconds, clock=clock),
            observer=metrics,
        )
        clients.append(client)
        await client.start()
        return client

    yield factory
    for client in clients:
        await client.stop()
