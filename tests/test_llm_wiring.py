"""The language model as ``shopbot serve`` wires it: on exactly when its key is set, asked only
about what the local pipeline is unsure of, stored with the turn, and never the reason a
customer sees an error."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.types import Identity, InboundMessage
from shopbot.app import Runtime
from tests.conftest import ServeShopbot
from tests.core.llm.fake_openai import FakeOpenAI, RecordedRequest, Reply

UNSURE = "my thingy from you guys never showed up"  # the local model is unsure of it
KEY = "sk-test-key"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _model_env(base_url: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "SHOPBOT_LLM_BASE_URL": base_url}


async def _say(url: str, text: str, user: str = "u1") -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        body = {"user_id": user, "text": text}
        async with http.post(f"{url}/api/v1/messages", json=body) as response:
            assert response.status == 200, await response.text()
            result: dict[str, Any] = await response.json()
            return result


def _reply_text(result: dict[str, Any]) -> str:
    return " ".join(reply["text"] for reply in result["replies"])


async def _inbound_rows(runtime: Runtime, result: dict[str, Any]) -> list[Any]:
    records = await runtime.store.turns(result["conversation_id"])
    return [record for record in records if record.direction == "in"]


async def test_without_a_key_there_is_no_model(serve_shopbot: ServeShopbot) -> None:
    url, runtime = await serve_shopbot()
    assert runtime.llm is None
    result = await _say(url, UNSURE)
    assert "rephrase" in _reply_text(result).lower()  # the local clarify loop, as always
    (row,) = await _inbound_rows(runtime, result)
    assert row.model_calls == ()


async def test_an_unsure_message_is_understood_by_the_model_and_its_cost_is_logged(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    url, runtime = await serve_shopbot(_model_env(fake_openai.base_url))
    verdict = {
        "intent": "order_status",
        "order_number": None,
        "email": None,
        "phone": None,
        "product": None,
        "problem": None,
    }
    fake_openai.always(fake_openai.json_reply(verdict, tokens=(321, 17)))
    result = await _say(url, UNSURE)
    assert "order number" in _reply_text(result).lower()  # order status: which order?
    (request,) = fake_openai.requests
    assert request.header("authorization") == f"Bearer {KEY}"
    (row,) = await _inbound_rows(runtime, result)
    (call,) = row.model_calls
    assert (call.purpose, call.tokens_in, call.tokens_out, call.outcome) == (
        "understand",
        321,
        17,
        "ok",
    )
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        metrics = await response.text()
    assert 'shopbot_llm_calls_total{outcome="ok",purpose="understand"} 1.0' in metrics
    assert 'shopbot_llm_tokens_total{direction="in"} 321.0' in metrics


async def test_a_confident_message_never_reaches_the_model(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    url, _ = await serve_shopbot(_model_env(fake_openai.base_url))
    result = await _say(url, "Where is my order #12345?")
    assert "email" in _reply_text(result).lower()
    result = await _say(url, "carol@example.com")
    assert "#12345" in _reply_text(result)
    assert fake_openai.requests == []


async def test_a_model_that_cannot_be_reached_costs_the_customer_nothing(
    serve_shopbot: ServeShopbot, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    url, runtime = await serve_shopbot(_model_env(dead))
    result = await _say(url, UNSURE)
    assert "rephrase" in _reply_text(result).lower()  # the local answer
    result = await _say(url, "Where is my order #12345?")
    assert "email" in _reply_text(result).lower()
    (row, _) = await _inbound_rows(runtime, result)
    assert [call.outcome for call in row.model_calls] == ["unavailable"]


ORDER_STATUS = {
    "intent": "order_status",
    "order_number": None,
    "email": None,
    "phone": None,
    "product": None,
    "problem": None,
}


def _answer_spanish(fake: FakeOpenAI, draft: str) -> None:
    """The model: order status for what it is asked to understand, ``draft`` as a phrasing."""

    def respond(request: RecordedRequest) -> Reply:
        if request.response_format is not None:
            return fake.json_reply(ORDER_STATUS)
        return fake.text_reply(draft, tokens=(250, 40))

    fake.respond_with(respond)


async def test_a_spanish_speaking_customer_gets_the_order_status_in_spanish(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    draft = "Tu pedido #12345 se está procesando y saldrá en un plazo de 2 días."
    _answer_spanish(fake_openai, draft)
    url, runtime = await serve_shopbot(_model_env(fake_openai.base_url))
    await _say(url, "¿Dónde está mi pedido #12345?")
    result = await _say(url, "carol@example.com")  # no language of its own: the chat's
    assert _reply_text(result) == draft
    phrase_request = next(r for r in fake_openai.requests if r.response_format is None)
    prompt = json.dumps(phrase_request.messages)
    assert "#12345" in prompt and "being processed" in prompt  # grounded on the template
    assert "carol@example.com" not in prompt  # the customer's email is masked
    (_, row) = await _inbound_rows(runtime, result)
    assert [(c.purpose, c.outcome) for c in row.model_calls] == [("phrase", "ok")]


async def test_a_phrasing_that_changes_a_fact_is_replaced_by_the_template(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    _answer_spanish(fake_openai, "Tu pedido #12345 ya fue entregado ayer.")  # invented
    url, runtime = await serve_shopbot(_model_env(fake_openai.base_url))
    await _say(url, "¿Dónde está mi pedido #12345?")
    result = await _say(url, "carol@example.com")
    assert _reply_text(result).startswith(
        "Your order #12345 is currently being processed and is expected to ship within 2 days."
    )
    (_, row) = await _inbound_rows(runtime, result)
    assert [(c.purpose, c.outcome) for c in row.model_calls] == [("phrase", "rejected")]


async def test_english_order_answers_keep_the_template_without_a_call(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    _answer_spanish(fake_openai, "never used")
    url, _ = await serve_shopbot(_model_env(fake_openai.base_url))
    await _say(url, "Where is my order #12345?")
    result = await _say(url, "carol@example.com")
    assert "being processed" in _reply_text(result)
    assert fake_openai.requests == []


async def test_phrasing_can_be_switched_off(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    _answer_spanish(fake_openai, "Tu pedido #12345 se está procesando.")
    env = _model_env(fake_openai.base_url) | {"SHOPBOT_LLM_PHRASING": "off"}
    url, _ = await serve_shopbot(env)
    await _say(url, "¿Dónde está mi pedido #12345?")
    result = await _say(url, "carol@example.com")
    assert "being processed" in _reply_text(result)
    assert all(r.response_format is not None for r in fake_openai.requests)


async def test_staff_answers_are_never_sent_to_the_model(
    serve_shopbot: ServeShopbot, fake_openai: FakeOpenAI
) -> None:
    _answer_spanish(fake_openai, "never used")
    env = _model_env(fake_openai.base_url) | {"SHOPBOT_LLM_PHRASING": "all"}
    _, runtime = await serve_shopbot(env)
    staff = Identity("staff", "T0STAFF:U0AGENT")
    message = InboundMessage("slack", "T0STAFF:U0AGENT", "where is order #1002?", "Ev1", staff)
    result = await runtime.engine.handle(message)
    answer = " ".join(reply.text for reply in result.replies)
    assert "alice@example.com" in answer  # the full staff view...
    assert all(r.response_format is not None for r in fake_openai.requests)  # ...never phrased
