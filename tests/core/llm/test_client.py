"""The LLM client with the real ``openai`` package against the fake OpenAI-compatible server."""

from __future__ import annotations

import logging
import time

import pytest

from core.errors import LLMAuthError, LLMBadOutput, LLMError, LLMRateLimited, LLMUnavailable
from core.llm import ChatMessage
from core.metrics import Metrics
from tests.core.llm.conftest import API_KEY, ClientFactory
from tests.core.llm.fake_openai import FakeOpenAI

SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["order_status", "unknown"]},
        "order_number": {"type": ["string", "null"]},
    },
    "required": ["intent", "order_number"],
    "additionalProperties": False,
}
QUESTION = [ChatMessage("user", "where is my order 12345?")]


async def extract(client_factory: ClientFactory, **options: object) -> object:
    client = await client_factory(**options)
    return await client.structured(
        purpose="extraction",
        system="Extract the customer's intent.",
        messages=QUESTION,
        schema_name="shop_request",
        schema=SCHEMA,
    )


def metric(metrics: Metrics, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of /metrics, 0 when absent."""
    for line in metrics.render().decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def calls(metrics: Metrics, outcome: str, purpose: str = "extraction") -> float:
    return metric(metrics, f'shopbot_llm_calls_total{{outcome="{outcome}",purpose="{purpose}"}}')


async def test_structured_answer_is_parsed_and_its_tokens_counted(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.answer(
        fake_openai.json_reply({"intent": "order_status", "order_number": "12345"}, (150, 22))
    )
    client = await make_client()
    response = await client.structured(
        purpose="extraction",
        system="Extract the customer's intent.",
        messages=QUESTION,
        schema_name="shop_request",
        schema=SCHEMA,
    )
    assert response.data == {"intent": "order_status", "order_number": "12345"}
    assert (response.tokens_in, response.tokens_out) == (150, 22)
    assert response.model == fake_openai.model
    assert response.purpose == "extraction"
    assert response.finish_reason == "stop"
    assert response.latency_seconds > 0
    assert calls(metrics, "ok") == 1
    assert metric(metrics, 'shopbot_llm_tokens_total{direction="in"}') == 150
    assert metric(metrics, 'shopbot_llm_tokens_total{direction="out"}') == 22
    assert metric(metrics, 'shopbot_llm_seconds_count{purpose="extraction"}') == 1


async def test_the_request_carries_the_schema_the_model_the_key_and_the_conversation(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    fake_openai.answer(fake_openai.json_reply({"intent": "unknown", "order_number": None}))
    client = await make_client(model="gpt-4o-mini")
    await client.structured(
        purpose="extraction",
        system="Extract the customer's intent.",
        messages=[
            ChatMessage("user", "hi"),
            ChatMessage("assistant", "Hello! How can I help?"),
            ChatMessage("user", "order 12345"),
        ],
        schema_name="shop_request",
        schema=SCHEMA,
    )
    [request] = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.model == "gpt-4o-mini"
    assert request.header("authorization") == f"Bearer {API_KEY}"
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "shop_request", "schema": SCHEMA, "strict": True},
    }
    assert request.messages == [
        {"role": "system", "content": "Extract the customer's intent."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "order 12345"},
    ]
    assert request.body["max_tokens"] == 300
    assert request.body["temperature"] == 0.0


async def test_text_call_returns_the_plain_answer(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.answer(fake_openai.text_reply("  Your order #12345 has shipped.\n"))
    client = await make_client()
    response = await client.text(purpose="reply", system="Answer politely.", messages=QUESTION)
    assert response.content == "Your order #12345 has shipped."
    assert response.data is None
    assert "response_format" not in fake_openai.requests[0].body
    assert calls(metrics, "ok", purpose="reply") == 1


async def test_a_rate_limit_is_retried_after_the_servers_hint(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.answer(fake_openai.error_reply(429, headers={"retry-after-ms": "300"}))
    fake_openai.answer(fake_openai.json_reply({"intent": "order_status", "order_number": "1"}))
    response = await extract(make_client)
    assert response.data == {"intent": "order_status", "order_number": "1"}  # type: ignore[attr-defined]
    first, second = fake_openai.requests
    assert second.at - first.at >= 0.29
    assert calls(metrics, "ok") == 1


async def test_a_retry_after_longer_than_a_customer_should_wait_fails_at_once(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.always(fake_openai.error_reply(429, headers={"retry-after": "60"}))
    started = time.monotonic()
    with pytest.raises(LLMRateLimited) as caught:
        await extract(make_client)
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 60
    assert len(fake_openai.requests) == 1
    assert calls(metrics, "rate_limited") == 1


async def test_server_errors_give_unavailable_after_the_retries(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.always(fake_openai.error_reply(500))
    with pytest.raises(LLMUnavailable):
        await extract(make_client, max_retries=2)
    assert len(fake_openai.requests) == 3
    assert calls(metrics, "unavailable") == 1


async def test_a_server_error_then_success_is_retried_with_backoff(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    fake_openai.answer(fake_openai.error_reply(503))
    fake_openai.answer(fake_openai.json_reply({"intent": "unknown", "order_number": None}))
    response = await extract(make_client, max_retries=1)
    assert response.data == {"intent": "unknown", "order_number": None}  # type: ignore[attr-defined]
    assert len(fake_openai.requests) == 2


async def test_a_bad_key_fails_without_retrying(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.always(fake_openai.error_reply(401, code="invalid_api_key"))
    with pytest.raises(LLMAuthError):
        await extract(make_client, max_retries=2)
    assert len(fake_openai.requests) == 1
    assert calls(metrics, "auth") == 1


async def test_a_bad_request_fails_without_retrying(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    fake_openai.always(fake_openai.error_reply(400, code="invalid_json_schema"))
    with pytest.raises(LLMError) as caught:
        await extract(make_client, max_retries=2)
    assert type(caught.value) is LLMError
    assert len(fake_openai.requests) == 1


async def test_malformed_json_is_bad_output_and_its_tokens_still_count(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.answer(fake_openai.malformed_json_reply())
    with pytest.raises(LLMBadOutput):
        await extract(make_client)
    assert len(fake_openai.requests) == 1  # the endpoint works: asking again costs, not helps
    assert calls(metrics, "bad_output") == 1
    assert metric(metrics, 'shopbot_llm_tokens_total{direction="in"}') == 120


@pytest.mark.parametrize("kind", ["no_choices", "refusal", "tool_call", "json_list"])
async def test_answers_without_a_json_object_are_bad_output(
    fake_openai: FakeOpenAI, make_client: ClientFactory, kind: str
) -> None:
    replies = {
        "no_choices": fake_openai.no_choices_reply(),
        "refusal": fake_openai.refusal_reply(),
        "tool_call": fake_openai.tool_call_reply("lookup_order", {"order_number": "12345"}),
        "json_list": fake_openai.json_reply(["order_status"]),
    }
    fake_openai.answer(replies[kind])
    with pytest.raises(LLMBadOutput):
        await extract(make_client)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Please sign in</body></html>", "text/html"),
        ('["not", "a", "completion"]', "application/json"),
        ('{"error": "model is loading"}', "application/json"),
        ('{"id": "x", "choices": [], "usage": {"total_tokens": 3}}', "application/json"),
    ],
    ids=["html_page", "json_list", "json_error_with_200", "usage_without_counts"],
)
async def test_a_200_that_is_no_chat_completion_is_bad_output(
    fake_openai: FakeOpenAI,
    make_client: ClientFactory,
    metrics: Metrics,
    body: str,
    content_type: str,
) -> None:
    # The SDK hands such bodies through unvalidated; the stages catch only LLMError, so
    # anything else would lose the local understanding for a traceback.
    fake_openai.answer(fake_openai.raw_reply(body, content_type))
    with pytest.raises(LLMBadOutput):
        await extract(make_client)
    assert calls(metrics, "bad_output") == 1


async def test_a_hanging_endpoint_is_unavailable_after_the_timeout(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.always(fake_openai.hang_reply())
    started = time.monotonic()
    with pytest.raises(LLMUnavailable):
        await extract(make_client, timeout_seconds=0.3, max_retries=1)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 2.5  # two attempts of 0.3 s each, and no more
    assert len(fake_openai.requests) == 2
    assert calls(metrics, "unavailable") == 1


async def test_an_unreachable_endpoint_is_unavailable(make_client: ClientFactory) -> None:
    client = await make_client(base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(LLMUnavailable):
        await client.text(purpose="reply", system="s", messages=QUESTION)


async def test_azure_calls_the_deployment_with_the_api_version_and_key_header(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    fake_openai.answer(fake_openai.json_reply({"intent": "order_status", "order_number": "7"}))
    response = await extract(make_client, provider="azure", model="shop-gpt4o")
    assert response.data == {"intent": "order_status", "order_number": "7"}  # type: ignore[attr-defined]
    [request] = fake_openai.requests
    assert request.path == "/openai/deployments/shop-gpt4o/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.header("api-key") == API_KEY
    assert request.header("authorization") is None


async def test_a_call_before_start_is_a_programming_error(fake_openai: FakeOpenAI) -> None:
    from core.llm import LLMClient, LLMEndpoint

    client = LLMClient(LLMEndpoint(api_key=API_KEY, model="m", base_url=fake_openai.base_url))
    with pytest.raises(RuntimeError, match="start"):
        await client.text(purpose="reply", system="s", messages=QUESTION)
    await client.start()
    assert (await client.text(purpose="reply", system="s", messages=QUESTION)).content
    await client.stop()


async def test_neither_the_prompt_nor_the_key_is_logged(
    fake_openai: FakeOpenAI, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.answer(fake_openai.error_reply(500))
    fake_openai.answer(fake_openai.malformed_json_reply())
    secret_text = "my email is alice@example.com and my card 4111 1111 1111 1111"
    client = await make_client(max_retries=1)
    with caplog.at_level(logging.DEBUG, logger="core.llm"), pytest.raises(LLMBadOutput):
        await client.structured(
            purpose="extraction",
            system="Extract.",
            messages=[ChatMessage("user", secret_text)],
            schema_name="shop_request",
            schema=SCHEMA,
        )
    ours = [record for record in caplog.records if record.name.startswith("core.llm")]
    assert ours, "the retry and the failure are logged"
    for record in ours:
        message = record.getMessage()
        assert "alice@example.com" not in message
        assert "4111" not in message
        assert API_KEY not in message
        assert record.levelno <= logging.INFO


async def test_a_deadline_bounds_the_whole_call_and_counts_for_the_breaker(
    fake_openai: FakeOpenAI, make_client: ClientFactory, metrics: Metrics
) -> None:
    fake_openai.always(fake_openai.hang_reply())
    client = await make_client(timeout_seconds=5.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match="deadline"):
        await client.text(purpose="reply", system="s", messages=QUESTION, deadline_seconds=0.3)
    assert time.monotonic() - started < 1.5
    assert client.breaker("reply").consecutive_failures == 1
    assert calls(metrics, "unavailable", purpose="reply") == 1


async def test_a_slow_model_is_waited_for_within_the_timeout(
    fake_openai: FakeOpenAI, make_client: ClientFactory
) -> None:
    fake_openai.latency_seconds = 0.2
    fake_openai.respond_with(
        lambda request: fake_openai.text_reply(f"You said: {request.messages[-1]['content']}")
    )
    client = await make_client(timeout_seconds=1.0)
    response = await client.text(purpose="reply", system="s", messages=QUESTION)
    assert response.content == "You said: where is my order 12345?"
    assert response.latency_seconds >= 0.2
