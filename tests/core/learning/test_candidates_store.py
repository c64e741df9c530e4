"""Candidate storage and mining on SQLite and PostgreSQL, from log rows the real engine wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from core.learning.mining_run import mine
from core.learning.types import Example
from core.storage import SQLConversationStore
from core.storage.schema import learning_candidates
from shopbot.app import Runtime
from tests.conftest import TestDatabase
from tests.core.learning.conversations import converse, miner_for

FAILED = "hi I'm Zoe, the box i paid for with zoe@example.com is nowhere to be seen"


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[SQLConversationStore]:
    started = SQLConversationStore(database.url, connect_args=database.connect_args)
    await started.start()
    yield started
    await started.stop()


async def _copy_log(runtime: Runtime, store: SQLConversationStore) -> None:
    """The runtime's turn log (written by the real engine) into ``store``."""
    async for batch in runtime.store.conversation_batches():
        for turns in batch:
            for turn in await runtime.store.turns(turns[0].record.conversation_id):
                await store.log_turn(turn)


async def test_mined_candidates_are_stored_once_without_personal_data(
    runtime: Runtime, store: SQLConversationStore
) -> None:
    await converse(runtime, "zoe", [FAILED, "where is my order"])
    await converse(runtime, "yan", ["oi where's me stuff mate", "where is my order"])
    await _copy_log(runtime, store)
    miner = await miner_for(runtime)

    first = await mine(store, miner, batch_size=1)  # one conversation per batch
    second = await mine(store, miner)

    assert first.conversations == 2 and len(first.stored) == 2
    assert second.stored == ()
    rows = await store._run("read", lambda conn: conn.execute(select(learning_candidates)).all())
    assert len(rows) == 2
    for row in rows:
        assert "zoe" not in row.text.lower() and "@" not in row.text
    assert {row.text for row in rows} == {
        "hi I'm <name>, the box i paid for with <email> is nowhere to be seen",
        "oi where's me stuff mate",
    }


async def test_review_states_and_accepted_examples(
    runtime: Runtime, store: SQLConversationStore
) -> None:
    await converse(runtime, "zoe", [FAILED, "where is my order"])
    await converse(runtime, "yan", ["oi where's me stuff mate", "where is my order"])
    await converse(runtime, "xia", ["parcel never came mate", "where is my order"])
    await _copy_log(runtime, store)
    stored = (await mine(store, await miner_for(runtime))).stored
    first, second, third = stored

    accepted = await store.set_candidate(first.id, "accepted")
    relabelled = await store.set_candidate(second.id, "accepted", intent="return_policy")
    rejected = await store.set_candidate(third.id, "rejected")

    assert accepted is not None and accepted.reviewed_at is not None
    assert relabelled is not None and relabelled.intent == "return_policy"
    assert rejected is not None and rejected.status == "rejected"
    assert await store.set_candidate(9999, "accepted") is None
    with pytest.raises(ValueError):
        await store.set_candidate(first.id, "maybe")
    assert await store.candidates("pending") == []
    assert await store.accepted_examples() == [
        Example(first.text, "order_status"),
        Example(second.text, "return_policy"),
    ]


async def test_auto_accept_takes_only_pending_candidates_above_the_score(
    runtime: Runtime, store: SQLConversationStore
) -> None:
    await converse(runtime, "zoe", [FAILED, "where is my order"])
    await converse(runtime, "yan", ["oi where's me stuff mate", "where is my order"])
    await _copy_log(runtime, store)
    stored = (await mine(store, await miner_for(runtime))).stored
    low, high = sorted(stored, key=lambda c: c.score)
    assert low.score < high.score
    threshold = (low.score + high.score) / 2

    accepted = await store.accept_candidates(threshold)

    assert [c.id for c in accepted] == [high.id]
    assert [c.id for c in await store.candidates("pending")] == [low.id]
    assert await store.accept_candidates(threshold) == []


async def test_a_rating_given_after_mining_is_read_by_the_next_run(
    runtime: Runtime, store: SQLConversationStore
) -> None:
    # "yo what's up with my purchase" is taken for a greeting and answered as one.
    conversation = await converse(
        runtime, "wu", ["yo what's up with my purchase", "where is my order"]
    )
    await _copy_log(runtime, store)
    miner = await miner_for(runtime)
    assert (await mine(store, miner)).stored == ()
    reply = (await store.turns(conversation))[1]
    assert reply.message_id and await store.set_feedback(conversation, reply.message_id, "down")

    rated = await mine(store, miner)
    again = await mine(store, miner)

    assert [c.text for c in rated.stored] == ["yo what's up with my purchase"]
    assert again.conversations == 0
