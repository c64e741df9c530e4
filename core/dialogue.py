"""The dialogue policy: which intent a turn serves, slot filling, and the clarify-and-retry loop.

Pure functions of the stored session and what the NLU stages found; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from core.session import DialogueState, Session
from core.types import Attributes

__all__ = ["Move", "Step", "decide"]


class Move(StrEnum):
    RUN = "run"  # serve ``Step.intent``
    CLARIFY = "clarify"  # ask the user to rephrase
    HANDOFF = "handoff"  # too many failures: hand over to a human
    STILL_HANDED_OFF = "still_handed_off"  # already with a human; nothing new understood


@dataclass(frozen=True, slots=True)
class Step:
    move: Move
    session: Session
    intent: str | None = None
    continued: bool = False  # the message answered what the bot was waiting for
    reason: str | None = None  # why, for a handoff


# What a message that the classifier could not place most likely wants, by what it contains.
_INTENT_BY_ATTRIBUTE = (
    ("order_number", "order_status"),
    ("product", "product_info"),
    ("problem", "tech_support"),
)


# "No, still not working" after a help article: the article did not help.
_NOT_HELPED = re.compile(
    r"\b(no|nope|not|still|didn'?t|doesn'?t|did not|does not|won'?t|same)\b", re.IGNORECASE
)


def decide(
    session: Session,
    intent: str | None,
    found: Attributes,
    *,
    max_clarifications: int,
    text: str = "",
) -> Step:
    """Choose the next move for a message classified as ``intent`` with attributes ``found``.

    A recognised intent resets the clarification counter. An unrecognised message that supplies
    what the conversation is waiting for (an order number, an email, a product, a problem
    description) continues the pending request; one that names an order, a product or a problem
    is served as the question about it. Anything else is clarified — keeping what it did say —
    and after ``max_clarifications`` re-asks in a row the conversation is handed to a human.
    """
    session = replace(session, slots=session.slots.merged(found))
    if session.awaiting == "feedback":
        session = replace(session, awaiting=None)
        if intent in (None, "tech_support") and _NOT_HELPED.search(text):
            handed = replace(session, state=DialogueState.HANDOFF, clarify_count=0, intent=None)
            return Step(Move.HANDOFF, handed, reason="article_did_not_help")
    if intent is not None:
        return Step(Move.RUN, replace(session, clarify_count=0), intent)
    if session.intent is not None and _continues(session, found):
        return Step(Move.RUN, replace(session, clarify_count=0), session.intent, continued=True)
    for attribute, implied in _INTENT_BY_ATTRIBUTE:
        if getattr(found, attribute) is not None:
            return Step(Move.RUN, replace(session, clarify_count=0), implied)
    if session.state is DialogueState.HANDOFF:
        return Step(Move.STILL_HANDED_OFF, session)
    failures = session.clarify_count + 1
    if failures > max_clarifications:
        handed_off = replace(
            session,
            state=DialogueState.HANDOFF,
            clarify_count=0,
            intent=None,
            awaiting=None,
        )
        return Step(Move.HANDOFF, handed_off, reason="not_understood")
    clarifying = replace(session, state=DialogueState.CLARIFYING, clarify_count=failures)
    return Step(Move.CLARIFY, clarifying)


def _continues(session: Session, found: Attributes) -> bool:
    """Whether an unclassified message answers the question the bot asked."""
    awaiting = session.awaiting
    if awaiting is None:
        return False
    if awaiting == "problem":
        return True  # any description of the problem is an answer
    if awaiting in ("order_number", "email"):
        # Either half of the verification pair moves the order request on.
        return bool(found.order_number or found.email or found.phone)
    return getattr(found, awaiting, None) is not None
