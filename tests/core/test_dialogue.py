"""The dialogue policy on its own: pure decisions from a session and what a message said."""

from dataclasses import replace

from core.dialogue import Move, decide
from core.session import DialogueState, Session
from core.types import Attributes

FRESH = Session(conversation_id="c1", channel="test", user_id="u1")


def test_a_recognised_intent_runs_and_resets_the_counter() -> None:
    session = replace(FRESH, clarify_count=2, state=DialogueState.CLARIFYING)
    step = decide(session, "greeting", Attributes(), max_clarifications=2)
    assert (step.move, step.intent, step.session.clarify_count) == (Move.RUN, "greeting", 0)
    assert not step.continued


def test_an_answer_to_the_bots_question_continues_the_request() -> None:
    waiting = replace(FRESH, intent="order_status", awaiting="email")
    step = decide(waiting, None, Attributes(email="bob@example.com"), max_clarifications=2)
    assert (step.move, step.intent, step.continued) == (Move.RUN, "order_status", True)
    assert step.session.slots.email == "bob@example.com"


def test_unrecognised_messages_clarify_twice_then_hand_off() -> None:
    session = FRESH
    moves = []
    for _ in range(3):
        step = decide(session, None, Attributes(), max_clarifications=2)
        moves.append(step.move)
        session = step.session
    assert moves == [Move.CLARIFY, Move.CLARIFY, Move.HANDOFF]
    assert session.state is DialogueState.HANDOFF and session.clarify_count == 0
    assert decide(session, None, Attributes(), max_clarifications=2).move is Move.STILL_HANDED_OFF


def test_zero_clarifications_hands_off_at_once() -> None:
    assert decide(FRESH, None, Attributes(), max_clarifications=0).move is Move.HANDOFF


def test_a_clarified_message_keeps_what_it_did_say() -> None:
    step = decide(FRESH, None, Attributes(email="bob@example.com"), max_clarifications=2)
    assert step.move is Move.CLARIFY and step.session.slots.email == "bob@example.com"


def test_an_order_number_product_or_problem_implies_the_question() -> None:
    for found, intent in [
        (Attributes(order_number="1003"), "order_status"),
        (Attributes(product="AUR-HP-01"), "product_info"),
        (Attributes(problem="not charging"), "tech_support"),
    ]:
        step = decide(FRESH, None, found, max_clarifications=2)
        assert (step.move, step.intent) == (Move.RUN, intent)


def test_a_no_after_a_help_article_hands_off_and_anything_else_moves_on() -> None:
    after_article = replace(FRESH, awaiting="feedback")
    step = decide(after_article, None, Attributes(), max_clarifications=2, text="nope, same")
    assert (step.move, step.reason) == (Move.HANDOFF, "article_did_not_help")
    step = decide(after_article, "order_status", Attributes(), max_clarifications=2,
                  text="where is my order, it's not here")  # fmt: skip
    assert (step.move, step.intent, step.session.awaiting) == (Move.RUN, "order_status", None)
