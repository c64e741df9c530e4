"""Browser fixtures: the system Chromium driven by Playwright against a real shopbot server.

Chromium is never downloaded: it is ``$SHOPBOT_CHROMIUM`` or Debian's ``/usr/bin/chromium``
(``.ci/run`` installs that package in CI). Without it every browser test is skipped with a clear
message. Each test gets its own server (started runtime on 127.0.0.1, free port), its own
browser and fresh pages; a page that throws an uncaught error or trips the Content-Security-Policy
fails the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from shopbot.app import Runtime
from tests.conftest import ServeShopbot

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
Browser = playwright_api.Browser
Page = playwright_api.Page

__all__ = ["IDENTITY_SECRET", "ShopServer", "StartShop"]

CHROMIUM_VARIABLE = "SHOPBOT_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
IDENTITY_SECRET = "test-identity-secret-shared-with-the-shop"
EXPECT_TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

playwright_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@dataclass(frozen=True, slots=True)
class ShopServer:
    """A running shopbot server: ``url`` is its base (``http://127.0.0.1:PORT``)."""

    url: str
    runtime: Runtime


StartShop = Callable[..., Awaitable[ShopServer]]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable the tests drive; skips the browser tests when there is none."""
    path = os.environ.get(CHROMIUM_VARIABLE) or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip(
            f"no Chromium found at {path}: install Debian's chromium "
            f"(apt-get install chromium) or set {CHROMIUM_VARIABLE}"
        )
    return path


@pytest.fixture
async def start_shop(chromium_path: str, serve_shopbot: ServeShopbot) -> StartShop:
    """Start a real shopbot server with extra environment variables.

    The identity secret is always set (``IDENTITY_SECRET``); ``env`` adds or overrides. Asks for
    ``chromium_path`` first so that without a browser nothing is started before the skip.
    """

    async def start(env: Mapping[str, str] | None = None) -> ShopServer:
        full_env = {"SHOPBOT_WEB_IDENTITY_SECRET": IDENTITY_SECRET, **(env or {})}
        url, runtime = await serve_shopbot(full_env)
        return ShopServer(url, runtime)

    return start


@pytest.fixture
async def shop(start_shop: StartShop) -> ShopServer:
    """The default shop server (identity secret set, no other origins allowed)."""
    return await start_shop()


@pytest.fixture
async def browser(chromium_path: str, start_shop: StartShop) -> AsyncIterator[Any]:
    """A headless Chromium for this test (closed before the servers stop)."""
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass(slots=True)
class PageProblems:
    """Uncaught exceptions and CSP violations seen on this test's pages."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"uncaught error: {error}"))
        page.on("console", lambda message: self.console(message.text))

    def console(self, text: str) -> None:
        if "Content Security Policy" in text:
            self.seen.append(f"CSP violation: {text}")


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Open a page in a fresh browser context (own storage); ``new_page(viewport=...)``.

    After the test, any uncaught page error or Content-Security-Policy violation fails it.
    """
    problems = PageProblems()
    contexts: list[Any] = []

    async def open_page(**context_options: Any) -> Any:
        context = await browser.new_context(**context_options)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(EXPECT_TIMEOUT_MS)
        problems.watch(page)
        return page

    yield open_page
    for context in contexts:
        await context.close()
    if problems.seen:
        pytest.fail("the page reported problems:\n" + "\n".join(problems.seen), pytrace=False)


@pytest.fixture
async def page(new_page: Callable[..., Awaitable[Any]]) -> Any:
    """A fresh page (desktop size) in its own context."""
    return await new_page(viewport={"width": 1280, "height": 800})
