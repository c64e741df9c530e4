"""The dispatcher with the real engine and store: what a platform's user receives, and when not.

``Platform`` plays a messaging platform's send API: it records what it accepted and can be told
to answer the next calls with 429 (and a retry-after), 500, 401, or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.delivery import Capabilities, OutboundMessage, OutboxItem
from core.dispatch import Dispatcher
from core.errors import ChannelAuthError, ChannelError, ChannelRateLimited
from core.storage import SQLConversationStore
from core.types import InboundMessage
from shopbot.app import Runtime, build_runtime
from tests.conftest import TestDatabase, runtime_settings
from tests.waiting import eventually


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Platform:
    """A messaging platform's send API in memory (the sender a channel would wrap around it)."""

    def __init__(self, channel: str = "telegram", capabilities: Capabilities | None = None) -> None:
        self.channel = channel
        self.capabilities = capabilities or Capabilities(max_chars=4096)
        self.sent: list[OutboundMessage] = []
        self.calls = 0
        self._answers: list[tuple[int | str, float | None]] = []

    def answer_next(self, status: int | str, retry_after: float | None = None) -> None:
        """Answer the next call with HTTP ``status`` (429, 500, 401) or ``"hang"``."""
        self._answers.append((status, retry_after))

    async def send(self, message: OutboundMessage) -> None:
        self.calls += 1
        if not self._answers:
            self.sent.append(message)
            return
        status, retry_after = self._answers.pop(0)
        if status == "hang":
            await asyncio.Event().wait()
        if status == 429:
            raise ChannelRateLimited("429 Too Many Requests", retry_after)
        if status == 401:
            raise ChannelAuthError("401 Unauthorized")
        raise ChannelError(f"{status} Internal Server Error")

    def texts(self) -> list[str]:
        return [message.text for message in self.sent]


async def _open(database: TestDatabase, model_dir: Path, data: Path) -> Runtime:
    runtime = build_runtime(runtime_settings(model_dir, data))
    runtime.store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await runtime.start()
    return runtime


Make = Callable[..., Dispatcher]


@pytest.fixture
async def bot(
    database: TestDatabase, model_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, Make]]:
    """A started runtime on ``database`` and a factory of dispatchers on it, all stopped after."""
    runtime = await _open(database, model_dir, tmp_path)
    made: list[Dispatcher] = []

    def make(platform: Platform, **options: Any) -> Dispatcher:
        options.setdefault("base_delay", 0.01)
        options.setdefault("max_delay", 0.05)
        dispatcher = Dispatcher(
            runtime.engine,
            runtime.store,
            {platform.channel: platform},
            metrics=runtime.metrics,
            **options,
        )
        made.append(dispatcher)
        return dispatcher

    yield runtime, make
    for dispatcher in made:
        await dispatcher.stop()
    await runtime.stop()


def _message(text: str, platform_id: str, user: str = "42") -> InboundMessage:
    return InboundMessage(channel="telegram", user_id=user, text=text, message_id=platform_id)


def _count(runtime: Runtime, name: str, **labels: str) -> float:
    return runtime.metrics.registry.get_sample_value(name, labels) or 0.0


async def _only_outbox_row(runtime: Runtime) -> OutboxItem:
    (item,) = await runtime.store.outbox_items()
    return item


async def test_an_order_status_conversation_through_the_inbox(
    bot: tuple[Runtime, Make],
) -> None:
    runtime, make = bot
    platform = Platform()
    dispatcher = make(platform)
    await dispatcher.start()
    assert await dispatcher.submit(_message("where is order 1003", "u1"), recipient="chat-42")

    async def replies(n: int) -> bool:
        return len(platform.sent) >= n

    await eventually(lambda: replies(1), "the first reply")
    assert "email" in platform.texts()[0].lower()
    assert platform.sent[0].asks_for == "email"  # Telegram can offer "share my phone number"
    assert await dispatcher.submit(_message("bob@example.com", "u2"), recipient="chat-42")
    await eventually(lambda: _sent_rows(runtime, 2), "the second reply")
    answer = platform.sent[1]
    assert "#1003" in answer.text and "Zephyr" in answer.text
    assert answer.asks_for is None
    assert (answer.recipient, answer.channel, answer.inbound_id) == ("chat-42", "telegram", "u2")
    assert _count(runtime, "shopbot_outbound_sent_total", channel="telegram") == 2
    (done, _) = await runtime.store.inbox_items("done")
    assert done.message.text == ""  # the turn log keeps the (redacted) text, not the inbox


async def test_a_delivery_sent_three_times_is_answered_once(bot: tuple[Runtime, Make]) -> None:
    runtime, make = bot
    platform = Platform()
    dispatcher = make(platform)
    copies = [await dispatcher.submit(_message("hello", "u7"), recipient="42") for _ in range(3)]
    assert copies == [True, False, False]
    await dispatcher.start()
    assert not await dispatcher.submit(_message("hello", "u7"), recipient="42")  # and later
    await dispatcher.submit(_message("what is your return policy?", "u8"), recipient="42")

    async def both_answered() -> bool:
        return len(await runtime.store.inbox_items("done")) == 2 and len(platform.sent) >= 2

    await eventually(both_answered, "both messages answered")
    assert len(platform.sent) == 2  # the later message's reply came after the only greeting
    assert "return" in platform.texts()[1].lower()


async def test_messages_of_one_conversation_are_answered_in_order(
    bot: tuple[Runtime, Make],
) -> None:
    _, make = bot
    platform = Platform()
    dispatcher = make(platform, concurrency=4)
    lines = ["where is order 1003", "bob@example.com", "what is your return policy?"]
    for number, line in enumerate(lines):
        await dispatcher.submit(_message(line, f"a{number}"), recipient="42")
        await dispatcher.submit(_message(f"hello {number}", f"b{number}", "77"), recipient="77")
    await dispatcher.start()

    async def all_answered() -> bool:
        return len(platform.sent) >= 6

    await eventually(all_answered, "six replies")
    mine = [m.text for m in platform.sent if m.recipient == "42"]
    assert "email" in mine[0].lower()  # processed out of order, the email would come first
    assert "Zephyr" in mine[1] and "return" in mine[2].lower()
    assert [m.inbound_id for m in platform.sent if m.recipient == "42"] == ["a0", "a1", "a2"]


async def test_a_rate_limit_is_honoured_then_the_reply_goes_out(
    bot: tuple[Runtime, Make],
) -> None:
    runtime, make = bot
    platform, clock = Platform(), Clock()
    platform.answer_next(429, retry_after=30)
    dispatcher = make(platform, clock=clock)
    await dispatcher.start()
    await dispatcher.submit(_message("hello", "u1"), recipient="42")

    async def rate_limited() -> bool:
        rows = await runtime.store.outbox_items()
        return bool(rows) and rows[0].attempts == 1

    await eventually(rate_limited, "the first, refused attempt")
    row = await _only_outbox_row(runtime)
    assert row.status == "pending" and row.next_attempt_at == clock.now + timedelta(seconds=30)
    assert platform.sent == []
    clock.advance(30)
    dispatcher.wake()

    await eventually(lambda: _sent_rows(runtime, 1), "the retried reply")
    assert len(platform.sent) == 1
    assert (await _only_outbox_row(runtime)).status == "sent"
    assert platform.calls == 2
    assert _count(runtime, "shopbot_outbound_sent_total", channel="telegram") == 1


async def test_server_errors_back_off_then_give_up_into_a_recorded_failure(
    bot: tuple[Runtime, Make], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, make = bot
    platform, clock = Platform(), Clock()
    for _ in range(3):
        platform.answer_next(500)
    dispatcher = make(platform, clock=clock, max_attempts=3, base_delay=1.0, max_delay=60.0)
    start = clock.now
    await dispatcher.start()
    await dispatcher.submit(_message("hello", "u1"), recipient="42")
    for attempts, wait in ((1, 1.0), (2, 2.0)):  # exponential: 1 s, then 2 s

        async def tried(n: int = attempts) -> bool:
            rows = await runtime.store.outbox_items()
            return bool(rows) and rows[0].attempts == n

        await eventually(tried, f"attempt {attempts}")
        row = await _only_outbox_row(runtime)
        assert row.next_attempt_at == clock.now + timedelta(seconds=wait)
        clock.advance(wait)
        dispatcher.wake()

    async def failed() -> bool:
        return (await _only_outbox_row(runtime)).status == "failed"

    with caplog.at_level(logging.ERROR, logger="core.dispatch"):
        await eventually(failed, "the failure")
    row = await _only_outbox_row(runtime)
    assert row.attempts == 3 and "500" in (row.last_error or "")
    assert row.message.text  # kept for whoever looks into it
    assert platform.sent == [] and platform.calls == 3 and clock.now == start + timedelta(seconds=3)
    assert (
        _count(runtime, "shopbot_outbound_failures_total", channel="telegram", reason="unavailable")
        == 1
    )
    assert any("gave up sending" in r.getMessage() for r in caplog.records)


async def test_a_refused_token_fails_at_once(bot: tuple[Runtime, Make]) -> None:
    runtime, make = bot
    platform = Platform()
    platform.answer_next(401)
    dispatcher = make(platform)
    await dispatcher.start()
    await dispatcher.submit(_message("hello", "u1"), recipient="42")
    await dispatcher.submit(_message("what is your return policy?", "u2"), recipient="42")

    async def settled() -> bool:
        return len(await runtime.store.outbox_items("sent")) == 1

    await eventually(settled, "the second reply")
    assert platform.texts() and "return" in platform.texts()[0].lower()
    failed, sent = await runtime.store.outbox_items()
    assert (failed.status, failed.attempts, sent.status) == ("failed", 1, "sent")
    assert platform.calls == 2
    assert (
        _count(runtime, "shopbot_outbound_failures_total", channel="telegram", reason="auth") == 1
    )


async def test_a_platform_that_does_not_answer_is_retried(bot: tuple[Runtime, Make]) -> None:
    runtime, make = bot
    platform = Platform()
    platform.answer_next("hang")
    dispatcher = make(platform, send_timeout=0.05)
    await dispatcher.start()
    await dispatcher.submit(_message("hello", "u1"), recipient="42")

    await eventually(lambda: _sent_rows(runtime, 1), "the reply after the timeout")
    assert len(platform.sent) == 1
    row = await _only_outbox_row(runtime)
    assert row.status == "sent" and row.attempts == 2 and platform.calls == 2


async def test_a_channel_without_sender_is_a_recorded_failure(bot: tuple[Runtime, Make]) -> None:
    runtime, make = bot
    dispatcher = make(Platform("slack"))
    await dispatcher.start()
    await dispatcher.submit(_message("hello", "u1"), recipient="42")

    async def failed() -> bool:
        rows = await runtime.store.outbox_items("failed")
        return len(rows) == 1

    await eventually(failed, "the failure")
    assert (
        _count(runtime, "shopbot_outbound_failures_total", channel="telegram", reason="no_sender")
        == 1
    )


async def test_a_message_acknowledged_before_a_crash_is_answered_after_restart(
    database: TestDatabase, model_dir: Path, tmp_path: Path
) -> None:
    before = await _open(database, model_dir, tmp_path)
    crashed = Dispatcher(before.engine, before.store, {}, metrics=before.metrics)
    # Acknowledged, and then the process died: one message never processed, one processed
    # (its turn stored) but not yet queued for sending.
    assert await crashed.submit(_message("where is order 1003", "u1"), recipient="42")
    assert await crashed.submit(_message("bob@example.com", "u2"), recipient="42")
    await before.engine.handle(_message("where is order 1003", "u1"))
    await before.stop()

    after = await _open(database, model_dir, tmp_path / "restart")
    platform = Platform()
    dispatcher = Dispatcher(
        after.engine, after.store, {"telegram": platform}, metrics=after.metrics
    )
    try:
        await dispatcher.start()

        async def answered() -> bool:
            return len(platform.sent) >= 2

        await eventually(answered, "both replies after the restart")
        assert "email" in platform.texts()[0].lower() and "Zephyr" in platform.texts()[1]
        assert not await dispatcher.submit(_message("bob@example.com", "u2"), recipient="42")
        await dispatcher.submit(_message("thanks, bye", "u3"), recipient="42")
        await eventually(lambda: _sent_at_least(platform, 3), "the next reply")
        assert len(platform.sent) == 3  # each message answered once
        session = await after.store.load_session("telegram", "42")
        assert session.version == 3
    finally:
        await dispatcher.stop()
        await after.stop()


async def _sent_at_least(platform: Platform, n: int) -> bool:
    return len(platform.sent) >= n


async def _sent_rows(runtime: Runtime, n: int) -> bool:
    return len(await runtime.store.outbox_items("sent")) >= n


async def test_two_workers_on_one_database_answer_each_message_once(
    bot: tuple[Runtime, Make],
) -> None:
    runtime, make = bot
    platform = Platform()
    first, second = make(platform, concurrency=2), make(platform, concurrency=2)
    users = [f"user{n}" for n in range(6)]
    for n, user in enumerate(users):
        await first.submit(_message("where is order 1003", f"a{n}", user), recipient=user)
        await second.submit(_message("bob@example.com", f"b{n}", user), recipient=user)
    await first.start()
    await second.start()
    await eventually(lambda: _sent_rows(runtime, 2 * len(users)), "every reply")
    await asyncio.sleep(0.2)  # time for a duplicate to show up, if one were coming
    assert len(platform.sent) == 2 * len(users)
    for user in users:  # and in each conversation, in order
        texts = [m.text for m in platform.sent if m.recipient == user]
        assert "email" in texts[0].lower() and "Zephyr" in texts[1]


async def test_a_message_that_cannot_be_processed_gets_an_apology_and_is_counted(
    bot: tuple[Runtime, Make], tmp_path: Path
) -> None:
    runtime, _ = bot
    # The conversation database is down for the engine; the inbox (another database) works.
    inbox = SQLConversationStore(f"sqlite+aiosqlite:///{tmp_path / 'inbox.sqlite3'}")
    await inbox.start()
    platform = Platform()
    dispatcher = Dispatcher(
        runtime.engine,
        inbox,
        {"telegram": platform},
        metrics=runtime.metrics,
        base_delay=0.01,
        apology="Sorry, something went wrong on our side.",
    )
    try:
        await runtime.store.stop()
        await dispatcher.start()
        await dispatcher.submit(_message("where is order 1003", "u1"), recipient="chat-42")
        await eventually(lambda: _sent_at_least(platform, 1), "the apology")
        assert platform.texts() == ["Sorry, something went wrong on our side."]
        assert platform.sent[0].recipient == "chat-42"
        (failed,) = await inbox.inbox_items("failed")
        assert "StorageError" in (failed.last_error or "")
        assert _count(runtime, "shopbot_inbound_failures_total", channel="telegram") == 1
    finally:
        await dispatcher.stop()
        await inbox.stop()
