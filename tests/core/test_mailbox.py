"""The durable inbox and outbox on a real database: SQLite file, and PostgreSQL when configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.delivery import DeliveryStore, InboxItem, OutboundMessage, OutboxItem
from core.errors import StorageError
from core.storage import SQLConversationStore
from core.types import Identity, InboundMessage
from tests.conftest import TestDatabase

NOW = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)
LEASE = timedelta(minutes=2)


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


async def _pending(store: SQLConversationStore) -> list[InboxItem]:
    return await store.inbox_items("pending")


async def _claim(store: SQLConversationStore, now: datetime = NOW) -> list[InboxItem]:
    return await store.claim_inbox(now, 10, lease=LEASE)


async def _due(store: SQLConversationStore, now: datetime = NOW) -> list[OutboxItem]:
    return await store.claim_outbox(now, 10, lease=LEASE)


def test_store_satisfies_the_delivery_port() -> None:
    store: DeliveryStore = SQLConversationStore("sqlite+aiosqlite:///:memory:")
    assert store is not None


async def test_a_redelivered_message_is_accepted_once(store: SQLConversationStore) -> None:
    assert await store.accept(_inbound("7"), recipient="chat-42", thread="t1")
    assert not await store.accept(_inbound("7", "a retried copy"), recipient="chat-42")
    assert await store.accept(_inbound("8"), recipient="chat-42")
    pending = await _pending(store)
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
    assert len(await _claim(store)) == 2  # two conversations: both at once


async def test_a_message_without_platform_id_is_refused(store: SQLConversationStore) -> None:
    with pytest.raises(ValueError, match="platform id"):
        await store.accept(InboundMessage("telegram", "42", "hi"), recipient="42")


async def test_finishing_queues_the_replies_once_and_forgets_the_text(
    store: SQLConversationStore,
) -> None:
    await store.accept(_inbound("7"), recipient="42")
    (item,) = await _claim(store)
    replies = [_reply("first"), _reply("second")]
    assert await store.finish_inbox(item.id, replies, now=NOW)
    assert not await store.finish_inbox(item.id, replies, now=NOW)  # a second worker: nothing
    assert await _pending(store) == []
    (done,) = await store.inbox_items()
    assert done.status == "done"
    assert done.message.text == "" and done.message.verified_identity is None
    due = await _due(store)
    assert [d.message for d in due] == [replies[0]]  # one message per recipient at a time
    assert due[0].attempts == 0 and due[0].next_attempt_at == NOW


async def test_a_recipients_messages_wait_for_the_earlier_one(store: SQLConversationStore) -> None:
    await store.accept(_inbound("7"), recipient="42")
    await store.accept(_inbound("8", user="43"), recipient="43")
    first, other = await _claim(store)
    await store.finish_inbox(first.id, [_reply("a"), _reply("b")], now=NOW)
    await store.finish_inbox(other.id, [_reply("c", "43")], now=NOW)
    head, head43 = await _due(store)
    assert (head.message.text, head43.message.text) == ("a", "c")
    later = NOW + timedelta(seconds=30)
    await store.retry_later(head.id, later, "ChannelRateLimited: slow down")
    await store.mark_sent(head43.id, now=NOW)
    assert await _due(store) == []  # "b" must not overtake "a"
    assert await store.next_outbox_due() == later
    (waiting,) = await _due(store, later)
    assert waiting.message.text == "a" and waiting.attempts == 1
    assert waiting.last_error == "ChannelRateLimited: slow down"
    await store.mark_sent(waiting.id, now=later)
    (second,) = await _due(store, later)
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
    (item,) = await _claim(store)
    await store.retry_inbox(item.id, "RuntimeError: boom")
    (again,) = await _claim(store)  # a failed attempt gives the claim back
    assert again.attempts == 1 and again.last_error == "RuntimeError: boom"
    await store.fail_inbox(item.id, "RuntimeError: boom", now=NOW)
    assert await _claim(store) == []
    (failed,) = await store.inbox_items("failed")
    assert failed.attempts == 2
    assert not await store.finish_inbox(item.id, [_reply("late")], now=NOW)
    assert await store.outbox_items() == []


async def test_text_no_database_stores_is_refused(store: SQLConversationStore) -> None:
    with pytest.raises(StorageError, match="NUL"):
        await store.accept(_inbound("7", "bad\x00text"), recipient="42")
    assert await store.inbox_items() == []


# -- several workers on one database ------------------------------------------------------------


async def test_a_claimed_message_is_not_handed_to_a_second_worker_until_its_claim_lapses(
    store: SQLConversationStore,
) -> None:
    await store.accept(_inbound("7"), recipient="42")
    (mine,) = await _claim(store)
    assert await _claim(store) == []  # another worker, at the same moment
    (lapsed,) = await _claim(store, NOW + LEASE)  # the first worker died: someone takes over
    assert lapsed.id == mine.id


async def test_a_conversation_is_worked_on_one_message_at_a_time(
    store: SQLConversationStore,
) -> None:
    await store.accept(_inbound("7"), recipient="42")
    await store.accept(_inbound("8", "bob@example.com"), recipient="42")
    await store.accept(_inbound("9", user="43"), recipient="43")
    first = await _claim(store)
    assert [i.message.message_id for i in first] == ["7", "9"]
    assert await _claim(store) == []  # "8" waits for "7", even for another worker
    await store.finish_inbox(first[0].id, [], now=NOW)
    (second,) = await _claim(store)
    assert second.message.message_id == "8"


async def test_a_worker_that_stops_gives_its_claims_back(store: SQLConversationStore) -> None:
    await store.accept(_inbound("7"), recipient="42")
    (item,) = await _claim(store)
    await store.release_inbox([item.id])
    (again,) = await _claim(store)
    assert again.id == item.id
    await store.finish_inbox(item.id, [_reply("a")], now=NOW)
    (sending,) = await _due(store)
    assert await _due(store) == []  # being sent by the first worker
    await store.release_outbox([sending.id], now=NOW)
    (resumed,) = await _due(store)
    assert resumed.id == sending.id and resumed.message.text == "a"


async def test_concurrent_workers_claim_each_message_once(store: SQLConversationStore) -> None:
    for n in range(20):
        await store.accept(_inbound(str(n), user=f"user{n}"), recipient=f"user{n}")
    batches = await asyncio.gather(*(store.claim_inbox(NOW, 5, lease=LEASE) for _ in range(8)))
    claimed = [item.id for batch in batches for item in batch]
    assert len(claimed) == len(set(claimed))  # nobody got a message someone else holds
    assert len(claimed) == 20
