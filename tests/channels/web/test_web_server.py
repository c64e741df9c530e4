"""The web chat's server side on a real server on 127.0.0.1, driven by a real aiohttp client
over the WebSocket and the HTTP fallback (no browser: see test_browser.py for that).

The whole stack is real: the trained intent model, the seeded demo shop and the SQLite store.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web

from channels.web import RateLimiter, WebRateLimits, make_identity_token
from channels.web.pages import CONTENT_SECURITY_POLICY, render_storefront
from core.shop import Product
from core.types import utcnow
from shopbot.app import Runtime
from tests.conftest import ServeShopbot

SEED_QUESTION = "Where is my order #12345?"
SEED_ANSWER = "Your order #12345 is currently being processed"
ASKS_EMAIL = "please tell me the email address you used for order #12345"
IDENTITY_SECRET = "shared-with-the-shop"

Json = dict[str, Any]


@dataclass
class WebServer:
    """A running server with the web chat and a client session pointed at it."""

    base: str
    client: aiohttp.ClientSession
    runtime: Runtime

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    async def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        async with self.client.post(self.base + path, json=body, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def inbound_turns(self, token: str) -> list[Any]:
        """The conversation's logged inbound messages, as the store holds them."""
        cid = _cid(token)
        session = await self.runtime.store.load_session("web", cid)
        rows = await self.runtime.store.turns(session.conversation_id)
        return [row for row in rows if row.direction == "in"]


def _cid(token: str) -> str:
    """The conversation id a token names (its payload is readable, only not forgeable)."""
    body = token.split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return str(payload["cid"])


class Chat:
    """One WebSocket conversation, as the widget holds it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.token = ""
        self._sent = 0

    async def hello(self, token: str | None = None, identity: str | None = None) -> Json:
        await self.ws.send_json({"type": "hello", "token": token, "identity": identity})
        welcome = await self.receive()
        assert welcome["type"] == "welcome", welcome
        self.token = welcome["token"]
        return welcome

    async def receive(self) -> Json:
        message: Json = await self.ws.receive_json(timeout=30)
        return message

    async def send(self, text: str, client_id: str | None = None) -> Json:
        """Send a message; returns the reply (after checking the typing indicator came first)
        or the error."""
        self._sent += 1
        client_id = client_id or f"c{self._sent}"
        await self.ws.send_json({"type": "message", "client_id": client_id, "text": text})
        first = await self.receive()
        if first["type"] == "error":  # refused before any work
            return first
        assert first == {"type": "typing"}
        reply = await self.receive()
        if reply["type"] != "error":  # an error may still come once the work has started
            assert reply["type"] == "reply" and reply["client_id"] == client_id, reply
        return reply

    async def say(self, text: str, client_id: str | None = None) -> str:
        reply = await self.send(text, client_id)
        assert reply["type"] == "reply", reply
        return "\n".join(entry["text"] for entry in reply["replies"])


StartWeb = Callable[..., Awaitable[WebServer]]


@pytest.fixture
async def start_web(serve_shopbot: ServeShopbot) -> AsyncIterator[StartWeb]:
    """Starts the real runtime and server with the given environment and settings."""
    clients: list[aiohttp.ClientSession] = []

    async def start(env: Mapping[str, str] | None = None, **overrides: Any) -> WebServer:
        url, runtime = await serve_shopbot(env, **overrides)
        clients.append(aiohttp.ClientSession())
        return WebServer(url, clients[-1], runtime)

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def server(start_web: StartWeb) -> WebServer:
    return await start_web()


@pytest.fixture
async def open_chat(server: WebServer) -> AsyncIterator[Callable[..., Awaitable[Chat]]]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def connect(**kwargs: Any) -> Chat:
        ws = await server.client.ws_connect(server.ws_url, **kwargs)
        sockets.append(ws)
        return Chat(ws)

    yield connect
    for ws in sockets:
        await ws.close()


OpenChat = Callable[..., Awaitable[Chat]]


# -- the conversation over the WebSocket ---------------------------------------------------------


async def test_seed_conversation_over_the_websocket(open_chat: OpenChat) -> None:
    chat = await open_chat()
    welcome = await chat.hello()
    assert welcome["history"] == [] and welcome["token"]
    assert ASKS_EMAIL in await chat.say(SEED_QUESTION)
    reply = await chat.send("carol@example.com")
    assert SEED_ANSWER in reply["replies"][0]["text"]
    entry = reply["replies"][0]
    assert set(entry) == {"id", "role", "text", "quick_replies", "at", "feedback"}
    assert entry["role"] == "bot" and entry["feedback"] is None
    assert datetime.fromisoformat(entry["at"]).tzinfo is not None
    assert reply["state"] == "answered"


async def test_empty_text_gets_a_prompt(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.hello()
    assert "What can I help you with?" in await chat.say("   ")


async def test_identity_token_skips_the_email_question(start_web: StartWeb) -> None:
    server = await start_web({"SHOPBOT_WEB_IDENTITY_SECRET": IDENTITY_SECRET})
    expires = utcnow() + timedelta(hours=1)
    genuine = make_identity_token(IDENTITY_SECRET.encode(), "carol@example.com", expires)
    forged = make_identity_token(b"guessed", "carol@example.com", expires)
    expired = make_identity_token(IDENTITY_SECRET.encode(), "carol@example.com", utcnow())
    async with server.client.ws_connect(server.ws_url) as ws:
        chat = Chat(ws)
        await chat.hello(identity=genuine)
        assert SEED_ANSWER in await chat.say(SEED_QUESTION)
    for bad in (forged, expired):
        async with server.client.ws_connect(server.ws_url) as ws:
            chat = Chat(ws)
            await chat.hello(identity=bad)
            assert ASKS_EMAIL in await chat.say(SEED_QUESTION)


async def test_identity_tokens_are_ignored_without_the_shared_secret(open_chat: OpenChat) -> None:
    token = make_identity_token(b"anything", "carol@example.com", utcnow() + timedelta(hours=1))
    chat = await open_chat()
    await chat.hello(identity=token)
    assert ASKS_EMAIL in await chat.say(SEED_QUESTION)


async def test_history_is_restored_with_the_same_token(open_chat: OpenChat) -> None:
    first = await open_chat()
    await first.hello()
    asked = await first.send(SEED_QUESTION, client_id="q-1")
    answered = await first.send("carol@example.com", client_id="q-2")
    await first.ws.close()

    again = await open_chat()
    welcome = await again.hello(first.token)
    assert welcome["token"] == first.token
    history = welcome["history"]
    assert [(e["role"], e["id"]) for e in history] == [
        ("user", "q-1"),
        ("bot", asked["replies"][0]["id"]),
        ("user", "q-2"),
        ("bot", answered["replies"][0]["id"]),
    ]
    assert history[0]["text"] == SEED_QUESTION
    assert SEED_ANSWER in history[3]["text"]
    assert "carol@example.com" not in history[2]["text"]  # the log keeps emails masked
    assert all(datetime.fromisoformat(e["at"]) for e in history)
    # ...and the conversation goes on where it was.
    assert "order" in (await again.say("thanks, and my order 1001?")).lower()


async def test_unknown_or_forged_token_starts_a_new_conversation(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.say(SEED_QUESTION)
    body, signature = chat.token.split(".")
    for bad in ("garbage", body + ".AAAA" + signature[4:], None):
        fresh = await open_chat()
        welcome = await fresh.hello(bad)
        assert welcome["history"] == [] and welcome["token"] != chat.token


async def test_resent_message_is_answered_again_but_processed_once(
    server: WebServer, open_chat: OpenChat
) -> None:
    chat = await open_chat()
    await chat.hello()
    first = await chat.send(SEED_QUESTION, client_id="same-id")
    again = await chat.send(SEED_QUESTION, client_id="same-id")
    assert [e["id"] for e in again["replies"]] == [e["id"] for e in first["replies"]]
    reconnected = await open_chat()  # a resend after a reconnect
    await reconnected.hello(chat.token)
    third = await reconnected.send(SEED_QUESTION, client_id="same-id")
    assert third["replies"] == [
        {**entry, "at": third["replies"][0]["at"]} for entry in first["replies"]
    ]
    assert len(await server.inbound_turns(chat.token)) == 1


async def test_feedback_is_stored_with_the_turn(server: WebServer, open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.hello()
    reply_id = (await chat.send(SEED_QUESTION))["replies"][0]["id"]
    await chat.ws.send_json({"type": "feedback", "reply_id": reply_id, "rating": "down"})
    assert await chat.receive() == {
        "type": "feedback_saved",
        "reply_id": reply_id,
        "rating": "down",
    }
    await chat.ws.send_json({"type": "feedback", "reply_id": reply_id, "rating": "up"})
    assert (await chat.receive())["rating"] == "up"

    session = await server.runtime.store.load_session("web", _cid(chat.token))
    rows = await server.runtime.store.turns(session.conversation_id)
    assert [row.feedback for row in rows if row.message_id == reply_id] == ["up"]
    welcome = await (await open_chat()).hello(chat.token)
    assert welcome["history"][-1]["feedback"] == "up"

    for bad in (
        {"reply_id": "no-such-reply", "rating": "up"},
        {"reply_id": reply_id, "rating": "meh"},
        {"rating": "up"},
    ):
        await chat.ws.send_json({"type": "feedback", **bad})
        assert (await chat.receive())["code"] == "bad_request", bad


async def test_feedback_cannot_rate_another_conversations_reply(open_chat: OpenChat) -> None:
    owner = await open_chat()
    await owner.hello()
    reply_id = (await owner.send(SEED_QUESTION))["replies"][0]["id"]
    stranger = await open_chat()
    await stranger.hello()
    await stranger.say("hello")
    await stranger.ws.send_json({"type": "feedback", "reply_id": reply_id, "rating": "down"})
    assert (await stranger.receive())["code"] == "bad_request"


# -- origins -------------------------------------------------------------------------------------


async def test_foreign_origin_is_refused_before_the_upgrade(start_web: StartWeb) -> None:
    server = await start_web({"SHOPBOT_WEB_ALLOWED_ORIGINS": "https://shop.example"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.client.ws_connect(server.ws_url, origin="https://evil.example")
    assert refused.value.status == 403
    for origin in ("https://shop.example", server.base, None):
        headers = {"Origin": origin} if origin else {}
        async with server.client.ws_connect(server.ws_url, headers=headers) as ws:
            assert (await Chat(ws).hello())["type"] == "welcome"


async def test_http_fallback_checks_the_origin_and_answers_cors(start_web: StartWeb) -> None:
    server = await start_web({"SHOPBOT_WEB_ALLOWED_ORIGINS": "https://shop.example"})
    status, body = await server.post(
        "/web/v1/hello", {"token": None}, headers={"Origin": "https://evil.example"}
    )
    assert status == 403 and body["type"] == "error"
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    async with server.client.options(server.base + "/web/v1/messages", headers=preflight) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
    evil = {**preflight, "Origin": "https://evil.example"}
    async with server.client.options(server.base + "/web/v1/messages", headers=evil) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers
    async with server.client.post(
        server.base + "/web/v1/hello", json={}, headers={"Origin": "https://shop.example"}
    ) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


# -- limits and bad input ------------------------------------------------------------------------


async def test_conversation_rate_limit(start_web: StartWeb) -> None:
    server = await start_web(web={"messages_per_minute": 2})
    async with server.client.ws_connect(server.ws_url) as ws:
        chat = Chat(ws)
        await chat.hello()
        await chat.say("hello")
        await chat.say("hello again")
        refused = await chat.send("and again")
        assert refused["code"] == "rate_limited" and refused["retry_after"] >= 1
        assert "wait" in refused["message"]
        assert len(await server.inbound_turns(chat.token)) == 2  # nothing processed
    async with server.client.ws_connect(server.ws_url) as ws:
        other = Chat(ws)  # another conversation from the same address is not held up
        await other.hello()
        await other.say("hello")


async def test_ip_rate_limit_spans_conversations(start_web: StartWeb) -> None:
    server = await start_web(web={"ip_messages_per_minute": 2})
    for _ in range(2):
        async with server.client.ws_connect(server.ws_url) as ws:
            chat = Chat(ws)
            await chat.hello()
            await chat.say("hello")
    async with server.client.ws_connect(server.ws_url) as ws:
        chat = Chat(ws)
        token = (await chat.hello())["token"]
        assert (await chat.send("hello"))["code"] == "rate_limited"
    status, body = await server.post(
        "/web/v1/messages", {"token": token, "client_id": "h1", "text": "hello"}
    )
    assert status == 429 and body["code"] == "rate_limited"


def test_rate_limiter_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0], max_keys=3)  # one a second after a burst
    limits = WebRateLimits(limiter, RateLimiter(1000, clock=lambda: now[0]))
    for _ in range(60):
        assert limits.acquire("conversation", "1.2.3.4") is None
    assert limits.acquire("conversation", "1.2.3.4") == 1.0
    now[0] += 1.0
    assert limits.acquire("conversation", "1.2.3.4") is None
    for key in ("a", "b", "c", "d"):
        limiter.take(key)
    assert len(limiter) == 3  # the least recently used bucket was dropped


async def test_too_long_message_is_refused_and_the_socket_stays_usable(
    open_chat: OpenChat,
) -> None:
    chat = await open_chat()
    await chat.hello()
    refused = await chat.send("x" * 2001)
    assert refused["code"] == "too_long" and "2000" in refused["message"]
    assert ASKS_EMAIL in await chat.say(SEED_QUESTION)


async def test_bad_frames_get_bad_request_and_the_socket_keeps_serving(
    open_chat: OpenChat,
) -> None:
    chat = await open_chat()
    await chat.ws.send_json({"type": "message", "client_id": "early", "text": "hi"})
    assert (await chat.receive())["code"] == "bad_request"  # no hello yet
    await chat.hello()
    for frame in (
        "{not json",
        "[1, 2]",
        '{"type": "shout"}',
        '{"type": "message", "text": "no client id"}',
        '{"type": "message", "client_id": "x"}',
        '{"type": "message", "client_id": 5, "text": "hi"}',
        '{"type": "hello", "token": 5}',
    ):
        await chat.ws.send_str(frame)
        error = await chat.receive()
        assert error["type"] == "error" and error["code"] == "bad_request", frame
        assert error["message"] and "Traceback" not in error["message"]
    await chat.ws.send_bytes(b"\x00\x01")
    assert (await chat.receive())["code"] == "bad_request"
    assert ASKS_EMAIL in await chat.say(SEED_QUESTION)


async def test_oversized_frame_closes_the_socket(open_chat: OpenChat) -> None:
    chat = await open_chat()
    await chat.hello()
    await chat.ws.send_str('{"type": "message", "text": "' + "x" * 70_000 + '"}')
    closing = await chat.ws.receive(timeout=30)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert chat.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    fresh = await open_chat()  # the server itself is fine
    await fresh.hello()


async def test_storage_outage_is_unavailable_and_the_socket_survives(
    server: WebServer, open_chat: OpenChat
) -> None:
    chat = await open_chat()
    await chat.hello()
    await server.runtime.store.stop()  # the conversation database goes away under the server
    outage = await chat.send("hello")
    assert outage["code"] == "unavailable" and "try again" in outage["message"]
    await chat.ws.send_json({"type": "feedback", "reply_id": "r", "rating": "up"})
    assert (await chat.receive())["code"] == "unavailable"
    status, body = await server.post(
        "/web/v1/messages", {"token": chat.token, "client_id": "h", "text": "hello"}
    )
    assert status == 503 and body["code"] == "unavailable"
    await chat.ws.send_str("{oops")  # the same socket still answers
    assert (await chat.receive())["code"] == "bad_request"


# -- HTTP fallback -------------------------------------------------------------------------------


async def test_http_fallback_runs_the_same_conversation(
    server: WebServer, open_chat: OpenChat
) -> None:
    status, welcome = await server.post("/web/v1/hello", {"token": None, "identity": None})
    assert status == 200 and welcome["type"] == "welcome" and welcome["history"] == []
    token = welcome["token"]

    async def say(client_id: str, text: str) -> Json:
        body = {"token": token, "identity": None, "client_id": client_id, "text": text}
        status, reply = await server.post("/web/v1/messages", body)
        assert status == 200, reply
        result: Json = reply
        return result

    assert ASKS_EMAIL in (await say("h1", SEED_QUESTION))["replies"][0]["text"]
    answered = await say("h2", "carol@example.com")
    assert SEED_ANSWER in answered["replies"][0]["text"]
    resent = await say("h2", "carol@example.com")
    assert [e["id"] for e in resent["replies"]] == [e["id"] for e in answered["replies"]]
    assert len(await server.inbound_turns(token)) == 2  # the resend was not processed

    reply_id = answered["replies"][0]["id"]
    status, saved = await server.post(
        "/web/v1/feedback", {"token": token, "reply_id": reply_id, "rating": "up"}
    )
    assert (status, saved) == (
        200,
        {"type": "feedback_saved", "reply_id": reply_id, "rating": "up"},
    )

    chat = await open_chat()  # the WebSocket sees the same conversation
    history = (await chat.hello(token))["history"]
    assert [e["id"] for e in history if e["role"] == "user"] == ["h1", "h2"]
    assert history[-1]["feedback"] == "up"


async def test_http_fallback_identity_and_errors(start_web: StartWeb) -> None:
    server = await start_web({"SHOPBOT_WEB_IDENTITY_SECRET": IDENTITY_SECRET})
    identity = make_identity_token(
        IDENTITY_SECRET.encode(), "carol@example.com", utcnow() + timedelta(hours=1)
    )
    token = (await server.post("/web/v1/hello", {}))[1]["token"]
    message = {"token": token, "identity": identity, "client_id": "i1", "text": SEED_QUESTION}
    status, reply = await server.post("/web/v1/messages", message)
    assert status == 200 and SEED_ANSWER in reply["replies"][0]["text"]

    cases: list[tuple[Any, int, str]] = [
        ({**message, "client_id": "i2", "text": "x" * 2001}, 413, "too_long"),
        ({**message, "client_id": "i3", "token": "forged.token"}, 400, "invalid_token"),
        ({**message, "client_id": ""}, 400, "bad_request"),
        ({"token": token, "reply_id": "nope", "rating": "up"}, 400, "bad_request"),
    ]
    paths = ["/web/v1/messages"] * 3 + ["/web/v1/feedback"]
    for path, (body, expected_status, code) in zip(paths, cases, strict=True):
        status, error = await server.post(path, body)
        assert (status, error["type"], error["code"]) == (expected_status, "error", code), body
    async with server.client.post(server.base + "/web/v1/messages", data=b"{oops") as response:
        assert response.status == 400
        assert (await response.json())["code"] == "bad_request"
    async with server.client.post(server.base + "/web/v1/hello", data=b"x" * 70_000) as response:
        assert response.status == 413
        assert (await response.json())["code"] == "too_long"


# -- pages and files -----------------------------------------------------------------------------


async def test_storefront_lists_the_products_under_a_strict_csp(server: WebServer) -> None:
    async with server.client.get(server.base + "/") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        page = await response.text()
    for product in await server.runtime.shop.list_products():
        assert product.name in page
        assert f"${product.price:,.2f}" in page
    assert "Out of stock" in page and "In stock" in page
    assert '<script src="/widget.js" data-shopbot-url=""></script>' in page
    assert "<style" not in page and "style=" not in page and "<script>" not in page


def test_product_text_is_escaped_on_the_storefront() -> None:
    product = Product(
        sku="X-1",
        name='<script>alert("x")</script>',
        price=Decimal("5"),
        brand="A & B",
        description="<img src=x onerror=alert(1)>",
        stock=0,
    )
    page = render_storefront("<ul>{{products}}</ul>", [product])
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "A &amp; B" in page and "$5.00" in page and "Out of stock" in page


@pytest.mark.parametrize(
    ("path", "content_type", "cross_origin"),
    [
        ("/widget.js", "text/javascript; charset=utf-8", True),
        ("/widget.css", "text/css; charset=utf-8", True),
        ("/static/storefront.css", "text/css; charset=utf-8", False),
    ],
)
async def test_static_files_are_served_with_their_headers(
    server: WebServer, path: str, content_type: str, cross_origin: bool
) -> None:
    async with server.client.get(server.base + path) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        allowed = response.headers.get("Access-Control-Allow-Origin")
        assert allowed == ("*" if cross_origin else None)
        assert await response.read()


async def test_web_chat_can_be_switched_off(start_web: StartWeb) -> None:
    server = await start_web(web={"enabled": False})
    for path in ("/", "/widget.js", "/ws"):
        async with server.client.get(server.base + path) as response:
            assert response.status == 404, path
    async with server.client.get(server.base + "/healthz") as response:
        assert response.status == 200


async def test_a_verified_customers_chat_is_not_continued_after_logout(start_web: StartWeb) -> None:
    server = await start_web({"SHOPBOT_WEB_IDENTITY_SECRET": IDENTITY_SECRET})
    identity = make_identity_token(
        IDENTITY_SECRET.encode(), "carol@example.com", utcnow() + timedelta(hours=1)
    )
    async with server.client.ws_connect(server.ws_url) as ws:
        chat = Chat(ws)
        await chat.hello(identity=identity)
        assert "Pulse Fitness Tracker" in await chat.say("where is order 1005?")
        token = chat.token
    async with server.client.ws_connect(server.ws_url) as ws:  # same browser, logged out
        chat = Chat(ws)
        welcome = await chat.hello(token=token, identity=None)
        assert welcome["history"] == []  # Carol's conversation is not shown...
        answer = await chat.say("where is order 1005?")
        assert "Pulse" not in answer and "email" in answer.lower()  # ...nor continued
    async with server.client.ws_connect(server.ws_url) as ws:  # Carol logs in again
        chat = Chat(ws)
        welcome = await chat.hello(token=token, identity=identity)
        assert any("Pulse Fitness Tracker" in entry["text"] for entry in welcome["history"])


async def test_a_resent_message_is_answered_even_over_the_rate_limit(start_web: StartWeb) -> None:
    server = await start_web(web={"messages_per_minute": 1})
    async with server.client.ws_connect(server.ws_url) as ws:
        chat = Chat(ws)
        await chat.hello()
        first = await chat.send("what is your return policy?", client_id="once")
        await ws.send_json({"type": "message", "client_id": "once", "text": "ignored"})
        again = await chat.receive()
        assert again["type"] == "reply" and again["replies"] == [
            {**entry, "at": again["replies"][i]["at"]} for i, entry in enumerate(first["replies"])
        ]
        assert (await chat.send("and shipping?"))["code"] == "rate_limited"  # a new one is not
    assert len(await server.inbound_turns(chat.token)) == 1


async def test_shutdown_closes_open_chats_so_browsers_reconnect(runtime: Runtime) -> None:
    runner = web.AppRunner(runtime.api_app())  # aiohttp's default: wait up to 60 s for sockets
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"ws://{host}:{port}/ws")
        await Chat(ws).hello()
        await asyncio.wait_for(runner.cleanup(), timeout=10)  # not held open by the socket
        closing = await ws.receive(timeout=5)
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)


async def test_open_chats_per_ip_are_capped(start_web: StartWeb) -> None:
    server = await start_web(web={"sockets_per_ip": 2})
    first = await server.client.ws_connect(server.ws_url)
    second = await server.client.ws_connect(server.ws_url)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.client.ws_connect(server.ws_url)
    assert refused.value.status == 429
    await first.close()
    third = await server.client.ws_connect(server.ws_url)  # a closed one frees its place
    await Chat(third).hello()
    await second.close()
    await third.close()


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarding_headers_count_only_behind_a_trusted_proxy(
    start_web: StartWeb, trusted: bool
) -> None:
    server = await start_web(web={"trust_proxy_headers": trusted, "ip_messages_per_minute": 1})
    public = {"Origin": "https://shop.example", "X-Forwarded-Proto": "https",
              "X-Forwarded-Host": "shop.example"}  # fmt: skip
    for visitor in ("203.0.113.7", "198.51.100.9"):  # two visitors behind the same proxy
        headers = {**public, "X-Forwarded-For": f"{visitor}, 10.0.0.1"}
        status, hello = await server.post("/web/v1/hello", {"token": None}, headers=headers)
        assert status == (200 if trusted else 403)  # the public origin is ours only via the proxy
        if not trusted:
            continue
        body = {"token": hello["token"], "client_id": "m1", "text": "hi"}
        status, _ = await server.post("/web/v1/messages", body, headers=headers)
        assert status == 200  # each visitor has their own per-IP budget
    if trusted:
        forged = {**public, "X-Forwarded-For": "203.0.113.7"}
        status, hello = await server.post("/web/v1/hello", {"token": None}, headers=forged)
        body = {"token": hello["token"], "client_id": "m2", "text": "hi again"}
        status, _ = await server.post("/web/v1/messages", body, headers=forged)
        assert status == 429  # the first visitor's budget is spent
