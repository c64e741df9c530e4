"""The web channel's routes on the shared aiohttp app: the WebSocket, the HTTP fallback, the
storefront and the widget's files.

Both transports run the same :class:`~channels.web.chat.WebChat` operations through
:meth:`WebServer.answer`, so a message means the same thing, and fails the same way, on both.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from channels.platform import read_body
from channels.web.chat import Json, WebChat, WebError, bad_request
from channels.web.pages import ProductSource, static_handler, storefront_handler
from core.errors import StorageError

__all__ = ["WebServer", "add_web_routes"]

_log = logging.getLogger(__name__)

_UNAVAILABLE = WebError(
    503, "unavailable", "Sorry, the chat is unavailable right now. Please try again in a moment."
)
_FORBIDDEN = WebError(403, "forbidden", "This website may not use this chat.")
_PREFLIGHT_MAX_AGE = "600"


@dataclass(slots=True)
class _Socket:
    """What one WebSocket connection remembers between its messages."""

    ip: str
    cid: str | None = None
    identity: str | None = None


class WebServer:
    """The request handlers of the web channel around one :class:`WebChat`."""

    def __init__(self, chat: WebChat) -> None:
        self._chat = chat
        options = chat.options
        self._allowed = {origin.lower().rstrip("/") for origin in options.allowed_origins}
        self._max_body_bytes = options.max_body_bytes
        self._max_sockets_per_ip = options.max_sockets_per_ip
        self._trust_proxy = options.trust_proxy_headers
        self._sockets: set[web.WebSocketResponse] = set()
        self._sockets_per_ip: Counter[str] = Counter()

    # -- shared by both transports ------------------------------------------------------------
    async def answer(self, operation: Awaitable[Json]) -> tuple[int, Json]:
        """The HTTP status and JSON answer of one chat operation; never raises."""
        try:
            return 200, await operation
        except WebError as exc:
            return exc.status, exc.body()
        except StorageError:
            _log.exception("web chat: storage failed")
            return _UNAVAILABLE.status, _UNAVAILABLE.body()
        except Exception:  # a bug must not end the conversation: log it, answer politely
            _log.exception("web chat: unexpected failure")
            return _UNAVAILABLE.status, _UNAVAILABLE.body()

    def origin_allowed(self, request: web.Request) -> bool:
        """Absent Origin (not a browser) or the server's own or a configured origin."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        origin = origin.lower().rstrip("/")
        return origin == self.own_origin(request) or origin in self._allowed or "*" in self._allowed

    def own_origin(self, request: web.Request) -> str:
        """This server's origin as the browser sees it (behind a trusted proxy: as the proxy
        forwarded it, since the proxy may terminate TLS and rewrite the host)."""
        scheme, host = request.scheme, request.host
        if self._trust_proxy:
            scheme = _first(request.headers.get("X-Forwarded-Proto")) or scheme
            host = _first(request.headers.get("X-Forwarded-Host")) or host
        return f"{scheme}://{host}".lower()

    def client_ip(self, request: web.Request) -> str:
        """The client's address for the per-IP limits: behind a trusted proxy, the first
        address of X-Forwarded-For (the proxy's own address would lump every visitor together)."""
        if self._trust_proxy and (forwarded := _first(request.headers.get("X-Forwarded-For"))):
            return forwarded
        return request.remote or "unknown"

    # -- WebSocket ----------------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws``: the chat protocol over one socket; refused with 403 for a foreign
        Origin; a frame over the size limit closes the socket (1009)."""
        if not self.origin_allowed(request):
            return web.json_response(_FORBIDDEN.body(), status=403)
        ip = self.client_ip(request)
        if self._sockets_per_ip[ip] >= self._max_sockets_per_ip:
            busy = WebError(429, "rate_limited", "Too many chat windows are open.", 30.0)
            return web.json_response(busy.body(), status=429)
        ws = web.WebSocketResponse(max_msg_size=self._max_body_bytes, heartbeat=30.0)
        await ws.prepare(request)
        socket = _Socket(ip=ip)
        self._sockets.add(ws)
        self._sockets_per_ip[ip] += 1
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    _, reply = await self.answer(self._on_frame(socket, ws, frame.data))
                    await _send(ws, reply)
                elif frame.type is WSMsgType.BINARY:
                    await _send(ws, bad_request("Send JSON text frames.").body())
        finally:
            self._sockets.discard(ws)
            self._sockets_per_ip[ip] -= 1
            if self._sockets_per_ip[ip] <= 0:
                del self._sockets_per_ip[ip]
        return ws

    async def close_sockets(self, _app: web.Application) -> None:
        """At shutdown: close every open socket with 1001 (going away), so browsers reconnect
        at once instead of the server waiting for them."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server restarting")

    async def _on_frame(self, socket: _Socket, ws: web.WebSocketResponse, data: str) -> Json:
        body = _json_object(data)
        kind = body.get("type")
        if kind == "hello":
            self._chat.count_hello(socket.ip)
            socket.cid, welcome = await self._chat.hello(body)
            socket.identity = body.get("identity")
            return welcome
        if kind not in ("message", "feedback"):
            raise bad_request("Unknown message type.")
        if socket.cid is None:
            raise bad_request("Send hello first.")
        if kind == "feedback":
            return await self._chat.feedback(socket.cid, socket.identity, body)

        async def typing() -> None:
            await _send(ws, {"type": "typing"})

        return await self._chat.message(socket.cid, socket.identity, body, socket.ip, typing)

    # -- HTTP fallback ------------------------------------------------------------------------
    async def http_hello(self, request: web.Request) -> web.Response:
        """``POST /web/v1/hello``: the ``welcome``."""

        ip = self.client_ip(request)

        async def hello(body: Json) -> Json:
            self._chat.count_hello(ip)
            return (await self._chat.hello(body))[1]

        return await self._http(request, hello)

    async def http_message(self, request: web.Request) -> web.Response:
        """``POST /web/v1/messages``: the ``reply`` (or an ``error`` with its status)."""
        ip = self.client_ip(request)

        async def message(body: Json) -> Json:
            cid = self._chat.conversation(body)
            identity = body.get("identity")
            identity = identity if isinstance(identity, str) else None
            return await self._chat.message(cid, identity, body, ip)

        return await self._http(request, message)

    async def http_feedback(self, request: web.Request) -> web.Response:
        """``POST /web/v1/feedback``: ``feedback_saved``."""

        async def feedback(body: Json) -> Json:
            identity = body.get("identity")
            identity = identity if isinstance(identity, str) else None
            return await self._chat.feedback(self._chat.conversation(body), identity, body)

        return await self._http(request, feedback)

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight of the fallback routes, for pages on an allowed origin."""
        if not self.origin_allowed(request):
            return web.json_response(_FORBIDDEN.body(), status=403)
        headers = self._cors(request)
        headers["Access-Control-Allow-Methods"] = "POST"
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
        return web.Response(status=204, headers=headers)

    async def _http(
        self, request: web.Request, operation: Callable[[Json], Awaitable[Json]]
    ) -> web.Response:
        if not self.origin_allowed(request):
            return web.json_response(_FORBIDDEN.body(), status=403)

        async def run() -> Json:
            return await operation(_json_object(await self._read(request)))

        status, body = await self.answer(run())
        return web.json_response(body, status=status, headers=self._cors(request))

    async def _read(self, request: web.Request) -> bytes:
        raw = await read_body(request, self._max_body_bytes)
        if raw is None:
            raise WebError(413, "too_long", "That message is too long.")
        return raw

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _json_object(data: str | bytes) -> Json:
    try:
        body: Any = json.loads(data)
    except (ValueError, RecursionError):
        raise bad_request("The message is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The message must be a JSON object.")
    return body


async def _send(ws: web.WebSocketResponse, message: Json) -> None:
    if ws.closed:
        return
    try:
        await ws.send_json(message)
    except ConnectionError:  # the browser went away mid-answer; its resend gets the replay
        _log.debug("web chat: socket closed before the answer was sent")


def _first(header: str | None) -> str | None:
    """The first comma-separated value of a forwarding header, stripped; None when empty."""
    if not header:
        return None
    return header.split(",", 1)[0].strip() or None


def add_web_routes(app: web.Application, chat: WebChat, products: ProductSource) -> None:
    """Add the web channel's routes to ``app`` (the JSON API's app): ``/``, ``/widget.js``,
    ``/widget.css``, ``/static/storefront.css``, ``/ws`` and ``/web/v1/*``."""
    server = WebServer(chat)
    app.on_shutdown.append(server.close_sockets)
    router = app.router
    router.add_get("/", storefront_handler(products))
    router.add_get("/widget.js", static_handler("widget.js", "text/javascript", cross_origin=True))
    router.add_get("/widget.css", static_handler("widget.css", "text/css", cross_origin=True))
    router.add_get(
        "/static/storefront.css", static_handler("storefront.css", "text/css", cross_origin=False)
    )
    router.add_get("/ws", server.websocket)
    for path, handler in (
        ("/web/v1/hello", server.http_hello),
        ("/web/v1/messages", server.http_message),
        ("/web/v1/feedback", server.http_feedback),
    ):
        router.add_post(path, handler)
        router.add_route("OPTIONS", path, server.preflight)
