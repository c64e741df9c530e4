"""Whole conversations through the real engine: real model, real demo shop, real SQLite store.

Each test talks to the bot the way a customer would and asserts on what the customer sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.storage import SQLConversationStore
from core.types import Identity, InboundMessage, TurnResult
from shopbot.app import Runtime, build_runtime
from tests.conftest import TestDatabase, runtime_settings


class Clock:
    """A settable clock so lockouts can expire without waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Chat:
    """A recording channel: sends lines as one user and keeps every reply the user saw."""

    def __init__(self, runtime: Runtime, user: str = "u1", identity: Identity | None = None):
        self.runtime = runtime
        self.user = user
        self.identity = identity
        self.results: list[TurnResult] = []

    async def say(self, text: str) -> str:
        message = InboundMessage(
            channel="test", user_id=self.user, text=text, verified_identity=self.identity
        )
        result = await self.runtime.engine.handle(message)
        self.results.append(result)
        return " ".join(reply.text for reply in result.replies)

    @property
    def last(self) -> TurnResult:
        return self.results[-1]


async def test_seed_example_needs_the_email_then_answers(runtime: Runtime) -> None:
    chat = Chat(runtime)
    first = await chat.say("Where is my order #12345?")
    assert "email" in first.lower()
    assert chat.last.state == "awaiting_input"
    answer = await chat.say("carol@example.com")
    assert (
        "Your order #12345 is currently being processed and is expected to ship within 2 days."
        in answer
    )
    assert chat.last.state == "answered"


async def test_typos_and_slot_filling_over_three_turns(runtime: Runtime) -> None:
    chat = Chat(runtime)
    asked = await chat.say("wher is my pakage")
    assert "order number" in asked.lower()
    assert chat.last.understanding.classification.intent == "order_status"
    assert "package" in chat.last.understanding.spelling.text.lower()
    assert "email" in (await chat.say("1003")).lower()
    answer = await chat.say("bob@example.com")
    assert "#1003" in answer and "2 × Zephyr Laptop Stand" in answer
    assert "ship within 2 days" in answer


async def test_shipped_order_shows_carrier_and_tracking(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("Can you track order 1002 for me?")
    answer = await chat.say("alice@example.com")
    assert "UPS" in answer and "1Z999AA10123456784" in answer
    assert "Orbit Bluetooth Speaker" in answer


async def test_wrong_email_and_unknown_order_look_the_same(runtime: Runtime) -> None:
    real = Chat(runtime, "u-real")
    await real.say("where is order 1003")
    wrong_email = await real.say("mallory@example.com")
    ghost = Chat(runtime, "u-ghost")
    await ghost.say("where is order 1009")
    unknown_order = await ghost.say("mallory@example.com")
    assert wrong_email.replace("1003", "N") == unknown_order.replace("1009", "N")
    assert "Zephyr" not in wrong_email and "processing" not in wrong_email


async def test_verified_customer_cannot_read_another_customers_order(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("status of order 1001 please")
    assert "delivered" in (await chat.say("alice@example.com")).lower()
    assert "Aurora" in chat.results[-1].replies[0].text
    other = await chat.say("and where is order 1003?")
    assert "Zephyr" not in other and "verified in this conversation" in other
    still = await chat.say("bob@example.com")
    assert "Zephyr" not in still
    own = await chat.say("what about order 1002")
    assert "1Z999AA10123456784" in own  # Alice's other order needs no new proof


async def test_channel_identity_verifies_without_email(runtime: Runtime) -> None:
    chat = Chat(runtime, "sms-user", identity=Identity("phone", "+15550002222"))
    answer = await chat.say("where's my order 1003?")
    assert "Zephyr Laptop Stand" in answer
    not_mine = await Chat(runtime, "sms-2", Identity("phone", "+15550002222")).say(
        "where's my order 1001?"
    )
    assert "Aurora" not in not_mine and "email" in not_mine.lower()


async def test_five_failures_lock_lookups_for_fifteen_minutes(
    model_dir: Path, tmp_path: Path
) -> None:
    settings = runtime_settings(model_dir, tmp_path)
    clock = Clock()
    runtime = build_runtime(settings, clock=clock)
    await runtime.start()
    try:
        chat = Chat(runtime)
        await chat.say("where is order 1003")
        for attempt in range(4):
            assert "couldn't find" in (await chat.say(f"guess{attempt}@example.com")).lower()
        assert "can't look up order #1003" in await chat.say("guess5@example.com")
        locked = await chat.say("where is order 1003? my email is bob@example.com")
        assert "Zephyr" not in locked and "can't look up order #1003" in locked
        clock.now += timedelta(minutes=16)
        await chat.say("where is order 1003")
        assert "Zephyr Laptop Stand" in await chat.say("bob@example.com")
    finally:
        await runtime.stop()


async def test_clarify_twice_then_hand_off_and_reset_on_recognised(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("tell me a joke")
    assert chat.last.state == "clarifying"
    assert "Order status" in chat.last.replies[0].quick_replies
    await chat.say("what's the weather in Paris")
    assert chat.last.state == "clarifying"
    handed = await chat.say("qwpoeiru zxmcnv")
    assert chat.last.state == "handoff" and "human" in handed.lower()
    handoffs = await runtime.store.handoffs(chat.last.conversation_id)
    assert [h.reason for h in handoffs] == ["not_understood"]
    await chat.say("blah blah")
    assert chat.last.state == "handoff"
    assert len(await runtime.store.handoffs(chat.last.conversation_id)) == 1
    await chat.say("what is your return policy?")
    assert chat.last.state == "answered"
    await chat.say("tell me a joke")
    assert chat.last.state == "clarifying"  # the counter started again


async def test_quick_reply_topic_selects_the_intent(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("hmm")
    asked = await chat.say(chat.last.replies[0].quick_replies[0])
    assert "order number" in asked.lower()


async def test_product_questions_are_answered_from_the_catalog(runtime: Runtime) -> None:
    chat = Chat(runtime)
    watch = await chat.say("how much is the nimbus smart watch?")
    assert "$199.00" in watch and "out of stock" in watch.lower()
    stand = await chat.say("tell me about the zephyr laptop stand")
    assert "$39.00" in stand and "in stock" in stand.lower()
    tracker = await chat.say("is the pulse fitness tracker available")
    assert "Only 3 left" in tracker
    which = await chat.say("what products do you sell?")
    assert "Terra Hiking Backpack" in which
    assert "$89.00" in await chat.say("terra backpack")
    assert "$89.00" in await chat.say("and how much does it cost?")


async def test_return_policy_general_and_per_order(runtime: Runtime) -> None:
    chat = Chat(runtime)
    policy = await chat.say("what's your return policy?")
    assert "30 days" in policy and "$5.95" in policy and "5–7 business days" in policy
    await chat.say("Can I return order 1001?")
    eligible = await chat.say("alice@example.com")
    assert "can be returned" in eligible and "20 days left" in eligible
    assert "#1004" in await chat.say("can I return order 1004")  # Bob's order: not for Alice
    assert "cancelled" not in chat.results[-1].replies[0].text
    bob = Chat(runtime, "bob")
    await bob.say("can I return order 1004")
    assert "cancelled" in (await bob.say("bob@example.com")).lower()
    carol = Chat(runtime, "carol")
    await carol.say("can I send back order 1005")
    assert "can no longer be returned" in await carol.say("carol@example.com")


async def test_technical_question_gets_the_right_article(runtime: Runtime) -> None:
    chat = Chat(runtime)
    answer = await chat.say("my aurora headphones won't pair with my phone")
    assert "pair" in answer.lower() and "1." in answer
    charging = await Chat(runtime, "u2").say("my watch is not charging")
    assert "Nimbus" in charging and "charg" in charging.lower()
    password = await Chat(runtime, "u3").say("I forgot my password and can't log in")
    assert "password" in password.lower() and "1." in password


async def test_greeting_goodbye_and_human_request(runtime: Runtime) -> None:
    chat = Chat(runtime)
    assert "assistant" in (await chat.say("hi there")).lower()
    assert chat.last.replies[0].quick_replies
    human = await chat.say("I want to talk to a real person")
    assert chat.last.state == "handoff" and "colleague" in human
    handoffs = await runtime.store.handoffs(chat.last.conversation_id)
    assert [h.reason for h in handoffs] == ["requested"]
    assert "great day" in (await chat.say("thanks, bye")).lower()


async def test_empty_and_hostile_messages_get_a_polite_answer(runtime: Runtime) -> None:
    chat = Chat(runtime)
    assert "help" in (await chat.say("   \x00\x07 ")).lower()
    assert chat.last.replies[0].quick_replies
    await chat.say("\u202e" + "💥" * 500 + "<script>alert(1)</script>" + "a" * 3000)
    assert chat.last.replies and chat.last.state in ("clarifying", "handoff", "answered")
    assert "Zephyr" in " ".join(
        [await chat.say("where is order 1003"), await chat.say("bob@example.com")]
    )


async def test_every_turn_is_logged_with_personal_data_redacted(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("where is order 1003")
    await chat.say("bob@example.com")
    turns = await runtime.store.turns(chat.last.conversation_id)
    assert [t.direction for t in turns] == ["in", "out", "in", "out"]
    assert turns[0].intent == "order_status" and turns[0].confidence
    assert turns[1].outcome == "awaiting_input" and turns[3].outcome == "answered"
    assert turns[3].latency_ms is not None
    logged = " ".join(t.text + (t.corrected_text or "") for t in turns)
    assert "bob@example.com" not in logged and "1003" in logged


async def test_concurrent_messages_of_one_conversation_lose_no_update(
    database: TestDatabase, model_dir: Path, tmp_path: Path
) -> None:
    # Two runtimes on the same databases play two worker processes; on SQLite and PostgreSQL.
    settings = runtime_settings(model_dir, tmp_path)
    workers = [build_runtime(settings), build_runtime(settings)]
    for worker in workers:
        worker.store = SQLConversationStore(database.url, connect_args=database.connect_args)
        await worker.start()
    try:
        chats = [Chat(workers[0], "busy"), Chat(workers[1], "busy")]
        await asyncio.gather(*(chats[i % 2].say(f"hello number {i}") for i in range(12)))
        session = await workers[0].store.load_session("test", "busy")
        assert session.version == 12  # one save per message, none lost
        turns = await workers[0].store.turns(session.conversation_id)
        assert sum(t.direction == "in" for t in turns) == 12
        assert sum(t.direction == "out" for t in turns) == 12
    finally:
        for worker in workers:
            await worker.stop()


async def test_a_stale_cached_session_is_reloaded_not_overwritten(runtime: Runtime) -> None:
    other = build_runtime(runtime.settings)
    await other.start()
    try:
        here, there = Chat(runtime, "shared"), Chat(other, "shared")
        await here.say("where is order 1003")  # cached here, awaiting the email
        await there.say("bob@example.com")  # the other worker moves the conversation on
        assert "Zephyr" in there.results[-1].replies[0].text
        await here.say("thanks, bye")  # this worker's cache is stale: must reload, not clobber
        session = await runtime.store.load_session("test", "shared")
        assert session.version == 3
        turns = await runtime.store.turns(session.conversation_id)
        assert [t.direction for t in turns] == ["in", "out"] * 3
    finally:
        await other.stop()


async def test_a_number_answers_the_numbered_options_on_any_channel(runtime: Runtime) -> None:
    chat = Chat(runtime, "sms-like")
    await chat.say("hmm")
    labels = chat.last.replies[0].quick_replies
    assert "order number" in (await chat.say(str(labels.index("Order status") + 1))).lower()
    # Now the bot waits for an order number: "1" is no longer an option.
    assert "email" in (await chat.say("1003")).lower()


@pytest.fixture
async def timed(model_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Runtime, Clock]]:
    clock = Clock()
    runtime = build_runtime(runtime_settings(model_dir, tmp_path), clock=clock)
    await runtime.start()
    yield runtime, clock
    await runtime.stop()


async def test_new_conversations_do_not_reset_the_lockout_of_an_order(
    timed: tuple[Runtime, Clock],
) -> None:
    runtime, clock = timed
    for guess in range(5):  # a guesser starting a new conversation for every try
        chat = Chat(runtime, f"guesser-{guess}")
        await chat.say("where is order 1003")
        assert "Zephyr" not in await chat.say(f"bob{guess}@example.net")
    owner = Chat(runtime, "fresh")
    assert "can't look up order #1003" in await owner.say(
        "where is order 1003? my email is bob@example.com"
    )
    clock.now += timedelta(minutes=16)
    await owner.say("where is order 1003")
    assert "Zephyr Laptop Stand" in await owner.say("bob@example.com")


async def test_verification_expires_after_a_quiet_spell(timed: tuple[Runtime, Clock]) -> None:
    runtime, clock = timed
    chat = Chat(runtime)
    await chat.say("where is order 1003")
    assert "Zephyr" in await chat.say("bob@example.com")
    clock.now += timedelta(minutes=10)
    assert "Terra Hiking Backpack" in await chat.say("and where is order 1004?")  # still verified
    clock.now += timedelta(minutes=31)
    again = await chat.say("where is order 1003")
    assert "Zephyr" not in again and "email" in again.lower()


async def test_another_customers_order_is_refused_once_and_then_forgotten(
    runtime: Runtime,
) -> None:
    chat = Chat(runtime, "bob")
    await chat.say("where is order 1003")
    await chat.say("bob@example.com")
    refused = await chat.say("can I return order #1001?")
    assert "Aurora" not in refused and "verified in this conversation" in refused
    for question in ("how long do refunds take?", "what is your return policy?"):
        answer = await chat.say(question)
        assert "30 days" in answer and "#1001" not in answer
    session = await runtime.store.load_session("test", "bob")
    assert session.failed_verifications == 1 and session.locked_until is None


async def test_emails_and_phones_are_not_kept_in_the_session(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("where is order 1001? my phone is +1 555 000 1111")
    await chat.say("alice@example.com")
    session = await runtime.store.load_session("test", chat.user)
    assert session.slots.email is None and session.slots.phone is None
    assert session.verified_customer is not None
    assert "alice@example.com" not in repr(session) and "5550001111" not in repr(session)


async def test_an_order_number_alone_asks_about_that_order(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("hello")
    assert "email" in (await chat.say("1005")).lower()
    assert "delivered" in (await chat.say("carol@example.com")).lower()


async def test_repeated_requests_for_a_person_make_one_handoff(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("I want to talk to a human")
    await chat.say("human please")
    assert chat.last.state == "handoff"
    assert len(await runtime.store.handoffs(chat.last.conversation_id)) == 1


async def test_an_empty_message_waits_for_input(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("   ")
    assert chat.last.state == "awaiting_input"


async def test_follow_up_questions_use_what_was_just_discussed(runtime: Runtime) -> None:
    chat = Chat(runtime)
    assert "$199.00" in await chat.say("tell me about the nimbus smart watch")
    assert "out of stock" in (await chat.say("is it in stock?")).lower()
    await chat.say("where is order 1001")
    assert "delivered" in (await chat.say("alice@example.com")).lower()
    assert "can be returned" in await chat.say("can I return it?")


async def test_a_product_we_do_not_sell_is_not_answered_with_an_earlier_one(
    runtime: Runtime,
) -> None:
    chat = Chat(runtime)
    await chat.say("tell me about the nimbus smart watch")
    await chat.say("what do you sell?")
    answer = await chat.say("do you sell iphones?")
    assert "Nimbus" not in answer.split("We have:")[0] and "$199.00" not in answer


async def test_the_log_keeps_the_number_the_customer_typed(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("hmm")
    await chat.say("2")
    turns = await runtime.store.turns(chat.last.conversation_id)
    picked = [t for t in turns if t.direction == "in"][-1]
    assert picked.text == "2" and picked.corrected_text == "Product information"


async def test_a_volunteered_email_or_phone_is_not_kept(runtime: Runtime) -> None:
    chat = Chat(runtime)
    answer = await chat.say(
        "how much is the zephyr laptop stand? reach me at alice.m+shop@example.co.uk or "
        "(555) 000 1111"
    )
    assert "$39.00" in answer
    session = await runtime.store.load_session("test", chat.user)
    assert session.slots.email is None and session.slots.phone is None


async def test_guessing_order_numbers_for_one_email_is_locked_across_conversations(
    runtime: Runtime,
) -> None:
    for number in range(99990, 99995):  # a new conversation for every guess
        chat = Chat(runtime, f"prober-{number}")
        await chat.say(f"where is order {number}? my email is alice@example.com")
    prober = Chat(runtime, "prober-last")
    answer = await prober.say("where is order 1001? my email is alice@example.com")
    assert "Aurora" not in answer and "can't look up" in answer


async def test_full_width_digits_are_read_as_an_order_number(runtime: Runtime) -> None:
    chat = Chat(runtime)
    await chat.say("where is order \uff11\uff10\uff10\uff13")  # full-width 1003
    assert "Zephyr" in await chat.say("bob@example.com")


async def test_an_article_that_did_not_help_goes_to_a_person(runtime: Runtime) -> None:
    chat = Chat(runtime)
    assert "1." in await chat.say("my aurora headphones won't pair with my phone")
    await chat.say("no, still not working")
    assert chat.last.state == "handoff"
    handoffs = await runtime.store.handoffs(chat.last.conversation_id)
    assert [h.reason for h in handoffs] == ["article_did_not_help"]
    helped = Chat(runtime, "helped")
    await helped.say("my aurora headphones won't pair with my phone")
    assert "great day" in (await helped.say("thanks, that fixed it")).lower()


async def test_a_redelivered_message_is_answered_again_not_processed_twice(
    runtime: Runtime,
) -> None:
    def message(text: str, message_id: str) -> InboundMessage:
        return InboundMessage(channel="web", user_id="w1", text=text, message_id=message_id)

    engine = runtime.engine
    await engine.handle(message("where is order 1003", "m1"))
    first = await engine.handle(message("bob@example.com", "m2"))
    again = await engine.handle(message("bob@example.com", "m2"))  # resent after a reconnect
    assert again.replayed and not first.replayed
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert again.reply_ids == first.reply_ids and len(first.reply_ids) == 1
    session = await runtime.store.load_session("web", "w1")
    assert session.version == 2  # two messages processed, not three
    turns = await runtime.store.turns(session.conversation_id)
    assert sum(t.direction == "in" for t in turns) == 2


async def test_feedback_is_stored_with_the_reply(runtime: Runtime) -> None:
    result = await runtime.engine.handle(InboundMessage("web", "w2", "what is your return policy?"))
    (reply_id,) = result.reply_ids
    store = runtime.store
    assert await store.set_feedback(result.conversation_id, reply_id, "up")
    assert not await store.set_feedback("another-conversation", reply_id, "down")
    turns = await store.turns(result.conversation_id)
    assert [t.feedback for t in turns if t.direction == "out"] == ["up"]
    quick = await runtime.engine.handle(InboundMessage("web", "w2", "hmm"))
    logged = await store.turns(quick.conversation_id)
    assert logged[-1].quick_replies == quick.replies[-1].quick_replies != ()
