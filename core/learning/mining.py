"""Mining: candidate training examples from the messages the bot failed on.

In each conversation, a customer message the bot failed on (see :mod:`core.learning.signals`)
that comes at most ``window_turns`` customer messages and ``window_minutes`` before one it
succeeded on — with no other success in between — is taken as an earlier phrasing of the same
request, and becomes a candidate labelled with the successful message's intent. The text is
given placeholders (:func:`~core.learning.placeholders.with_placeholders`) first; then a
candidate is dropped when it is

* ``same_intent``: the failed message had been recognised as that very intent already;
* ``gibberish``: :func:`language_score` below :data:`GIBBERISH_BELOW`;
* ``too_short``: fewer than ``min_words`` words (placeholders do not count);
* ``duplicate``: the same :func:`normalised` text as another candidate of this run, a stored
  candidate (the store skips those), or a shipped training example;
* ``dissimilar``: less similar than ``min_similarity`` to both the successful phrasing and the
  intent's shipped examples (:class:`~core.learning.signals.TextSimilarity`; comparing with the
  examples too matters, since a paraphrase shares few letters with any single phrasing).
  A success of one of the :data:`GIVING_UP_INTENTS` (a person, a greeting, a goodbye) is often
  the customer giving up or leaving, not rephrasing: there the failed message must be similar to
  the successful phrasing itself — or, when the bot understood nothing of it, be closer to that
  intent's examples than to any other intent's.

Score (0..1) of a kept candidate, used by auto-accept (``learning.auto_accept_score``)::

    score = 0.5 * min(1, similarity / 0.5)      how close to the successful phrasing / intent
                                                (for GIVING_UP_INTENTS: to the phrasing only,
                                                unless the message itself reads as that intent)
          + 0.3 * language_score                how much of it is real words
          + 0.2 * evidence * proximity          how clearly it failed, how directly success came

``evidence`` is 1.0 for ``not_understood`` and ``thumbs_down``, 0.8 for ``asked_for_human``,
0.6 for ``rephrased``; ``proximity`` is 1.0 when the success is the very next customer message
and falls by ``0.5 / window_turns`` per message in between.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from config.settings import LearningSettings
from core.learning.placeholders import PLACEHOLDERS, english_frequency, with_placeholders
from core.learning.signals import (
    HUMAN_AGENT,
    SMALL_TALK,
    CustomerTurn,
    LoggedTurn,
    Signal,
    TextSimilarity,
    Verdict,
    turn_signals,
)
from core.learning.types import Provenance

__all__ = [
    "GIBBERISH_BELOW",
    "GIVING_UP_INTENTS",
    "MinedCandidate",
    "Miner",
    "MiningOptions",
    "MiningResult",
    "language_score",
    "normalised",
]

GIBBERISH_BELOW = 0.5
"""A candidate whose :func:`language_score` is below this is gibberish."""

GIVING_UP_INTENTS = frozenset({HUMAN_AGENT, *SMALL_TALK})
"""The hand-off and small-talk intents (the skills of ``core.skills`` that serve no shop
request): what a customer says when giving up on the bot, leaving or starting over, so the
message before one of them is seldom a rephrasing of it."""

_EVIDENCE = {"not_understood": 1.0, "thumbs_down": 1.0, "asked_for_human": 0.8, "rephrased": 0.6}
_SIMILARITY_SATURATES = 0.5
_KNOWN_FREQUENCY = 50  # pyspellchecker's floor: anything listed is a word
_CHAT_WORDS = frozenset(
    "pls plz thx thanx ty lol omg btw asap idk np hiya gonna wanna gotta kinda yeah yep nope "
    "ok okay wifi iphone ipad android email app apps".split()
)
_WORD = re.compile(r"<\w+>|[a-z]+(?:['\u2019][a-z]+)*")
_VOWELS = frozenset("aeiouy")


@dataclass(frozen=True, slots=True)
class MiningOptions:
    """The knobs of mining (``settings.learning``; see ``LearningSettings``)."""

    window_turns: int = 3
    window_minutes: float = 10.0
    min_words: int = 2
    min_similarity: float = 0.15

    @classmethod
    def from_settings(cls, settings: LearningSettings) -> MiningOptions:
        return cls(
            window_turns=settings.window_turns,
            window_minutes=settings.window_minutes,
            min_words=settings.min_words,
            min_similarity=settings.min_similarity,
        )


@dataclass(frozen=True, slots=True)
class MinedCandidate:
    """A candidate before it is stored: placeholder text, proposed intent, score, provenance."""

    text: str
    intent: str
    score: float
    provenance: Provenance

    @property
    def key(self) -> str:
        """What duplicates share: the normalised text."""
        return normalised(self.text)


@dataclass(frozen=True, slots=True)
class MiningResult:
    """What mining some conversations gave: the kept candidates and the dropped counts."""

    candidates: tuple[MinedCandidate, ...] = ()
    dropped: Mapping[str, int] = field(default_factory=dict)
    conversations: int = 0

    @property
    def found(self) -> int:
        """Candidates found before any was dropped."""
        return len(self.candidates) + sum(self.dropped.values())


def normalised(text: str) -> str:
    """Lower-case words and placeholders, single-spaced: how duplicates are compared."""
    return " ".join(_WORD.findall(text.lower()))


@cache
def _is_word(word: str) -> bool:
    return english_frequency(word) >= _KNOWN_FREQUENCY or word in _CHAT_WORDS


def _pronounceable(word: str) -> bool:
    """A word an English speaker could have typed: it has a vowel, no run of 5 consonants
    and no letter three times in a row."""
    if not any(c in _VOWELS for c in word):
        return False
    if re.search(r"[^aeiouy'\u2019]{5}", word) or re.search(r"(.)\1\1", word):
        return False
    return True


def language_score(text: str, shop_words: frozenset[str] = frozenset()) -> float:
    """How much of ``text`` is language (0..1): the share of its words that are English,
    chat or shop words, with half credit for pronounceable unknown words (slang, typos).
    Placeholders are not counted; a text without words scores 0."""
    words = [w for w in _WORD.findall(text.lower()) if w not in PLACEHOLDERS]
    if not words:
        return 0.0
    credit = 0.0
    for word in words:
        if _is_word(word) or word in shop_words:
            credit += 1.0
        elif len(word) > 2 and _pronounceable(word):
            credit += 0.5
    return credit / len(words)


def _merged(first: MinedCandidate, again: MinedCandidate) -> MinedCandidate:
    """``first`` with the failed turns of ``again`` when the same text failed twice in one
    conversation before the same success."""
    one, two = first.provenance, again.provenance
    if (one.conversation_id, one.success_turn_id) != (two.conversation_id, two.success_turn_id):
        return first
    ids = tuple(sorted({*one.failed_turn_ids, *two.failed_turn_ids}))
    earliest = min(one.failed_at, two.failed_at)
    provenance = replace(one, failed_turn_ids=ids, failed_at=earliest)
    return replace(first, provenance=provenance, score=max(first.score, again.score))


class Miner:
    """Mines conversations, one at a time (see the module doc).

    ``examples`` are the shipped training examples by intent (for similarity and duplicates),
    ``out_of_scope`` the shipped out-of-scope ones (they weigh the similarity's grams too),
    ``shop_words`` catalog words (not names, not gibberish).
    """

    def __init__(
        self,
        options: MiningOptions,
        *,
        examples: Mapping[str, Sequence[str]],
        out_of_scope: Sequence[str] = (),
        shop_words: Iterable[str] = (),
    ) -> None:
        self.options = options
        self.shop_words = frozenset(word.lower() for word in shop_words)
        self._examples = {
            intent: tuple(self.redact(text) for text in texts) for intent, texts in examples.items()
        }
        self._shipped = frozenset(
            normalised(text) for texts in self._examples.values() for text in texts
        )
        corpus = [text for texts in self._examples.values() for text in texts]
        self.similarity = TextSimilarity([*corpus, *out_of_scope])

    def redact(self, text: str) -> str:
        """``text`` with placeholders for personal data (nothing raw is ever stored)."""
        return with_placeholders(text, self.shop_words)

    def signals(self, turns: Sequence[LoggedTurn]) -> list[Signal]:
        """The verdicts on one conversation's customer messages."""
        return turn_signals(
            turns, window_minutes=self.options.window_minutes, similarity=self.similarity
        )

    def mine(self, conversations: Iterable[Sequence[LoggedTurn]]) -> MiningResult:
        """Candidates from these conversations (each its log rows, oldest first)."""
        kept: dict[str, MinedCandidate] = {}
        dropped: Counter[str] = Counter()
        count = 0
        for turns in conversations:
            count += 1
            for candidate, reason in self._conversation(turns):
                if reason is None and candidate.key in kept:
                    reason = "duplicate"
                    kept[candidate.key] = _merged(kept[candidate.key], candidate)
                if reason is None:
                    kept[candidate.key] = candidate
                else:
                    dropped[reason] += 1
        return MiningResult(tuple(kept.values()), dict(dropped), count)

    def _conversation(
        self, turns: Sequence[LoggedTurn]
    ) -> Iterable[tuple[MinedCandidate, str | None]]:
        signals = self.signals(turns)
        for index, signal in enumerate(signals):
            if signal.verdict is not Verdict.SUCCEEDED:
                continue
            for failed, gap in self._failures_before(signals, index):
                yield self._judge(failed, signal.turn, gap)

    def _failures_before(self, signals: list[Signal], index: int) -> Iterable[tuple[Signal, int]]:
        """The failed messages that the success at ``index`` rephrases, with how many customer
        messages they came before it (1: right before)."""
        options, success = self.options, signals[index].turn
        for gap in range(1, options.window_turns + 1):
            if index - gap < 0:
                return
            earlier = signals[index - gap]
            if earlier.verdict is Verdict.SUCCEEDED:
                return  # an earlier request was served: what came before belongs to it
            minutes = (success.created_at - earlier.turn.created_at).total_seconds() / 60
            if minutes > options.window_minutes:
                return
            if earlier.verdict is Verdict.FAILED:
                yield earlier, gap

    def _judge(
        self, failed: Signal, success: CustomerTurn, gap: int
    ) -> tuple[MinedCandidate, str | None]:
        intent = success.intent or ""
        text = self.redact(failed.turn.text).strip()
        similarity, like_intent = self._similarity(failed, text, success)
        language = language_score(text, self.shop_words)
        evidence = _EVIDENCE.get(failed.reason, 0.5)
        proximity = 1.0 - 0.5 * (gap - 1) / self.options.window_turns
        score = (
            0.5 * min(1.0, similarity / _SIMILARITY_SATURATES)
            + 0.3 * language
            + 0.2 * evidence * proximity
        )
        provenance = Provenance(
            conversation_id=failed.turn.message.record.conversation_id,
            failed_turn_ids=(failed.turn.message.id,),
            success_turn_id=success.message.id,
            failed_at=failed.turn.created_at,
            succeeded_at=success.created_at,
        )
        candidate = MinedCandidate(text, intent, round(min(1.0, score), 4), provenance)
        return candidate, self._drop_reason(failed, candidate, like_intent, language)

    def _similarity(self, failed: Signal, text: str, success: CustomerTurn) -> tuple[float, float]:
        """How similar ``text`` is to the successful phrasing or intent, for the score; and how
        much it is like the success's intent, for dropping it as ``dissimilar`` (module doc)."""
        intent = success.intent or ""
        phrasing = self.similarity(text, self.redact(success.text))
        if intent not in GIVING_UP_INTENTS:
            like = max(phrasing, self._like(text, intent))
            return like, like
        if failed.turn.intent is None:
            closest = {name: self._like(text, name) for name in self._examples}
            if max(closest, key=closest.__getitem__, default=None) == intent:
                like = max(phrasing, closest[intent])  # it reads as this intent itself
                return like, like
        return phrasing, phrasing

    def _like(self, text: str, intent: str) -> float:
        """``text``'s similarity to the closest shipped example of ``intent``."""
        examples = self._examples.get(intent, ())
        return max((self.similarity(text, example) for example in examples), default=0.0)

    def _drop_reason(
        self, failed: Signal, candidate: MinedCandidate, similarity: float, language: float
    ) -> str | None:
        if failed.turn.intent == candidate.intent:
            return "same_intent"
        if language < GIBBERISH_BELOW:
            return "gibberish"
        words = [w for w in _WORD.findall(candidate.text.lower()) if w not in PLACEHOLDERS]
        if len(words) < self.options.min_words:
            return "too_short"
        if candidate.key in self._shipped:
            return "duplicate"
        if similarity < self.options.min_similarity:
            return "dissimilar"
        return None
