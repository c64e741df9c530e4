"""Whether the bot failed or succeeded on each customer message, read from the turn log.

Pure functions over the logged turns of ONE conversation, oldest first. A customer turn is an
inbound log row with the outbound rows that follow it (the bot's replies). Its verdict:

Skipped (neither failed nor successful; never mined, never exported):

* a slot answer: the classifier found no intent and the message supplied what the bot asked
  for — it followed a reply that awaited input and was not clarified, or it holds only
  identifiers (an order number, an email, a phone and at most a couple of filler words;
  :func:`core.llm.understanding.is_slot_answer`);
* a message the bot served without the classifier (no intent, yet answered: the dialogue
  guessed the request from an order number or product in it) — nobody knows if it was right;
* a message sent while the conversation was already with a human, a reply that failed with an
  error, and an inbound row without any reply;
* ``topic_changed``: a recognised and answered message (not rated up) whose next customer
  message, within ``window_minutes``, was recognised as another request (not a slot answer, a
  greeting or a goodbye) — a customer moving on after a wrong answer looks just like one moving
  on after a right one, so the answer is not trusted as an example either way.

Failed (first rule that holds wins):

1. ``thumbs_down``: the customer rated one of its replies down;
2. ``not_understood``: the reply asked the customer to rephrase (outcome ``clarified``), or the
   bot gave up and handed over because it understood nothing (no intent, outcome ``handoff``);
3. ``asked_for_human``: the customer's next message asks for a human (intent
   ``human_agent``), unless this message was itself a request for a human;
4. ``rephrased``: the next customer message, sent within ``window_minutes``, says nearly the
   same (:class:`TextSimilarity` at least ``rephrase_similarity``) and got a different intent —
   the answer did not fit; a repeat with the same intent is a follow-up, not a complaint.

Successful, when the classifier recognised an intent and none of the failure rules holds:

* ``thumbs_up``: the customer rated a reply up;
* ``answered``: the reply answered (outcome ``answered``), started the intent's flow by asking
  for details (``awaiting_input``), or — for ``human_agent`` — handed over as asked; with no
  rephrasing, complaint or other request next, including when the conversation simply ended
  after it, the customer gave the details asked for, or said thanks and goodbye.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from core.llm.understanding import is_slot_answer
from core.ports import TurnRecord
from core.types import Attributes

__all__ = [
    "HUMAN_AGENT",
    "REPHRASE_SIMILARITY",
    "SMALL_TALK",
    "CustomerTurn",
    "LoggedTurn",
    "Signal",
    "TextSimilarity",
    "Verdict",
    "customer_turns",
    "turn_signals",
]

HUMAN_AGENT = "human_agent"
SMALL_TALK = frozenset({"greeting", "goodbye"})
"""Intents that open or close a conversation rather than ask for something."""
REPHRASE_SIMILARITY = 0.35
"""How close (0..1) the next message must be to count as the same request rephrased."""

_ATTRIBUTE_NAMES = frozenset(f.name for f in fields(Attributes))


@dataclass(frozen=True, slots=True)
class LoggedTurn:
    """A turn log row with its id (``TurnRecord`` itself carries none)."""

    id: int
    record: TurnRecord


@dataclass(frozen=True, slots=True)
class CustomerTurn:
    """One customer message and the bot's replies to it."""

    message: LoggedTurn
    replies: tuple[LoggedTurn, ...]

    @property
    def text(self) -> str:
        return self.message.record.text

    @property
    def intent(self) -> str | None:
        """What the classifier recognised (``None``: nothing above its threshold)."""
        return self.message.record.intent

    @property
    def created_at(self) -> datetime:
        return self.message.record.created_at

    @property
    def outcome(self) -> str | None:
        """How the turn ended (the replies' outcome); ``None`` without replies."""
        return self.replies[0].record.outcome if self.replies else None

    @property
    def feedback(self) -> str | None:
        """``"down"`` when any reply was rated down, else ``"up"`` when one was rated up."""
        ratings = {reply.record.feedback for reply in self.replies}
        return "down" if "down" in ratings else "up" if "up" in ratings else None


class Verdict(StrEnum):
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Signal:
    """The verdict on one customer turn and the rule that gave it (see the module doc)."""

    turn: CustomerTurn
    verdict: Verdict
    reason: str


class TextSimilarity:
    """Cosine similarity (0..1) of character 3-gram profiles, weighted by inverse document
    frequency over ``corpus`` (e.g. the shipped training examples), so that grams every
    message shares ("is my", "the ") count little and content grams ("parc", "refu") much.

    Text is lower-cased, punctuation dropped, each word padded with spaces; placeholders
    (``<number>``) count as words. With an empty corpus all grams weigh the same.
    """

    def __init__(self, corpus: Iterable[str] = ()) -> None:
        profiles = [set(_grams(text)) for text in corpus]
        self._documents = len(profiles)
        self._frequency: Counter[str] = Counter(g for profile in profiles for g in profile)

    def __call__(self, first: str, second: str) -> float:
        a, b = self._vector(first), self._vector(second)
        dot = sum(weight * b.get(gram, 0.0) for gram, weight in a.items())
        norm = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
        return min(1.0, dot / norm) if norm else 0.0

    def _vector(self, text: str) -> dict[str, float]:
        documents = self._documents
        return {
            gram: count * math.log((documents + 1) / (self._frequency.get(gram, 0) + 1) + 1)
            for gram, count in _grams(text).items()
        }


def _grams(text: str) -> Counter[str]:
    words = re.findall(r"<\w+>|[a-z0-9]+(?:'[a-z]+)?", text.lower())
    padded = " " + " ".join(words) + " "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2)) if words else Counter()


def customer_turns(turns: Sequence[LoggedTurn]) -> list[CustomerTurn]:
    """The customer messages of a conversation's log rows (oldest first), each with the
    outbound rows up to the next inbound row; outbound rows before any message are ignored."""
    grouped: list[CustomerTurn] = []
    for turn in turns:
        if turn.record.direction == "in":
            grouped.append(CustomerTurn(turn, ()))
        elif grouped:
            last = grouped[-1]
            grouped[-1] = CustomerTurn(last.message, (*last.replies, turn))
    return grouped


def turn_signals(
    turns: Sequence[LoggedTurn],
    *,
    window_minutes: float,
    similarity: TextSimilarity | None = None,
    rephrase_similarity: float = REPHRASE_SIMILARITY,
) -> list[Signal]:
    """The verdict on each customer message of one conversation (rules in the module doc)."""
    similar = similarity or TextSimilarity()
    window = timedelta(minutes=window_minutes)
    grouped = customer_turns(turns)
    signals: list[Signal] = []
    for index, turn in enumerate(grouped):
        previous = grouped[index - 1] if index else None
        following = grouped[index + 1] if index + 1 < len(grouped) else None
        verdict, reason = _verdict(turn, previous, following, window, similar, rephrase_similarity)
        signals.append(Signal(turn, verdict, reason))
    return signals


def _verdict(
    turn: CustomerTurn,
    previous: CustomerTurn | None,
    following: CustomerTurn | None,
    window: timedelta,
    similar: TextSimilarity,
    rephrase_similarity: float,
) -> tuple[Verdict, str]:
    outcome = turn.outcome
    if outcome is None or outcome == "error":
        return Verdict.SKIPPED, "no_answer"
    if turn.intent is None and _is_slot_answer(turn, previous):
        return Verdict.SKIPPED, "slot_answer"
    if turn.feedback == "down":
        return Verdict.FAILED, "thumbs_down"
    if outcome == "clarified":
        return Verdict.FAILED, "not_understood"
    if turn.intent is None:
        if outcome == "handoff" and not _already_handed_off(previous):
            return Verdict.FAILED, "not_understood"
        return Verdict.SKIPPED, "served_without_intent"
    if following is not None and turn.intent != HUMAN_AGENT:
        if following.intent == HUMAN_AGENT:
            return Verdict.FAILED, "asked_for_human"
        if _rephrases(turn, following, window, similar, rephrase_similarity):
            return Verdict.FAILED, "rephrased"
    if turn.feedback == "up":
        return Verdict.SUCCEEDED, "thumbs_up"
    if following is not None and _changes_topic(turn, following, window):
        return Verdict.SKIPPED, "topic_changed"
    if outcome in ("answered", "awaiting_input") or (
        outcome == "handoff" and turn.intent == HUMAN_AGENT
    ):
        return Verdict.SUCCEEDED, "answered"
    return Verdict.SKIPPED, "handed_off"


def _changes_topic(turn: CustomerTurn, following: CustomerTurn, window: timedelta) -> bool:
    """Whether ``following`` came soon after ``turn`` and asked for something else."""
    other = following.intent not in (None, turn.intent) and following.intent not in SMALL_TALK
    return other and following.created_at - turn.created_at <= window


def _is_slot_answer(turn: CustomerTurn, previous: CustomerTurn | None) -> bool:
    if turn.outcome in ("clarified",):
        return False
    if previous is not None and previous.outcome == "awaiting_input":
        return True
    record = turn.message.record
    found = {k: v for k, v in record.attributes.items() if k in _ATTRIBUTE_NAMES}
    return is_slot_answer(record.text, Attributes(**found))


def _already_handed_off(previous: CustomerTurn | None) -> bool:
    return previous is not None and previous.outcome == "handoff"


def _rephrases(
    turn: CustomerTurn,
    following: CustomerTurn,
    window: timedelta,
    similar: TextSimilarity,
    threshold: float,
) -> bool:
    if following.created_at - turn.created_at > window or following.intent == turn.intent:
        return False
    return similar(turn.text, following.text) >= threshold
