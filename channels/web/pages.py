"""The pages and files the web channel serves: the demo storefront and the widget's files."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from core.answers import format_money
from core.shop import Product

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGE_HEADERS",
    "STATIC_DIR",
    "render_storefront",
    "static_handler",
    "storefront_handler",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_FEW_LEFT = 3  # at or below this stock the card says how many are left

ProductSource = Callable[[], Awaitable[Sequence[Product]]]


def _availability(product: Product) -> tuple[str, str]:
    """The availability line and its CSS modifier."""
    if product.stock is None:
        return "In stock", "in"
    if product.stock > _FEW_LEFT:
        return "In stock", "in"
    if product.stock > 0:
        return f"Only {product.stock} left", "few"
    if product.restock_date is not None:
        return f"Out of stock – back {product.restock_date:%b} {product.restock_date.day}", "out"
    return "Out of stock", "out"


def _card(product: Product) -> str:
    e = html.escape
    availability, modifier = _availability(product)
    brand = f'<p class="brand">{e(product.brand)}</p>' if product.brand else ""
    return (
        '<li class="product">'
        f"{brand}"
        f"<h2>{e(product.name)}</h2>"
        f'<p class="description">{e(product.description)}</p>'
        '<p class="meta">'
        f'<span class="price">{e(format_money(product.price, product.currency))}</span>'
        f'<span class="stock stock-{modifier}">{e(availability)}</span>'
        "</p></li>"
    )


def render_storefront(template: str, products: Sequence[Product]) -> str:
    """The storefront page: ``template`` with its ``{{products}}`` replaced by product cards."""
    return template.replace("{{products}}", "\n".join(_card(p) for p in products))


def storefront_handler(products: ProductSource) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /``: the demo storefront with the widget's script tag, under a strict CSP."""

    async def storefront(request: web.Request) -> web.Response:
        template = await asyncio.to_thread((STATIC_DIR / "storefront.html").read_text, "utf-8")
        page = render_storefront(template, await products())
        return web.Response(
            text=page, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
        )

    return storefront


def static_handler(
    name: str, content_type: str, *, cross_origin: bool
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler serving ``static/<name>``, read on each request (the files are small, and an
    edited widget is served at once); ``cross_origin`` lets any site load it."""
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if cross_origin:
        headers["Access-Control-Allow-Origin"] = "*"

    async def serve(request: web.Request) -> web.Response:
        try:
            body = await asyncio.to_thread((STATIC_DIR / name).read_bytes)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        return web.Response(
            body=body, headers={**headers, "Content-Type": f"{content_type}; charset=utf-8"}
        )

    return serve
