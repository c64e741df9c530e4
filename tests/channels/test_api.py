"""The JSON HTTP API on a real server on 127.0.0.1, driven by a real aiohttp client.

The whole stack is real: the trained intent model, the seeded demo shop and the SQLite
conversation store in the test's own directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from shopbot.app import Runtime
from tests.conftest import ServeShopbot

SEED_ANSWER = (
    "Your order #12345 is currently being processed and is expected to ship within 2 days."
)
TOKEN = "s3cret-token"


@dataclass
class Api:
    """A running API server and a client session pointed at it."""

    base: str
    client: aiohttp.ClientSession
    runtime: Runtime

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.client.post(self.base + path, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def say(self, user_id: str, text: str, **kwargs: Any) -> dict[str, Any]:
        status, body = await self.post(
            "/api/v1/messages", json={"user_id": user_id, "text": text}, **kwargs
        )
        assert status == 200, body
        reply: dict[str, Any] = body
        return reply

    async def metrics(self) -> str:
        async with self.client.get(self.base + "/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            return await response.text()


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def start_api(serve_shopbot: ServeShopbot) -> AsyncIterator[ApiFactory]:
    """Starts the real runtime and API server with the given environment; stops them after."""
    clients: list[aiohttp.ClientSession] = []

    async def start(env: dict[str, str] | None = None) -> Api:
        url, runtime = await serve_shopbot(env)
        clients.append(aiohttp.ClientSession())
        return Api(url, clients[-1], runtime)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def api(start_api: ApiFactory) -> Api:
    return await start_api()


async def test_healthz(api: Api) -> None:
    async with api.client.get(api.base + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "model": "shipped"}


async def test_seed_example_over_http(api: Api) -> None:
    first = await api.say("carol-web", "Where is my order #12345?")
    assert first["state"] == "awaiting_input"
    assert "email" in first["replies"][0]["text"].lower()
    assert first["nlu"]["intent"] == "order_status"
    assert first["nlu"]["attributes"]["order_number"] == "12345"

    second = await api.say("carol-web", "carol@example.com")
    assert second["state"] == "answered"
    assert second["conversation_id"] == first["conversation_id"]
    assert SEED_ANSWER in " ".join(reply["text"] for reply in second["replies"])


async def test_typos_slot_filling_verification_clarify_and_handoff_over_http(api: Api) -> None:
    def text(body: dict[str, Any]) -> str:
        return " ".join(reply["text"] for reply in body["replies"])

    asked = await api.say("bob-web", "wher is my pakage")
    assert asked["state"] == "awaiting_input" and "package" in asked["nlu"]["corrected_text"]
    assert "order number" in text(asked).lower()
    assert "email" in text(await api.say("bob-web", "1003")).lower()
    wrong = await api.say("bob-web", "mallory@example.com")
    assert wrong["state"] == "awaiting_input" and "Zephyr" not in text(wrong)
    answer = await api.say("bob-web", "bob@example.com")
    assert answer["state"] == "answered" and "2 × Zephyr Laptop Stand" in text(answer)

    first = await api.say("bob-web", "tell me a joke")
    assert first["state"] == "clarifying" and first["replies"][-1]["quick_replies"]
    assert (await api.say("bob-web", "qwpoeiru zxmcnv"))["state"] == "clarifying"
    handed = await api.say("bob-web", "blorp blorp")
    assert handed["state"] == "handoff" and "colleague" in text(handed)
    back = await api.say("bob-web", "what is your return policy?")
    assert back["state"] == "answered" and "30 days" in text(back)


async def test_reply_shape(api: Api) -> None:
    body = await api.say("shape", "hello")
    assert set(body) == {"conversation_id", "replies", "state", "nlu"}
    assert body["state"] in {"answered", "awaiting_input", "clarifying", "handoff"}
    assert set(body["nlu"]) == {"intent", "confidence", "corrected_text", "attributes"}
    for reply in body["replies"]:
        assert isinstance(reply["text"], str) and reply["text"]
        assert all(isinstance(option, str) for option in reply["quick_replies"])


async def test_typo_is_corrected(api: Api) -> None:
    body = await api.say("typo", "Where is my ordre #12345?")
    assert body["nlu"]["corrected_text"] == "Where is my order #12345?"
    assert body["nlu"]["intent"] == "order_status"


async def test_unknown_message_offers_topics_as_quick_replies(api: Api) -> None:
    body = await api.say("joker", "tell me a joke")
    assert body["state"] == "clarifying"
    assert body["nlu"]["intent"] is None
    assert "Order status" in body["replies"][-1]["quick_replies"]


async def test_whitespace_text_gets_a_friendly_prompt(api: Api) -> None:
    body = await api.say("quiet", "   \n ")
    assert body["replies"] and "?" in body["replies"][0]["text"]


async def test_control_characters_are_stripped(api: Api) -> None:
    body = await api.say("ctrl", "Where is my\x00 order\x1b #12345?\x7f")
    assert body["nlu"]["corrected_text"] == "Where is my order #12345?"
    assert body["nlu"]["attributes"]["order_number"] == "12345"


async def test_the_length_limit_counts_the_text_after_cleaning(api: Api) -> None:
    body = await api.say("padded", "where is my order " + "\x00" * 50 + "x" * 1970)
    assert body["replies"]  # 1,988 characters once the control characters are gone


async def test_parse_returns_ranking_and_corrections(api: Api) -> None:
    status, body = await api.post("/api/v1/parse", json={"text": "Where is my ordre #12345?"})
    assert status == 200
    assert body["intent"] == "order_status"
    assert body["corrected_text"] == "Where is my order #12345?"
    assert {"original": "ordre", "corrected": "order", "start": 12} in body["corrections"]
    assert body["attributes"] == {"order_number": "12345"}
    ranking = body["ranking"]
    assert ranking[0]["intent"] == "order_status"
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert body["confidence"] == pytest.approx(ranking[0]["confidence"])


async def test_parse_touches_no_conversation(api: Api) -> None:
    await api.post("/api/v1/parse", json={"text": "Where is my order #12345?"})
    # No turn was handled, so no message was counted (the engine counts every turn it runs).
    assert "shopbot_messages_total{" not in await api.metrics()


async def test_metrics_count_turns_and_rejections(api: Api) -> None:
    await api.say("metrics", "Where is my order #12345?")
    await api.post("/api/v1/messages", data=b"{not json")
    text = await api.metrics()
    assert (
        'shopbot_messages_total{channel="api",intent="order_status",outcome="awaiting_input"} 1.0'
        in text
    )
    assert 'shopbot_turn_seconds_count{channel="api"} 1.0' in text
    assert 'shopbot_rejected_requests_total{channel="api",reason="invalid_json"} 1.0' in text


async def test_token_required_when_configured(start_api: ApiFactory) -> None:
    api = await start_api({"SHOPBOT_API_TOKEN": TOKEN})
    message = {"user_id": "locked", "text": "hello"}
    for path, body in (("/api/v1/messages", message), ("/api/v1/parse", {"text": "hello"})):
        refused = [{}] + [
            {"Authorization": value}
            for value in ("Bearer wrong", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x")
        ]
        for headers in refused:
            async with api.client.post(api.base + path, json=body, headers=headers) as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert (await response.json())["error"]["code"] == "unauthorized"
        for scheme in ("Bearer", "bearer", "BEARER"):  # the scheme is case-insensitive
            good = {"Authorization": f"{scheme} {TOKEN}"}
            status, _ = await api.post(path, json=body, headers=good)
            assert status == 200
    async with api.client.get(api.base + "/healthz") as response:
        assert response.status == 200
    assert "shopbot_rejected_requests_total" in await api.metrics()


async def test_no_token_needed_when_not_configured(api: Api) -> None:
    status, _ = await api.post("/api/v1/parse", json={"text": "hi"})
    assert status == 200


MESSAGES = "/api/v1/messages"
PARSE = "/api/v1/parse"
BAD_REQUESTS = [
    # (id, path, request kwargs, status, error code, field)
    ("invalid-json", MESSAGES, {"data": b'{"user_id": "a", "text": '}, 400, "invalid_json", None),
    ("deep-nesting", MESSAGES, {"data": b"[" * 60000}, 400, "invalid_json", None),
    (
        "not-utf8",
        MESSAGES,
        {"data": '{"user_id": "a", "text": "caf\xe9"}'.encode("latin-1")},
        400,
        "invalid_encoding",
        None,
    ),
    ("array-body", MESSAGES, {"json": ["a", "hello"]}, 422, "invalid_type", None),
    ("missing-user", MESSAGES, {"json": {"text": "hi"}}, 422, "missing_field", "user_id"),
    ("missing-text", MESSAGES, {"json": {"user_id": "a"}}, 422, "missing_field", "text"),
    ("number-text", MESSAGES, {"json": {"user_id": "a", "text": 42}}, 422, "invalid_type", "text"),
    ("null-text", MESSAGES, {"json": {"user_id": "a", "text": None}}, 422, "invalid_type", "text"),
    (
        "list-user",
        MESSAGES,
        {"json": {"user_id": ["a"], "text": "hi"}},
        422,
        "invalid_type",
        "user_id",
    ),
    (
        "empty-user",
        MESSAGES,
        {"json": {"user_id": " ", "text": "hi"}},
        422,
        "invalid_value",
        "user_id",
    ),
    (
        "long-user",
        MESSAGES,
        {"json": {"user_id": "u" * 129, "text": "hi"}},
        422,
        "invalid_value",
        "user_id",
    ),
    (
        "long-text",
        MESSAGES,
        {"json": {"user_id": "a", "text": "x" * 2001}},
        413,
        "text_too_long",
        "text",
    ),
    ("parse-long-text", PARSE, {"json": {"text": "x" * 2001}}, 413, "text_too_long", "text"),
    ("parse-missing-text", PARSE, {"json": {}}, 422, "missing_field", "text"),
    ("parse-invalid-json", PARSE, {"data": b"nope"}, 400, "invalid_json", None),
    (
        "big-body",
        MESSAGES,
        {"json": {"user_id": "a", "text": "hi", "pad": "x" * 70000}},
        413,
        "body_too_large",
        None,
    ),
]


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
async def test_bad_input_gets_a_json_error_and_the_server_keeps_serving(
    api: Api, path: str, kwargs: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    got_status, body = await api.post(path, **kwargs)
    assert got_status == status
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert body["error"]["message"]
    assert f'reason="{code}"' in await api.metrics()
    reply = await api.say("after-bad-input", "Where is my order #12345?")
    assert reply["state"] == "awaiting_input"


async def test_big_body_without_content_length_is_refused(api: Api) -> None:
    async def chunked_upload() -> AsyncIterator[bytes]:  # sent chunked: no Content-Length
        for _ in range(80):
            yield b"x" * 1024

    status, body = await api.post(MESSAGES, data=chunked_upload())
    assert status == 413
    assert body["error"]["code"] == "body_too_large"
    await api.say("after-chunked", "hello")


async def test_lying_content_length_is_refused(api: Api) -> None:
    host, port = api.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"user_id": "a", "text": "hi"}'
    writer.write(
        b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n" + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 413")
    await api.say("after-lie", "hello")


async def test_wrong_content_type_is_fine_when_the_body_is_json(api: Api) -> None:
    status, body = await api.post(
        MESSAGES,
        data=b'{"user_id": "plain", "text": "Where is my order #12345?"}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 200
    assert body["nlu"]["intent"] == "order_status"


async def test_lone_surrogate_is_dropped_not_fatal(api: Api) -> None:
    raw = b'{"user_id": "surrogate", "text": "hello\\ud800 there"}'
    status, body = await api.post(MESSAGES, data=raw)
    assert status == 200
    assert "\ud800" not in body["nlu"]["corrected_text"]


async def test_wrong_method_and_unknown_route_are_json(api: Api) -> None:
    async with api.client.get(api.base + MESSAGES) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert (await response.json())["error"]["code"] == "method_not_allowed"
    async with api.client.post(api.base + "/api/v1/nothing", json={}) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    await api.say("after-404", "hello")


async def test_storage_outage_is_a_json_503(api: Api) -> None:
    await api.runtime.store.stop()  # the conversation database goes away under the server
    status, body = await api.post(MESSAGES, json={"user_id": "outage", "text": "hello"})
    assert status == 503
    assert body == {
        "error": {
            "code": "unavailable",
            "message": "The service is temporarily unavailable; please retry.",
            "field": None,
        }
    }
    async with api.client.get(api.base + "/healthz") as response:
        assert response.status == 200
