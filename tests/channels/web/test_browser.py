"""The chat widget in a real headless Chromium: what a customer sees, clicks and types.

Every test runs against a real shopbot server (runtime + aiohttp app on 127.0.0.1) and the real
``widget.js``; nothing of ours is mocked. Assertions use Playwright's auto-waiting ``expect``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.channels.web.conftest import IDENTITY_SECRET, ShopServer, StartShop

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

SEED_QUESTION = "Where is my order #12345?"
SEED_EMAIL = "carol@example.com"
SEED_ANSWER = (
    "Your order #12345 is currently being processed and is expected to ship within 2 days."
)
# The README's screenshot; a run refreshes it only when asked (SHOPBOT_UPDATE_SCREENSHOTS=1),
# so tests never modify tracked files.
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "widget-phone.png"
XSS_PAYLOADS = ('<img src=x onerror="window.__xss=1">', "<script>window.__xss=1</script>")

NewPage = Callable[..., Awaitable[Any]]


def make_identity_token(email: str, secret: str, *, valid_for: int = 3600) -> str:
    """An identity token as a shop's backend makes one (same code as in the README)."""
    payload = json.dumps({"email": email, "exp": int(time.time()) + valid_for}).encode()
    first = base64.urlsafe_b64encode(payload).rstrip(b"=")
    signature = hmac.new(secret.encode(), first, hashlib.sha256).digest()
    return (first + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


# -- what a customer does ----------------------------------------------------------------------


def bot_texts(page: Any) -> Any:
    return page.locator(".shopbot-message.shopbot-bot .shopbot-text")


def user_texts(page: Any) -> Any:
    return page.locator(".shopbot-message.shopbot-user .shopbot-text")


def all_texts(page: Any) -> Any:
    return page.locator(".shopbot-message .shopbot-text")


def launcher(page: Any) -> Any:
    return page.get_by_role("button", name="Open chat")


def message_box(page: Any) -> Any:
    return page.get_by_role("textbox", name="Message")


def panel(page: Any) -> Any:
    return page.get_by_role("dialog", name="Chat with us")


async def open_chat(page: Any) -> None:
    await launcher(page).click()
    await expect(panel(page)).to_be_visible()


async def say(page: Any, text: str) -> None:
    """Type ``text`` and press the Send button; waits until the message shows as sent."""
    sent_before = await user_texts(page).count()
    await message_box(page).fill(text)
    await page.get_by_role("button", name="Send").click()
    await expect(user_texts(page)).to_have_count(sent_before + 1)
    await expect(user_texts(page).last).to_have_text(text)


async def say_and_wait(page: Any, text: str) -> None:
    """Send ``text`` and wait for the bot's next reply to show."""
    answered = await bot_texts(page).count()
    await say(page, text)
    await expect(bot_texts(page).nth(answered)).to_be_visible()


async def seed_conversation(page: Any) -> None:
    """The seed: ask where order #12345 is, give the email when asked, get the status."""
    await say(page, SEED_QUESTION)
    await expect(bot_texts(page).last).to_contain_text("email")
    await say(page, SEED_EMAIL)
    await expect(bot_texts(page).last).to_contain_text(SEED_ANSWER)


async def conversation_id(page: Any, shop: ShopServer) -> str:
    """The conversation the widget's stored token names (the token's ``cid`` is the user id)."""
    token = await page.evaluate(
        """() => { for (let i = 0; i < localStorage.length; i++) {
                     const key = localStorage.key(i);
                     if (key.startsWith("shopbot.token")) return localStorage.getItem(key); }
                   return null; }"""
    )
    assert token, "the widget stored no conversation token"
    first = token.split(".")[0]
    cid = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))["cid"]
    session = await shop.runtime.store.load_session("web", cid)
    return session.conversation_id


async def account_page(page: Any, shop: ShopServer, script_attributes: str) -> None:
    """Open a shop page of our own (same origin as the server) that embeds the widget."""
    html = (
        "<!doctype html><html lang=en><head><title>My account</title></head><body>"
        f"<h1>My account</h1><script src='/widget.js' {script_attributes}></script>"
        "</body></html>"
    )
    await page.route(
        f"{shop.url}/account", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    await page.goto(f"{shop.url}/account")


# -- the storefront and the seed conversation --------------------------------------------------


async def test_storefront_lists_products_and_answers_the_seed_question(
    shop: ShopServer, page: Any
) -> None:
    response = await page.goto(shop.url)
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    for product in await shop.runtime.shop.list_products():
        await expect(page.get_by_text(product.name).first).to_be_visible()
    await expect(panel(page)).to_be_hidden()
    await expect(launcher(page)).to_have_attribute("aria-expanded", "false")

    await open_chat(page)
    await expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    await expect(message_box(page)).to_be_focused()
    await expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")

    await seed_conversation(page)
    assert await page.get_by_text(SEED_ANSWER).count() == 1
    stamp = page.locator(".shopbot-message.shopbot-bot time.shopbot-time").last
    await expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
    await expect(stamp).to_have_attribute("datetime", re.compile(r"^\d{4}-\d{2}-\d{2}T"))
    await expect(page.locator(".shopbot-typing")).to_be_hidden()


async def test_a_quick_reply_click_sends_it(shop: ShopServer, page: Any) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    await say(page, "tell me a joke")
    order_status = page.get_by_role("button", name="Order status")
    await expect(order_status).to_be_visible()

    await order_status.click()

    await expect(user_texts(page).last).to_have_text("Order status")
    await expect(bot_texts(page).last).to_contain_text("order number")
    await expect(page.locator(".shopbot-quick-reply")).to_have_count(0)


async def test_reload_keeps_the_history_and_the_conversation_goes_on(
    shop: ShopServer, page: Any
) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    await say(page, "tell me a joke")
    await page.get_by_role("button", name="Order status").click()
    await expect(bot_texts(page).last).to_contain_text("order number")
    before = await all_texts(page).all_inner_texts()

    await page.reload()
    if await launcher(page).get_attribute("aria-expanded") != "true":
        await open_chat(page)
    await expect(all_texts(page)).to_have_text(before)

    await say(page, "12345")
    await expect(bot_texts(page).last).to_contain_text("email")
    await expect(all_texts(page)).to_have_count(len(before) + 2)


async def test_the_conversation_survives_navigating_to_another_page(
    shop: ShopServer, page: Any
) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    await seed_conversation(page)
    count = await all_texts(page).count()

    await account_page(page, shop, "data-shopbot-url=''")
    if await launcher(page).get_attribute("aria-expanded") != "true":
        await open_chat(page)
    await expect(all_texts(page)).to_have_count(count)
    await expect(bot_texts(page).last).to_contain_text(SEED_ANSWER)


# -- identity tokens ---------------------------------------------------------------------------


async def test_a_signed_identity_in_the_script_tag_skips_the_email_question(
    shop: ShopServer, page: Any
) -> None:
    token = make_identity_token(SEED_EMAIL, IDENTITY_SECRET)
    await account_page(page, shop, f"data-shopbot-url='' data-shopbot-identity='{token}'")
    await open_chat(page)
    await say(page, SEED_QUESTION)
    await expect(bot_texts(page).last).to_contain_text(SEED_ANSWER)
    await expect(bot_texts(page).filter(has_text="email")).to_have_count(0)


async def test_identify_from_javascript_skips_the_email_question(
    shop: ShopServer, page: Any
) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    token = make_identity_token(SEED_EMAIL, IDENTITY_SECRET)
    await page.evaluate("token => window.ShopbotWidget.identify(token)", token)
    await say(page, SEED_QUESTION)
    await expect(bot_texts(page).last).to_contain_text(SEED_ANSWER)
    await expect(bot_texts(page).filter(has_text="email")).to_have_count(0)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(make_identity_token(SEED_EMAIL, "not-the-shared-secret"), id="forged"),
        pytest.param(make_identity_token(SEED_EMAIL, IDENTITY_SECRET, valid_for=-60), id="expired"),
        pytest.param(
            make_identity_token(SEED_EMAIL, IDENTITY_SECRET).replace(".", "x.", 1),
            id="tampered",
        ),
    ],
)
async def test_an_invalid_identity_is_not_trusted(shop: ShopServer, page: Any, token: str) -> None:
    await account_page(page, shop, f"data-shopbot-url='' data-shopbot-identity='{token}'")
    await open_chat(page)
    await say(page, SEED_QUESTION)
    await expect(bot_texts(page).last).to_contain_text("email")
    await expect(page.get_by_text(SEED_ANSWER)).to_have_count(0)


# -- safety and rendering ----------------------------------------------------------------------


async def test_html_in_messages_is_shown_as_text_and_never_runs(
    shop: ShopServer, page: Any
) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    for payload in XSS_PAYLOADS:
        await say_and_wait(page, payload)
    await expect(user_texts(page)).to_have_text(list(XSS_PAYLOADS))
    messages = page.get_by_role("log")
    await expect(messages.locator("img")).to_have_count(0)
    await expect(messages.locator("script")).to_have_count(0)
    assert await page.evaluate("() => typeof window.__xss") == "undefined"

    await page.reload()
    if await launcher(page).get_attribute("aria-expanded") != "true":
        await open_chat(page)
    await expect(user_texts(page)).to_have_text(list(XSS_PAYLOADS))
    await expect(page.get_by_role("log").locator("img, script")).to_have_count(0)
    assert await page.evaluate("() => typeof window.__xss") == "undefined"


async def test_web_addresses_become_safe_links_and_lines_are_kept(
    shop: ShopServer, page: Any
) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    await say(page, "I read https://example.com/help?a=1 and javascript:alert(1)")

    link = user_texts(page).last.get_by_role("link")
    await expect(link).to_have_count(1)
    await expect(link).to_have_text("https://example.com/help?a=1")
    await expect(link).to_have_attribute("href", "https://example.com/help?a=1")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))

    await message_box(page).fill("first line")
    await message_box(page).press("Shift+Enter")
    await message_box(page).press_sequentially("second line")
    await message_box(page).press("Enter")
    await expect(user_texts(page).last).to_contain_text("second line")
    # innerText follows the rendering: a newline the CSS collapsed would read as a space.
    assert await user_texts(page).last.inner_text() == "first line\nsecond line"


async def test_over_the_rate_limit_the_customer_is_told_to_wait(
    start_shop: StartShop, page: Any
) -> None:
    shop = await start_shop({"SHOPBOT_WEB_MESSAGES_PER_MINUTE": "2"})
    await page.goto(shop.url)
    await open_chat(page)
    await say_and_wait(page, "tell me a joke")
    await say_and_wait(page, "Order status")
    answered = await bot_texts(page).count()

    await message_box(page).fill("12345")
    await page.get_by_role("button", name="Send").click()

    await expect(page.get_by_role("status").filter(has_text="wait")).to_be_visible()
    await expect(message_box(page)).to_have_value("12345")
    await expect(bot_texts(page)).to_have_count(answered)
    await expect(user_texts(page)).to_have_text(["tell me a joke", "Order status"])


# -- keyboard, feedback, phone -----------------------------------------------------------------


async def press_until_focused(page: Any, key: str, target: Any, *, limit: int = 40) -> None:
    """Press ``key`` (Tab / Shift+Tab) until ``target`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if await target.evaluate("element => element === document.activeElement"):
            return
        await page.keyboard.press(key)
    pytest.fail(f"{limit} presses of {key} never reached {target}")


async def test_keyboard_only_use(shop: ShopServer, page: Any) -> None:
    await page.goto(shop.url)
    await press_until_focused(page, "Tab", launcher(page))
    await page.keyboard.press("Enter")
    await expect(panel(page)).to_be_visible()
    await expect(message_box(page)).to_be_focused()

    await page.keyboard.type("tell me a joke")
    await page.keyboard.press("Enter")
    await expect(user_texts(page).last).to_have_text("tell me a joke")
    order_status = page.get_by_role("button", name="Order status")
    await expect(order_status).to_be_visible()

    await press_until_focused(page, "Shift+Tab", order_status)
    await page.keyboard.press("Enter")
    await expect(user_texts(page).last).to_have_text("Order status")
    await expect(bot_texts(page).last).to_contain_text("order number")

    await page.keyboard.press("Escape")
    await expect(panel(page)).to_be_hidden()
    await expect(launcher(page)).to_be_focused()
    await expect(launcher(page)).to_have_attribute("aria-expanded", "false")


async def test_thumbs_up_is_stored_with_the_answer(shop: ShopServer, page: Any) -> None:
    await page.goto(shop.url)
    await open_chat(page)
    await seed_conversation(page)
    answer = page.locator(".shopbot-message.shopbot-bot").filter(has_text=SEED_ANSWER)
    helpful = answer.get_by_role("button", name="Helpful", exact=True)

    await helpful.click()

    await expect(helpful).to_have_attribute("aria-pressed", "true")
    await expect(
        answer.get_by_role("button", name="Not helpful", exact=True)
    ).not_to_have_attribute("aria-pressed", "true")
    turns = await shop.runtime.store.turns(await conversation_id(page, shop))
    rated = {turn.text: turn.feedback for turn in turns if turn.direction == "out"}
    assert [text for text, feedback in rated.items() if feedback == "up"] == [
        text for text in rated if SEED_ANSWER in text
    ]
    assert all(feedback in (None, "up") for feedback in rated.values())


async def test_phone_width_screenshot(shop: ShopServer, new_page: NewPage, tmp_path: Path) -> None:
    phone = await new_page(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    await phone.goto(shop.url)
    await open_chat(phone)
    await seed_conversation(phone)
    await say(phone, "Can I return it?")
    await expect(bot_texts(phone)).not_to_have_count(2)

    box = await panel(phone).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 360
    await expect(message_box(phone)).to_be_in_viewport()
    await expect(phone.get_by_role("button", name="Send")).to_be_in_viewport()
    update = os.environ.get("SHOPBOT_UPDATE_SCREENSHOTS") == "1"
    target = SCREENSHOT if update else tmp_path / SCREENSHOT.name
    await phone.screenshot(path=str(target))
    assert target.stat().st_size > 10_000  # a real picture, not an empty page


# -- embedding on another site -----------------------------------------------------------------


@pytest.fixture
async def other_site() -> AsyncIterator[str]:
    """Another origin: a web server whose page embeds the widget of the shop named by ``?shop=``."""

    async def page_handler(request: web.Request) -> web.Response:
        shop_url = html.escape(request.query["shop"])
        body = (
            "<!doctype html><html lang=en><head><title>Another shop page</title></head><body>"
            f"<h1>Welcome</h1><script src='{shop_url}/widget.js' "
            f"data-shopbot-url='{shop_url}'></script></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "refused"])
async def test_another_origin_needs_to_be_allowed(
    start_shop: StartShop, other_site: str, page: Any, allowed: bool
) -> None:
    shop = await start_shop({"SHOPBOT_WEB_ALLOWED_ORIGINS": other_site if allowed else ""})
    await page.goto(f"{other_site}/?shop={shop.url}")
    await open_chat(page)
    await message_box(page).fill(SEED_QUESTION)
    await page.get_by_role("button", name="Send").click()

    if allowed:
        await expect(bot_texts(page).last).to_contain_text("email")
        await expect(page.locator(".shopbot-notice:visible")).to_have_count(0)
    else:
        await expect(page.locator(".shopbot-notice:visible").first).not_to_be_empty()
        await expect(bot_texts(page)).to_have_count(0)
