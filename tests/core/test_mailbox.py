"""The durable inbox and outbox on a real database: SQLite file, and PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.delivery import DeliveryStore, OutboundMessage
from core.errors import StorageError
from core.storage import SQLConversationStore
from core.types import Identity, InboundMessage
from tests.conftest import TestDatabase

NOW = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[SQLConversationStore]:
    store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


def _inbound(
    platform_id: str, text: str = "where is order 1003", user: str = "42"
) -> InboundMessage:
    return InboundMessage(
        channel="telegram",
        user_id=user,
        text=text,
        message_id=platform_id,
        verified_identity=Identity("phone", "+15550001111"),
        received_at=NOW,
    )


def _reply(text: str, recipient: str = "42") -> OutboundMessage:
    return OutboundMessage("telegram", recipient, text, ("Yes", "No"), thread="t1", inbound_id="7")


def test_store_satisfies_the_delivery_port() -> None:
    store: DeliveryStore = SQLConversationStore("sqlite+aiosqlite:///:memory:")
    assert store is not None


async def test_a_redelivered_message_is_accepted_once(store: SQLConversationStore) -> None:
    assert await store.accept(_inbound("7"), recipient="chat-42", thread="t1")
    assert not await store.accept(_inbound("7", "a retried copy"), recipient="chat-42")
    assert await store.accept(_inbound("8"), recipient="chat-42")
    pending = await store.pending_inbox(10)
    assert [item.message.message_id for item in pending] == ["7", "8"]
    first = pending[0]
    assert first.message == _inbound("7")  # every field round-trips, the first copy wins
    assert (first.recipient, first.thread, first.status, first.attempts) == (
        "chat-42",
        "t1",
        "pending",
        0,
    )


async def test_the_same_platform_id_on_another_channel_is_another_message(
    store: SQLConversationStore,
) -> None:
    assert await store.accept(_inbound("7"), recipient="42")
    slack = InboundMessage(channel="slack", user_id="U1", text="hi", message_id="7")
    assert await store.accept(slack, recipient="C1")
    assert len(await store.pending_inbox(10)) == 2


async def test_a_message_without_platform_id_is_refused(store: SQLConversationStore) -> None:
    with pytest.raises(ValueError, match="platform id"):
        await store.accept(InboundMessage("telegram", "42", "hi"), recipient="42")


async def test_finishing_queues_the_replies_once_and_forgets_the_text(
    store: SQLConversationStore,
) -> None:
    await store.accept(_inbound("7"), recipient="42")
    (item,) = await store.pending_inbox(10)
    replies = [_reply("first"), _reply("second")]
    assert await store.finish_inbox(item.id, replies, now=NOW)
    assert not await store.finish_inbox(item.id, replies, now=NOW)  # a second worker: nothing
    assert await store.pending_inbox(10) == []
    (done,) = await store.inbox_items()
    assert done.status == "done"
    assert done.message.text == "" and done.message.verified_identity is None
    due = await store.due_outbox(NOW, 10)
    assert [d.message for d in due] == [replies[0]]  # one message per recipient at a time
    assert due[0].attempts == 0 and due[0].next_attempt_at == NOW


async def test_a_recipients_messages_wait_for_the_earlier_one(store: SQLConversationStore) -> None:
    await store.accept(_inbound("7"), recipient="42")
    await store.accept(_inbound("8", user="43"), recipient="43")
    first, other = await store.pending_inbox(10)
    await store.finish_inbox(first.id, [_reply("a"), _reply("b")], now=NOW)
    await store.finish_inbox(other.id, [_reply("c", "43")], now=NOW)
    head, head43 = await store.due_outbox(NOW, 10)
    assert (head.message.text, head43.message.text) == ("a", "c")
    later = NOW + timedelta(seconds=30)
    await store.retry_later(head.id, later, "ChannelRateLimited: slow down")
    await store.mark_sent(head43.id, now=NOW)
    assert await store.due_outbox(NOW, 10) == []  # "b" must not overtake "a"
    assert await store.next_outbox_due() == later
    (waiting,) = await store.due_outbox(later, 10)
    assert waiting.message.text == "a" and waiting.attempts == 1
    assert waiting.last_error == "ChannelRateLimited: slow down"
    await store.mark_sent(waiting.id, now=later)
    (second,) = await store.due_outbox(later, 10)
    assert second.message.text == "b"
    await store.mark_failed(second.id, "ChannelAuthError: bad token", now=later)
    assert await store.next_outbox_due() is None
    sent = await store.outbox_items("sent")
    assert [s.message.text for s in sent] == ["", ""]  # delivered text is not kept
    (failed,) = await store.outbox_items("failed")
    assert failed.message.text == "b" and failed.last_error == "ChannelAuthError: bad token"
    assert failed.attempts == 1


async def test_inbox_retries_and_failures_are_recorded(store: SQLConversationStore) -> None:
    await store.accept(_inbound("7"), recipient="42")
    (item,) = await store.pending_inbox(10)
    await store.retry_inbox(item.id, "RuntimeError: boom")
    (again,) = await store.pending_inbox(10)
    assert again.attempts == 1 and again.last_error == "RuntimeError: boom"
    await store.fail_inbox(item.id, "RuntimeError: boom", now=NOW)
    assert await store.pending_inbox(10) == []
    (failed,) = await store.inbox_items("failed")
    assert failed.attempts == 2
    assert not await store.finish_inbox(item.id, [_reply("late")], now=NOW)
    assert await store.outbox_items() == []


async def test_text_no_database_stores_is_refused(store: SQLConversationStore) -> None:
    with pytest.raises(StorageError, match="NUL"):
        await store.accept(_inbound("7", "bad\x00text"), recipient="42")
    assert await store.inbox_items() == []
