"""Long polling (``SHOPBOT_TELEGRAM_MODE=polling``, local development without a public URL):
shopbot fetches updates from the Bot API itself and answers them."""

from __future__ import annotations

from tests.channels.telegram.conftest import DELIVERY, TOKEN
from tests.channels.telegram.fake_bot_api import FakeBotApi
from tests.channels.telegram.updates import callback_update, text_update
from tests.conftest import ServeShopbot
from tests.waiting import eventually

CAROL = 5550123


async def test_polling_answers_updates_fetched_from_telegram(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot
) -> None:
    fake_telegram.queue_update(text_update(41, CAROL, "Where is my order #12345?"))
    await serve_shopbot(
        env={"TELEGRAM_BOT_TOKEN": TOKEN},  # no webhook secret needed
        telegram={"api_url": fake_telegram.url, "mode": "polling"},
        delivery=DELIVERY,
    )
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "the bot asks for the email")

    fake_telegram.queue_update(text_update(42, CAROL, "carol@example.com"))
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 2, "the bot answers the status")
    assert "being processed" in fake_telegram.sent_texts(CAROL)[1]

    methods = [call.method for call in fake_telegram.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    polls = fake_telegram.calls_to("getUpdates")
    assert polls[0].params["allowed_updates"] == ["message", "callback_query"]
    # Each update is confirmed (offset past it) only after it was stored; none is answered twice.
    await eventually(
        lambda: any(p.params.get("offset") == "43" for p in fake_telegram.calls_to("getUpdates")),
        "the offset moves past the last update",
    )
    assert len(fake_telegram.sent(CAROL)) == 2


async def test_polling_answers_a_button_press_through_the_api(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot
) -> None:
    await serve_shopbot(
        env={"TELEGRAM_BOT_TOKEN": TOKEN},
        telegram={"api_url": fake_telegram.url, "mode": "polling"},
        delivery=DELIVERY,
    )
    fake_telegram.queue_update(text_update(1, CAROL, "qwpoeiru zxmcnv"))
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "the bot offers topics")
    offer = fake_telegram.sent(CAROL)[0].params
    buttons = [row[0] for row in offer["reply_markup"]["inline_keyboard"]]
    order_status = next(b for b in buttons if b["text"] == "Order status")

    fake_telegram.queue_update(callback_update(2, CAROL, offer, order_status["callback_data"]))

    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 2, "the bot answers the topic")
    assert "order number" in fake_telegram.sent_texts(CAROL)[1]
    answered = fake_telegram.calls_to("answerCallbackQuery")
    assert [call.params["callback_query_id"] for call in answered] == ["cbq-2"]


async def test_polling_backs_off_while_telegram_refuses_and_then_recovers(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot
) -> None:
    fake_telegram.fail_get_updates(409)  # e.g. another process polls the same bot
    await serve_shopbot(
        env={"TELEGRAM_BOT_TOKEN": TOKEN},
        telegram={"api_url": fake_telegram.url, "mode": "polling"},
        delivery=DELIVERY,
    )
    await eventually(lambda: len(fake_telegram.calls_to("getUpdates")) >= 3, "it keeps trying")
    times = [call.at for call in fake_telegram.calls_to("getUpdates")[:3]]
    first_wait, second_wait = times[1] - times[0], times[2] - times[1]
    assert first_wait >= 0.4 and second_wait > first_wait  # growing waits, no busy loop

    fake_telegram.fail_get_updates(None)
    fake_telegram.queue_update(text_update(1, CAROL, "bye"))
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "it answers once Telegram does")


async def test_polling_starts_once_telegram_lets_it_remove_the_webhook(
    fake_telegram: FakeBotApi, serve_shopbot: ServeShopbot
) -> None:
    fake_telegram.fail_delete_webhook(times=2)
    fake_telegram.queue_update(text_update(7, CAROL, "hello"))
    await serve_shopbot(
        env={"TELEGRAM_BOT_TOKEN": TOKEN},
        telegram={"api_url": fake_telegram.url, "mode": "polling"},
        delivery=DELIVERY,
    )
    await eventually(lambda: len(fake_telegram.sent(CAROL)) == 1, "the bot answers at last")
    methods = [call.method for call in fake_telegram.calls]
    # Two refusals, a retry that succeeds, and only then the first poll.
    assert methods.count("deleteWebhook") == 3
    last_delete = max(i for i, method in enumerate(methods) if method == "deleteWebhook")
    assert methods.index("getUpdates") > last_delete
