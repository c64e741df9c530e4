"""Slack events and button clicks through a real shopbot server, answered on a fake Slack.

Requests are signed as Slack signs them; what the staff member sees is what the fake Web API
received in ``chat.postMessage``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.channels.slack.conftest import SlackBot
from tests.channels.slack.fake_slack import BOT_ID, BOT_USER, FakeSlack, event_body, signed
from tests.waiting import eventually

EVENTS = "/slack/events"
INTERACTIONS = "/slack/interactions"


def dm(
    text: str, *, user: str = "U0AGENT", team: str = "T0STAFF", ts: str = "1.1"
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D0AGENT",
        "channel_type": "im",
        "user": user,
        "team": team,
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }


def mention(text: str, *, ts: str, thread_ts: str | None = None) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "channel": "C0SUPPORT",
        "user": "U0AGENT",
        "team": "T0STAFF",
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def _text_of(post: dict[str, Any]) -> str:
    return " ".join(b["text"]["text"] for b in post["blocks"] if b["type"] == "section")


async def _inbox_size(bot: SlackBot) -> int:
    return len(await bot.runtime.store.inbox_items())


async def test_slack_url_verification_is_answered_with_the_challenge(slack_bot: SlackBot) -> None:
    body = json.dumps(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595", "type": "url_verification"}
    )
    response = await slack_bot.post(EVENTS, body)
    assert response.status == 200
    async with slack_bot.http.post(
        slack_bot.url + EVENTS, data=body, headers=signed(body)
    ) as again:
        assert "3eZbrw1aBm2rZgRNFdxV2595" in await again.text()


async def test_staff_dm_gets_the_full_order_without_being_asked_an_email(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    response = await slack_bot.post(EVENTS, event_body(dm("where is order #12345?"), "Ev01"))
    assert response.status == 200
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer")
    (post,) = fake_slack.accepted_posts
    assert post["channel"] == "D0AGENT" and "thread_ts" not in post
    text = _text_of(post)
    assert "Carol Davies (carol@example.com)" in text and "Aurora" in text
    assert "Tracking: none yet" in text and "email address you used" not in text
    assert post["text"] == text  # the notification text is the same escaped message
    # Bolt learnt who the bot is once (at start), not per request.
    assert len(fake_slack.calls_to("auth.test")) == 1


async def test_a_mention_in_a_channel_is_answered_in_its_thread(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    await slack_bot.post(EVENTS, event_body(mention("order 1002 please", ts="10.5"), "Ev02"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer")
    first = fake_slack.accepted_posts[0]
    assert (first["channel"], first["thread_ts"]) == ("C0SUPPORT", "10.5")
    assert "Alice Martin" in _text_of(first) and "1Z999AA10123456784" in _text_of(first)
    follow_up = mention("and where is order 1003?", ts="11.0", thread_ts="10.5")
    await slack_bot.post(EVENTS, event_body(follow_up, "Ev03"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 2, "the follow-up")
    second = fake_slack.accepted_posts[1]
    assert second["thread_ts"] == "10.5" and "Bob Chen" in _text_of(second)


async def test_another_workspace_is_verified_like_any_customer(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    outsider = dm("where is order #12345?", user="U0GUEST", team="T0OTHER")
    await slack_bot.post(EVENTS, event_body(outsider, "Ev04", team_id="T0OTHER"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer")
    text = _text_of(fake_slack.accepted_posts[0])
    assert "email address you used for order #12345" in text
    assert "Carol" not in text and "Aurora" not in text


async def test_a_sender_whose_workspace_is_not_stated_is_not_taken_for_staff(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    # Delivered through the staff workspace (the request's team_id), but nothing in the event
    # says the sender belongs to it: e.g. a guest in a shared channel.
    unstated = {
        k: v for k, v in dm("where is order #12345?", user="U0GUEST").items() if k != "team"
    }
    await slack_bot.post(EVENTS, event_body(unstated, "Ev05", team_id="T0STAFF"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer")
    text = _text_of(fake_slack.accepted_posts[0])
    assert "email address you used for order #12345" in text
    assert "Carol" not in text


async def test_bot_edited_joined_and_own_messages_are_not_answered(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    ignored = [
        {**dm("I am a bot"), "bot_id": "B0OTHER"},
        {**dm("bot says hi"), "subtype": "bot_message"},
        dm("our own reply", user=BOT_USER),
        {**dm("edited"), "subtype": "message_changed"},
        {**dm("joined"), "subtype": "channel_join"},
        {**dm("in a channel"), "channel_type": "channel"},
        {**dm("our bot id"), "bot_id": BOT_ID},
    ]
    for number, event in enumerate(ignored):
        response = await slack_bot.post(EVENTS, event_body(event, f"EvIgnored{number}"))
        assert response.status == 200  # acknowledged, or Slack would retry
    await slack_bot.post(EVENTS, event_body(dm("what is your return policy?"), "EvMarker"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the marker's answer")
    assert "return" in _text_of(fake_slack.accepted_posts[0]).lower()
    assert await _inbox_size(slack_bot) == 1


async def test_forged_missing_and_stale_signatures_are_refused(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    body = event_body(dm("where is order #12345?"), "EvForged")
    forged = await slack_bot.post(EVENTS, body, secret="not-the-signing-secret")
    missing = await slack_bot.post(EVENTS, body, headers={"Content-Type": "application/json"})
    stale = await slack_bot.post(EVENTS, body, timestamp=int(time.time()) - 6 * 60)
    tampered_headers = signed(body)
    tampered = await slack_bot.post(EVENTS, body.replace("12345", "1003"), tampered_headers)
    for response in (forged, missing, stale, tampered):
        assert response.status in (401, 403)
    assert await _inbox_size(slack_bot) == 0
    assert fake_slack.posts == []


async def test_garbled_signature_headers_are_refused_not_an_error(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    body = event_body(dm("where is order #12345?"), "EvGarbled")
    good = signed(body)
    for garbled in (
        {"X-Slack-Request-Timestamp": "soon"},
        {"X-Slack-Request-Timestamp": "\u00b2\u00b3"},  # digits, but not ASCII ones
        {"X-Slack-Signature": "v0=\u00e9t\u00e9"},
    ):
        response = await slack_bot.post(EVENTS, body, good | garbled)
        assert response.status == 401, garbled
    assert await _inbox_size(slack_bot) == 0
    await slack_bot.post(EVENTS, event_body(dm("what is your return policy?"), "EvAfter"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "a genuine event is answered")


async def test_malformed_and_oversized_requests_get_a_4xx_and_the_service_keeps_serving(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    for body in (
        "{not json",
        "[1, 2]",
        '"text"',
        json.dumps({"type": "event_callback", "event": 3}),
    ):
        assert (await slack_bot.post(EVENTS, body)).status == 400, body
    bad_action = urlencode({"payload": json.dumps({"type": "block_actions", "actions": [7]})})
    form = "application/x-www-form-urlencoded"
    assert (await slack_bot.post(INTERACTIONS, bad_action, content_type=form)).status == 400
    assert (await slack_bot.post(INTERACTIONS, "payload=%7Bnope", content_type=form)).status == 400
    huge = event_body(dm("x" * 300_000), "EvHuge")
    assert (await slack_bot.post(EVENTS, huge)).status == 413
    await slack_bot.post(EVENTS, event_body(dm("what is your return policy?"), "EvAfter"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "an answer after bad input")


async def test_a_delivery_slack_retries_is_answered_once(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    body = event_body(dm("where is order #1003?"), "EvRetried")
    for retry in (None, 1, 2):
        assert (await slack_bot.post(EVENTS, body, retry=retry)).status == 200
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the answer")
    await slack_bot.post(EVENTS, event_body(dm("what is your return policy?"), "EvNext"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 2, "the next answer")
    assert "Bob Chen" in _text_of(fake_slack.accepted_posts[0])
    assert "return" in _text_of(fake_slack.accepted_posts[1]).lower()
    assert await _inbox_size(slack_bot) == 2


async def test_a_rate_limited_reply_goes_out_once_after_retry_after(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    fake_slack.answer_next_post("429", retry_after=1)
    await slack_bot.post(EVENTS, event_body(dm("where is order #1003?"), "Ev429"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the retried answer")
    assert len(fake_slack.posts) == 2  # refused once, then sent: no retry by slack_sdk itself
    assert "Bob Chen" in _text_of(fake_slack.accepted_posts[0])


async def test_a_button_click_picks_that_option(slack_bot: SlackBot, fake_slack: FakeSlack) -> None:
    await slack_bot.post(EVENTS, event_body(dm("hello"), "EvHello"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 1, "the greeting")
    greeting = fake_slack.accepted_posts[0]
    (actions,) = [block for block in greeting["blocks"] if block["type"] == "actions"]
    buttons = actions["elements"]
    assert [b["value"] for b in buttons][:2] == ["Order status", "Product information"]
    assert len({b["action_id"] for b in buttons}) == len(buttons)
    payload = {
        "type": "block_actions",
        "user": {"id": "U0AGENT", "username": "agent", "team_id": "T0STAFF"},
        "team": {"id": "T0STAFF", "domain": "shop-staff"},
        "api_app_id": "A0SHOPBOT",
        "container": {"type": "message", "message_ts": "20.1", "channel_id": "D0AGENT"},
        "channel": {"id": "D0AGENT"},
        "message": {"type": "message", "ts": "20.1", "user": BOT_USER, "text": greeting["text"]},
        "actions": [{**buttons[0], "block_id": "b1", "action_ts": "21.0"}],
        "response_url": "https://hooks.slack.com/actions/T0STAFF/1/abc",
        "trigger_id": "1.2.3",
    }
    body = urlencode({"payload": json.dumps(payload)})
    form = "application/x-www-form-urlencoded"
    for _ in range(2):  # a second delivery of the same click is not a second click
        response = await slack_bot.post(INTERACTIONS, body, content_type=form)
        assert response.status == 200
    await eventually(lambda: len(fake_slack.accepted_posts) == 2, "the answer to the click")
    picked = fake_slack.accepted_posts[1]
    assert picked["channel"] == "D0AGENT" and "order number" in _text_of(picked).lower()
    await slack_bot.post(EVENTS, event_body(dm("12345", ts="22.0"), "EvNumber"))
    await eventually(lambda: len(fake_slack.accepted_posts) == 3, "the order")
    assert "Carol Davies" in _text_of(fake_slack.accepted_posts[2])  # same conversation
    assert await _inbox_size(slack_bot) == 3
