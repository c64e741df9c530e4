"""Spelling correction of customer messages, tuned for a shop's vocabulary.

The English word frequencies come from pyspellchecker and are loaded once per process. Each
corrector adds the shop's own words (catalog names, brands, intent training words) with a high
frequency, so they are never changed and win when a typo is close to them.

Precision matters more than recall here: a wrongly "corrected" order reference, email or product
name hurts far more than a typo left alone, so anything that looks like data is protected and
the search gives up rather than guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA
from spellchecker import SpellChecker

from core.errors import ConfigError
from core.language import reads_english
from core.types import Correction, SpellResult

__all__ = ["SpellingCorrector"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Added to a domain word's English frequency: any domain candidate outranks any plain word.
_DOMAIN_BOOST = 10**9
# Distance-2 search on 3-4 letter words reaches almost every short word: too many wrong guesses.
_DISTANCE2_MIN_LENGTH = 5
# Distance-2 targets must be reasonably common English (pyspellchecker's floor count is 50);
# rarer words are mostly names and oddities that a wild guess should not land on.
_DISTANCE2_MIN_FREQUENCY = 500
# A known word this rare ("oder") one edit away from a domain word ("order") is taken as a typo.
_RARE_KNOWN_FREQUENCY = 300
# A correction never shortens a word below this: "qwe" is not "we" with a stray letter, and
# words under three letters are not corrected either.
_MIN_CANDIDATE_LENGTH = 3
# In a word this short one edit is a third of it, so almost anything is one edit away: a
# correction must keep how the word starts and be a shop word or a common English word, or a
# keyboard mash like "qwe" becomes "owe" or "que".
_SHORT_WORD_LENGTH = 3
_SHORT_WORD_MIN_FREQUENCY = 20000
# A stem this long or longer makes a word ending in -s/-es an inflection ("refunds", "iphones").
_MIN_STEM_LENGTH = 3
# Each half of a run-together word ("airpods", "earbuds") must be a word this long and this
# common; pyspellchecker's rarer three-letter entries would split real typos ("chap"+"er").
_MIN_COMPOUND_PART = 3
_MIN_COMPOUND_PART_FREQUENCY = 2000
# Bounds the work on hostile input; counted per message, independent of the cache.
_MAX_SEARCHES_PER_MESSAGE = 32
# With this many unknown words making up most of the message it is probably not English.
_FOREIGN_MIN_UNKNOWN = 4
_FOREIGN_UNKNOWN_SHARE = 0.75
# Chat words the English dictionary lacks; "thx" must not become "the".
_CHAT_WORDS = frozenset(
    "pls plz thx thanx thnx lol omg btw asap fyi imo tbh idk np ty hiya gonna wanna gotta "
    "kinda sorta yeah yep nope ok okay wifi iphone ipad android email emails online "
    "smartphone smartwatch app apps".split()
)
# Acronyms a shouting (all-caps) message may contain; they are never corrected.
_ACRONYMS = frozenset(
    "gps atm usb hdmi led lcd nfc dhl ups usps fedex sms faq pdf sku eta diy usa vat ipx".split()
)

_CHUNK_RE = re.compile(r"\S+")
_WORD_RE = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)*")
# Digits (order numbers, phones, tracking codes, versions), mentions, tags, identifiers, URLs
# and domain names: the whole whitespace-separated chunk is data, not prose.
_DATA_CHUNK_RE = re.compile(
    r"\d|[@#_]|://|(?i:\bwww\.)|[A-Za-z0-9]\.[A-Za-z]{2,}",
)


@dataclass(frozen=True, slots=True)
class _Lexicon:
    """English word counts, and the words a distance-2 search may land on.

    Those are grouped by (first letter, query length): a distance-2 guess must keep the first
    letter, or have it swapped with the second. Misspellings of the first letter are rare, and
    the restriction makes the search about ten times cheaper.
    """

    counts: Mapping[str, int]
    distance2_choices: Mapping[tuple[str, int], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class _Target:
    """One word of the message that may be corrected."""

    start: int
    word: str
    domain_only: bool


def _length_windows(words: Iterable[str]) -> dict[int, tuple[str, ...]]:
    """For each query length n, the words of length n-2..n+2 (the only ones within distance 2)."""
    by_length: dict[int, list[str]] = {}
    for word in words:
        by_length.setdefault(len(word), []).append(word)
    longest = max(by_length, default=0)
    return {
        n: tuple(w for size in range(n - 2, n + 3) for w in by_length.get(size, ()))
        for n in range(1, longest + 3)
    }


@cache
def _english() -> _Lexicon:
    """pyspellchecker's English dictionary, loaded once per process (it takes ~0.1 s)."""
    counts: dict[str, int] = dict(SpellChecker(language="en").word_frequency.dictionary)
    by_initial: dict[str, list[str]] = {}
    for word, count in counts.items():
        if count >= _DISTANCE2_MIN_FREQUENCY and word.isascii() and word.isalpha():
            by_initial.setdefault(word[0], []).append(word)
    choices = {
        (initial, n): window
        for initial, words in by_initial.items()
        for n, window in _length_windows(words).items()
    }
    return _Lexicon(counts=counts, distance2_choices=choices)


def _edits1(word: str) -> set[str]:
    """Every string one delete, transpose, replace or insert away (ASCII letters; also an
    apostrophe insert, so "dont" can reach "don't")."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {left + right[1:] for left, right in splits if right}
    edits.update(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
    edits.update(left + c + right[1:] for left, right in splits if right for c in _LETTERS)
    edits.update(left + c + right for left, right in splits for c in _LETTERS)
    edits.update(left + "'" + right for left, right in splits[1:-1])
    return edits


def _keeps_start(word: str, candidate: str) -> bool:
    """Whether ``candidate`` starts like ``word``: same first letter, or the first two swapped."""
    return candidate[:1] == word[:1] or candidate[:2] == word[1::-1]


def _is_data_chunk(chunk: str) -> bool:
    """Whether a whitespace-separated chunk must be left exactly as typed."""
    if _DATA_CHUNK_RE.search(chunk):
        return True
    if chunk.isascii():
        return False
    # Non-English letters, combining marks, other scripts' digits, zero-width characters:
    # the English dictionary has nothing to say about them, and splitting there would mangle.
    return any(
        unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Cf" for c in chunk
    )


def _words(text: str) -> list[tuple[int, str]]:
    """(offset, word) of each plain ASCII word outside data chunks."""
    found: list[tuple[int, str]] = []
    for chunk in _CHUNK_RE.finditer(text):
        if not _is_data_chunk(chunk.group()):
            base = chunk.start()
            found.extend((base + m.start(), m.group()) for m in _WORD_RE.finditer(chunk.group()))
    return found


def _is_shouting(words: list[tuple[int, str]]) -> bool:
    """A message typed in capitals: its capitalised words are prose, not acronyms."""
    caps = sum(1 for _, w in words if len(w) > 1 and w.isupper())
    return caps >= 3 and caps >= 0.9 * len(words)


def _starts_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence, line or quote (so may be capitalised)."""
    before = text[:start]
    kept = before.rstrip()
    if not kept or "\n" in before[len(kept) :]:
        return True
    return not (kept[-1].isalnum() or kept[-1] in ",;")


def _match_case(original: str, corrected: str) -> str:
    """``corrected`` written in the case pattern of ``original``."""
    if original.isupper():
        return corrected.upper()
    if original[0].isupper():
        return corrected[0].upper() + corrected[1:]
    return corrected


class SpellingCorrector:
    """Fixes typos in a message while keeping every protected token, the case and the spacing.

    ``vocabulary`` is the shop's own words (catalog names, brands, intent training words); phrases
    are split into words. Those words are never changed and are preferred correction targets.
    Unknown words longer than ``max_word_length`` are left alone; words longer than
    ``distance2_max_length`` are only searched at edit distance 1, which bounds the cost.
    ``cache_size`` words' corrections are remembered (0 turns the cache off).
    """

    def __init__(
        self,
        vocabulary: Iterable[str] = (),
        *,
        max_word_length: int = 18,
        distance2_max_length: int = 8,
        cache_size: int = 20000,
    ) -> None:
        if max_word_length < 3:
            raise ConfigError("spelling.max_word_length", "must be at least 3")
        if distance2_max_length < 1:
            raise ConfigError("spelling.distance2_max_length", "must be at least 1")
        if cache_size < 0:
            raise ConfigError("spelling.cache_size", "must not be negative")
        self._max_word_length = max_word_length
        self._distance2_max_length = distance2_max_length
        self._english = _english()
        # Words of data chunks ("IPX7", "5.3") are protected anyway, so they are not added:
        # "ipx" alone must not become a correction target.
        # How often the shop's own texts use a word decides between equally close candidates
        # ("wher" -> "where", not the more common English "when").
        self._domain_counts = Counter(w.lower() for phrase in vocabulary for _, w in _words(phrase))
        self._domain = frozenset(self._domain_counts)
        self._domain_choices = _length_windows(self._domain)
        self._known_extra = self._domain | _CHAT_WORDS | _ACRONYMS
        self._lookup: Callable[[str, bool], str | None] = (
            lru_cache(maxsize=cache_size)(self._search) if cache_size else self._search
        )

    async def correct(self, text: str) -> SpellResult:
        """The corrected text and the corrections made (see ``correct_text``)."""
        return self.correct_text(text)

    def correct_text(self, text: str) -> SpellResult:
        """Correct ``text``; only the letters of misspelled words change.

        Fast enough to run inline on the event loop (pure CPU, well under a millisecond for a
        typical message once the dictionary is loaded). A message in another language is left
        as it is: its words are not misspelled English ones.
        """
        if reads_english(text) is False:
            return SpellResult(text)
        words = _words(text)
        shouting = _is_shouting(words)
        targets = [t for start, w in words if (t := self._target(text, start, w, shouting))]
        unknown = sum(1 for t in targets if t.word.lower() not in self)
        if unknown >= _FOREIGN_MIN_UNKNOWN and unknown > _FOREIGN_UNKNOWN_SHARE * len(targets):
            return SpellResult(text)
        fixes = self._fixes(targets)
        corrections = tuple(
            Correction(t.word, _match_case(t.word, fixed), t.start)
            for t in targets
            if (fixed := fixes[t.word.lower(), t.domain_only]) is not None
        )
        return SpellResult(_apply(text, corrections), corrections)

    def _fixes(self, targets: list[_Target]) -> dict[tuple[str, bool], str | None]:
        """The correction of each distinct (lower-case word, domain_only) of a message.

        At most ``_MAX_SEARCHES_PER_MESSAGE`` distinct words get a search; the rest are left as
        typed. Counting does not depend on the cache, so results never do either.
        """
        fixes: dict[tuple[str, bool], str | None] = {}
        searches = 0
        for target in targets:
            key = (lower := target.word.lower(), target.domain_only)
            if key in fixes:
                continue
            if not self._is_common(lower):
                searches += 1
                if searches > _MAX_SEARCHES_PER_MESSAGE:
                    fixes[key] = None
                    continue
            fixed = self._lookup(lower, target.domain_only)
            fixes[key] = fixed if fixed != lower else None
        return fixes

    def _target(self, text: str, start: int, word: str, shouting: bool) -> _Target | None:
        """The part of ``word`` that may be corrected, or ``None`` when it is protected."""
        if "'" in word or "\u2019" in word:
            # Contractions are left alone; a possessive's stem is checked like any word.
            if word[-2:].lower() not in ("'s", "\u2019s"):
                return None
            word = word[:-2]
        if not 3 <= len(word) <= self._max_word_length:
            return None
        if word.isupper() and not shouting:
            return None  # an acronym: UPS, GPS, ATM
        if not word.isupper() and any(c.isupper() for c in word[1:]):
            return None  # inner capitals: MacBook, iPhone
        # A capitalised word inside a sentence is probably a name: only the shop's words apply.
        domain_only = word[0].isupper() and not shouting and not _starts_sentence(text, start)
        return _Target(start, word, domain_only)

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` (any case) is known: a domain, chat or English dictionary word."""
        if not isinstance(word, str):
            return False
        lower = word.lower()
        return lower in self._known_extra or lower in self._english.counts

    def _is_common(self, lower: str) -> bool:
        """Known and not rare: nothing to search for."""
        count = self._english.counts.get(lower, 0)
        return lower in self._known_extra or count >= _RARE_KNOWN_FREQUENCY

    def _score(self, word: str) -> int:
        boost = _DOMAIN_BOOST * self._domain_counts.get(word, 0)
        return self._english.counts.get(word, 0) + boost

    def _search(self, lower: str, domain_only: bool) -> str | None:
        """The best correction of a lower-case word, or ``None`` to leave it alone."""
        if lower in self._known_extra:
            return None
        count = self._english.counts.get(lower)
        if self._is_inflection(lower, known=count is not None):
            return None
        if count is not None:
            if count >= _RARE_KNOWN_FREQUENCY:
                return None
            return self._best(c for c in _edits1(lower) if c in self._domain)
        near = self._distance1(lower, domain_only)
        if near is not None or domain_only or self._is_compound(lower):
            return near
        return self._distance2(lower, domain_only)

    def _is_inflection(self, lower: str, *, known: bool) -> bool:
        """A plural or third-person form of a shop or chat word ("refunds", "iphones"), or a
        dictionary word formed from a common one ("flickers"): never a typo to fix."""
        for suffix in ("s", "es"):
            stem = lower[: -len(suffix)]
            if not lower.endswith(suffix) or len(stem) < _MIN_STEM_LENGTH:
                continue
            if stem in self._known_extra or (known and self._is_common(stem)):
                return True
        return False

    def _is_compound(self, lower: str) -> bool:
        """Two common words run together ("airpods", "earbuds"): likely a name. Only a
        distance-2 guess is at stake, and it would swap the meaning ("airport")."""
        counts = self._english.counts
        return any(
            counts.get(lower[:i], 0) >= _MIN_COMPOUND_PART_FREQUENCY
            and counts.get(lower[i:], 0) >= _MIN_COMPOUND_PART_FREQUENCY
            for i in range(_MIN_COMPOUND_PART, len(lower) - _MIN_COMPOUND_PART + 1)
        )

    def _distance1(self, lower: str, domain_only: bool) -> str | None:
        edits = _edits1(lower)
        if domain_only:
            return self._best(c for c in edits if c in self._domain)
        counts = self._english.counts
        floor = 1
        if len(lower) <= _SHORT_WORD_LENGTH:
            edits = {c for c in edits if _keeps_start(lower, c)}
            floor = _SHORT_WORD_MIN_FREQUENCY
        return self._best(c for c in edits if c in self._domain or counts.get(c, 0) >= floor)

    def _distance2(self, lower: str, domain_only: bool) -> str | None:
        if not _DISTANCE2_MIN_LENGTH <= len(lower) <= self._distance2_max_length:
            return None
        choices = [self._domain_choices.get(len(lower), ())]
        if not domain_only:
            english = self._english.distance2_choices
            choices.extend(english.get((initial, len(lower)), ()) for initial in {*lower[:2]})
        found = (
            match
            for pool in choices
            for match, _, _ in process.extract(
                lower, pool, scorer=OSA.distance, score_cutoff=2, limit=None
            )
        )
        return self._best(found)

    def _best(self, candidates: Iterable[str]) -> str | None:
        """The most frequent candidate (ties broken alphabetically, so results are stable)."""
        return min(
            (c for c in candidates if len(c) >= _MIN_CANDIDATE_LENGTH),
            key=lambda w: (-self._score(w), w),
            default=None,
        )


def _apply(text: str, corrections: Iterable[Correction]) -> str:
    """``text`` with each correction applied at its offset (corrections come in text order)."""
    pieces: list[str] = []
    position = 0
    for fix in corrections:
        pieces.append(text[position : fix.start])
        pieces.append(fix.corrected)
        position = fix.start + len(fix.original)
    pieces.append(text[position:])
    return "".join(pieces)
