"""Signals per customer message, on log rows the real engine wrote."""

from __future__ import annotations

from datetime import timedelta

from core.learning.signals import TextSimilarity, turn_signals
from shopbot.app import Runtime
from tests.core.learning.conversations import converse


async def _verdicts(
    runtime: Runtime, user: str, texts: list[str], gap: timedelta = timedelta(seconds=20)
) -> list[tuple[str, str]]:
    await converse(runtime, user, texts, gap=gap)
    async for batch in runtime.store.conversation_batches():
        for turns in batch:
            if turns[0].record.user_id == user:
                signals = turn_signals(turns, window_minutes=10)
                return [(s.verdict.value, s.reason) for s in signals]
    raise AssertionError("conversation not logged")


async def test_order_flow_slot_answers_are_skipped(runtime: Runtime) -> None:
    verdicts = await _verdicts(
        runtime,
        "a",
        [
            "the box i paid for is nowhere to be seen",
            "where is my order",
            "12345",
            "carol@example.com",
            "thanks bye",
        ],
    )
    assert verdicts == [
        ("failed", "not_understood"),
        ("succeeded", "answered"),
        ("skipped", "slot_answer"),
        ("skipped", "slot_answer"),
        ("succeeded", "answered"),
    ]


async def test_a_request_for_a_human_is_itself_a_success(runtime: Runtime) -> None:
    verdicts = await _verdicts(runtime, "b", ["asdf qwer zxcv", "can I speak to a human"])
    assert verdicts == [("failed", "not_understood"), ("succeeded", "answered")]


def test_similarity_ranks_rephrasings_above_unrelated_text() -> None:
    similar = TextSimilarity(["where is my order", "what is your refund policy", "hello"])
    assert similar("where is my parcel", "parcel never came") > similar(
        "where is my parcel", "hello there"
    )
    assert similar("same words", "same words") == 1.0
    assert similar("", "anything") == 0.0


async def test_an_answer_followed_at_once_by_another_request_is_not_trusted(
    runtime: Runtime,
) -> None:
    # Answered as something (whatever the model made of it), then at once another request:
    # right or wrong, nobody knows, so it is neither an example nor a label.
    verdicts = await _verdicts(
        runtime,
        "topic",
        ["what is your return policy", "how much is the smart watch", "thanks bye"],
    )
    assert verdicts == [
        ("skipped", "topic_changed"),
        ("succeeded", "answered"),  # a goodbye next is not another request
        ("succeeded", "answered"),
    ]
    # Asked again a quarter of an hour later (past the 10-minute window): a new topic.
    later = await _verdicts(
        runtime,
        "later",
        ["what is your return policy", "how much is the smart watch"],
        gap=timedelta(minutes=15),
    )
    assert later == [("succeeded", "answered"), ("succeeded", "answered")]
