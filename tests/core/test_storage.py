"""The conversation store on a real database: SQLite file, and PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from core.errors import ConcurrentUpdate, StorageError
from core.ports import ConversationStore, HandoffRecord, TurnRecord
from core.session import DialogueState, Session
from core.storage import SQLConversationStore
from core.types import Attributes, ModelCall
from tests.conftest import TestDatabase


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[SQLConversationStore]:
    store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


def _turn(conversation_id: str, text: str, direction: str = "in", **extra: object) -> TurnRecord:
    return TurnRecord(
        conversation_id=conversation_id,
        channel="api",
        user_id="u1",
        direction=direction,
        text=text,
        **extra,  # type: ignore[arg-type]
    )


def test_store_satisfies_the_port() -> None:
    store: ConversationStore = SQLConversationStore("sqlite+aiosqlite:///:memory:")
    assert store is not None


async def test_unknown_user_gets_a_fresh_unsaved_session(store: SQLConversationStore) -> None:
    session = await store.load_session("api", "new-user")
    assert session.channel == "api"
    assert session.user_id == "new-user"
    assert session.version == 0
    assert session.state is DialogueState.ANSWERED
    assert session.slots == Attributes()
    assert session.clarify_count == 0 and session.failed_verifications == 0
    assert session.verified_customer is None and session.locked_until is None
    uuid.UUID(session.conversation_id)  # a real uuid
    again = await store.load_session("api", "new-user")
    assert again.conversation_id != session.conversation_id  # nothing was stored


async def test_every_session_field_round_trips(store: SQLConversationStore) -> None:
    fresh = await store.load_session("whatsapp", "+15550001111")
    locked = datetime(2031, 5, 17, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    session = replace(
        fresh,
        state=DialogueState.AWAITING_INPUT,
        intent="order_status",
        slots=Attributes(order_number="1003", email="bob@example.com", product="ZEPHYR-STAND"),
        awaiting="email",
        clarify_count=2,
        verified_customer="cust-bob",
        verified_at=locked - timedelta(minutes=5),
        failed_verifications=3,
        locked_until=locked,
        offered=("Order status", "Talk to a person"),
    )
    saved = await store.save_session(session)
    loaded = await store.load_session("whatsapp", "+15550001111")
    assert loaded == saved == replace(session, version=1)
    assert loaded.locked_until is not None
    assert loaded.locked_until.tzinfo is not None
    assert loaded.locked_until.utcoffset() == timedelta(0)  # normalised to UTC
    assert loaded.locked_until == locked  # the same instant


async def test_each_save_increments_the_version(store: SQLConversationStore) -> None:
    session = await store.load_session("api", "u1")
    for expected in (1, 2, 3):
        session = await store.save_session(replace(session, clarify_count=expected))
        assert session.version == expected
    loaded = await store.load_session("api", "u1")
    assert (loaded.version, loaded.clarify_count) == (3, 3)


async def test_sessions_are_per_channel_and_user(store: SQLConversationStore) -> None:
    a = await store.save_session(replace(await store.load_session("api", "u1"), intent="greeting"))
    b = await store.save_session(await store.load_session("telegram", "u1"))
    c = await store.save_session(await store.load_session("api", "u2"))
    assert len({a.conversation_id, b.conversation_id, c.conversation_id}) == 3
    assert (await store.load_session("telegram", "u1")).intent is None
    assert (await store.load_session("api", "u1")).intent == "greeting"


async def test_stale_save_is_refused_and_keeps_the_newer_state(
    store: SQLConversationStore,
) -> None:
    first = await store.save_session(await store.load_session("api", "u1"))
    turn_a = await store.load_session("api", "u1")
    turn_b = await store.load_session("api", "u1")
    await store.save_session(replace(turn_a, intent="order_status"))
    with pytest.raises(ConcurrentUpdate):
        await store.save_session(replace(turn_b, intent="greeting"))
    loaded = await store.load_session("api", "u1")
    assert (loaded.intent, loaded.version) == ("order_status", first.version + 1)


async def test_concurrent_first_saves_of_one_user_let_exactly_one_win(
    store: SQLConversationStore,
) -> None:
    one = await store.load_session("api", "racer")
    two = await store.load_session("api", "racer")
    results = await asyncio.gather(
        store.save_session(replace(one, intent="greeting")),
        store.save_session(replace(two, intent="goodbye")),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Session)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConcurrentUpdate)
    stored = await store.load_session("api", "racer")
    assert stored == winners[0]


async def test_concurrent_saves_of_one_version_let_exactly_one_win(
    store: SQLConversationStore,
) -> None:
    base = await store.save_session(await store.load_session("api", "busy"))
    results = await asyncio.gather(
        *(store.save_session(replace(base, clarify_count=n)) for n in range(1, 5)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Session)]
    assert len(winners) == 1
    assert all(isinstance(r, ConcurrentUpdate) for r in results if r not in winners)
    assert await store.load_session("api", "busy") == winners[0]


async def test_saving_a_session_twice_as_new_is_a_conflict(store: SQLConversationStore) -> None:
    session = await store.load_session("api", "u1")
    await store.save_session(session)
    with pytest.raises(ConcurrentUpdate):
        await store.save_session(session)


async def test_turns_are_logged_in_order_and_read_back(store: SQLConversationStore) -> None:
    conv = (await store.load_session("api", "u1")).conversation_id
    at = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    inbound = _turn(
        conv,
        "wher is my ordr",
        corrected_text="where is my order",
        intent="order_status",
        confidence=0.8734,
        attributes={"order_number": "1003"},
        state="awaiting_input",
        outcome="awaiting_input",
        latency_ms=1.25,
        message_id="m-1",
        created_at=at,
    )
    outbound = _turn(conv, "What's your order number?", direction="out", created_at=at)
    await store.log_turn(inbound)
    await store.log_turn(outbound)
    await store.log_turn(_turn("other-conversation", "hello"))
    assert await store.turns(conv) == [inbound, outbound]
    assert await store.count_turns() == 3
    assert await store.turns("nobody") == []


async def test_text_in_any_script_and_emoji_round_trips(store: SQLConversationStore) -> None:
    text = "Où est ma commande ? 我的订单在哪里 🎧📦 — \u2018quotes\u2019 \t tab"
    session = replace(await store.load_session("web", "ユーザー🙂"), intent="product_info")
    saved = await store.save_session(replace(session, slots=Attributes(problem="pairing 🎧")))
    await store.log_turn(
        TurnRecord(saved.conversation_id, "web", "ユーザー🙂", "in", text, attributes={"ü": "ß"})
    )
    assert (await store.load_session("web", "ユーザー🙂")) == saved
    [turn] = await store.turns(saved.conversation_id)
    assert (turn.text, turn.attributes) == (text, {"ü": "ß"})


@pytest.mark.parametrize("bad", ["nul\x00byte", "lone \ud800 surrogate"])
async def test_unstorable_text_raises_storage_error_on_every_backend(
    store: SQLConversationStore, bad: str
) -> None:
    session = await store.load_session("api", "u1")
    with pytest.raises(StorageError):
        await store.log_turn(_turn(session.conversation_id, bad))
    with pytest.raises(StorageError):
        await store.save_session(replace(session, slots=Attributes(problem=bad)))
    with pytest.raises(StorageError):
        await store.load_session("api", bad)
    assert await store.count_turns() == 0
    # The store keeps working afterwards.
    await store.log_turn(_turn(session.conversation_id, "fine"))
    assert await store.count_turns() == 1


async def test_handoffs_are_recorded_per_conversation(store: SQLConversationStore) -> None:
    at = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    first = HandoffRecord("c1", "api", "u1", "clarify_limit", "asdf qwer", created_at=at)
    second = HandoffRecord("c2", "sms", "u2", "human_agent", "let me talk to a person")
    await store.record_handoff(first)
    await store.record_handoff(second)
    assert await store.handoffs() == [first, second]
    assert await store.handoffs("c2") == [second]
    assert await store.handoffs("c3") == []


async def test_data_survives_a_restart(database: TestDatabase) -> None:
    store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await store.start()
    saved = await store.save_session(await store.load_session("api", "u1"))
    await store.log_turn(_turn(saved.conversation_id, "hi"))
    await store.stop()
    await store.start()  # also proves start() copes with existing tables
    try:
        assert await store.load_session("api", "u1") == saved
        assert await store.count_turns() == 1
    finally:
        await store.stop()


async def test_sqlite_creates_the_data_directory_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nested" / "shopbot.sqlite3"
    store = SQLConversationStore(f"sqlite+aiosqlite:///{path}")
    await store.start()
    try:
        await store.save_session(await store.load_session("cli", "me"))
    finally:
        await store.stop()
    assert path.is_file()
    assert path.read_bytes()[18:20] == b"\x02\x02"  # file format bytes: WAL mode


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "nosuchdb+driver://host/db",
        "postgresql+psycopg2://postgres@127.0.0.1/test",  # not an async driver
        "postgresql+asyncpg://postgres@127.0.0.1:1/test",
        "sqlite+aiosqlite:////proc/no/such/dir/shopbot.sqlite3",
    ],
)
async def test_a_broken_url_fails_start_with_storage_error(url: str) -> None:
    store = SQLConversationStore(url)
    with pytest.raises(StorageError) as raised:
        await store.start()
    assert "could not" in str(raised.value)


async def test_using_the_store_before_start_is_a_storage_error(tmp_path: Path) -> None:
    store = SQLConversationStore(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(StorageError):
        await store.load_session("api", "u1")
    await store.stop()  # harmless when never started


async def test_verification_failures_are_counted_per_subject_across_conversations(
    store: SQLConversationStore,
) -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    for minute in range(3):
        await store.record_verification_failure(
            ["order:1003", "email:ab12"], start + timedelta(minutes=minute)
        )
    await store.record_verification_failure(["order:1004"], start)
    counts = await store.count_verification_failures(["order:1003", "email:ab12", "x"], start)
    assert counts == {"order:1003": 3, "email:ab12": 3}
    later = start + timedelta(minutes=1)
    assert await store.count_verification_failures(["order:1003"], later) == {"order:1003": 2}
    assert await store.count_verification_failures(["order:1005"], start) == {}


async def test_a_database_from_an_older_version_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, channel TEXT)")
    store = SQLConversationStore(f"sqlite+aiosqlite:///{path}")
    with pytest.raises(StorageError, match=r"older shopbot.*conversations\.user_id"):
        await store.start()


async def test_a_database_from_before_optional_columns_is_upgraded_in_place(
    database: TestDatabase,
) -> None:
    store = SQLConversationStore(database.url, connect_args=database.connect_args)
    await store.start()
    await store.log_turn(TurnRecord("c1", "api", "u1", "in", "where is my order"))
    await store.stop()
    # What an earlier shopbot created: without the columns added since.
    old = create_async_engine(database.url, connect_args=dict(database.connect_args))
    async with old.begin() as conn:
        await conn.execute(text("DROP INDEX ix_inbox_conversation"))
        for table, column in (("turns", "model_calls"), ("outbox", "asks_for")):
            await conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    await old.dispose()

    await store.start()
    try:
        (kept,) = await store.turns("c1")
        assert kept.text == "where is my order" and kept.model_calls == ()
        call = ModelCall("understand", "gpt-4o-mini", 120, 30, 812.5, "ok")
        await store.log_turn(TurnRecord("c1", "api", "u1", "in", "hi", model_calls=(call,)))
        assert (await store.turns("c1"))[-1].model_calls == (call,)
    finally:
        await store.stop()
    check = create_async_engine(database.url, connect_args=dict(database.connect_args))
    async with check.connect() as conn:
        indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("inbox"))
    await check.dispose()
    assert "ix_inbox_conversation" in {index["name"] for index in indexes}


async def test_concurrent_loads_each_get_their_own_session(store: SQLConversationStore) -> None:
    stored = {}
    for user in ("ann", "ben", "cat"):
        session = await store.load_session("web", user)
        stored[user] = await store.save_session(replace(session, intent=f"for-{user}"))
    users = ["ann", "ben", "cat", "dan", "eve", "ann"]
    loaded = await asyncio.gather(*(store.load_session("web", user) for user in users))
    for user, session in zip(users, loaded, strict=True):
        assert session.user_id == user
        if user in stored:
            assert session == stored[user]
        else:
            assert session.version == 0 and session.intent is None
    assert len({s.conversation_id for s in loaded}) == 5  # "ann" twice: the same conversation


async def test_a_failed_batch_fails_every_turn_in_it_and_hangs_none(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite3"
    store = SQLConversationStore(f"sqlite+aiosqlite:///{path}")
    await store.start()
    try:
        sessions = [await store.load_session("web", f"u{i}") for i in range(3)]
        with sqlite3.connect(path) as db:
            db.execute("DROP TABLE turns")  # the database breaks under the running store
        record = TurnRecord(sessions[0].conversation_id, "web", "u0", "in", "hello")
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(store.commit_turn(s, [replace(record, user_id=s.user_id)]) for s in sessions),
                return_exceptions=True,
            ),
            timeout=10,
        )
        assert all(isinstance(o, StorageError) for o in outcomes), outcomes
        assert "turns" in str(outcomes[0])
        # Nothing of the failed batch was kept: the sessions were not saved either.
        assert (await store.load_session("web", "u0")).version == 0
    finally:
        await store.stop()
