"""Placeholders for personal data in text kept for training: numbers, emails, phones, names.

Everything the learning loop stores or exports goes through :func:`with_placeholders` first.
The turn log may hold a message as typed or already masked by :mod:`core.privacy`
(``b***@example.com``, ``[phone ending 22]``, ``[card ending 1111]``, ``[iban]``); both become
the same placeholders, so a candidate never depends on whether redaction was switched on:

* ``<email>``: an email address, whole or masked, and ``[email]``;
* ``<phone>``: a phone number (the shapes of :func:`core.privacy.redact_text`), masked or not;
* ``<number>``: any other token with a digit — order numbers (``#12345``), tracking numbers,
  amounts, card numbers and IBANs;
* ``<name>``: a person's name, conservatively: the one or two words after "my name is",
  "name's", "call me", "I'm" / "I am" / "this is" / "it's" when those words are capitalised and
  not common English; and any capitalised word that does not start a sentence, is not a
  common English word, a month or weekday, or one of the shop's own words (catalog names,
  brands), nor written all in capitals (an acronym).

"Common English" is pyspellchecker's word list with a frequency of at least
:data:`COMMON_WORD_FREQUENCY`: first names ("john": ~7,000) fall below, ordinary words
("waiting": ~430,000) above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from spellchecker import SpellChecker

from core.privacy import redact_text

__all__ = [
    "COMMON_WORD_FREQUENCY",
    "EMAIL",
    "NAME",
    "NUMBER",
    "PHONE",
    "PLACEHOLDERS",
    "english_frequency",
    "with_placeholders",
]

EMAIL = "<email>"
PHONE = "<phone>"
NUMBER = "<number>"
NAME = "<name>"
PLACEHOLDERS = (EMAIL, PHONE, NUMBER, NAME)

COMMON_WORD_FREQUENCY = 20_000
"""A word at least this frequent in pyspellchecker's English list is not taken for a name."""

# Masked forms written by core.privacy, and its blanks.
_MASKED_EMAIL = re.compile(r"[\w.%+\-]*\*{3}@[\w\-]+(?:\.[\w\-]+)+|\[email\]")
_FULL_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_MASKED_PHONE = re.compile(r"\[phone(?: ending \d{1,2})?\]")
_MASKED_NUMBER = re.compile(r"\[card ending \d{1,4}\]|\[iban\]")
# Any token with a digit (after emails and phones are out): order and tracking numbers, sums.
_NUMBER = re.compile(r"[#$€£]?[\w./:\-]*\d[\w./:,\-]*")
_PLACEHOLDER = re.compile(r"<(?:email|phone|number|name)>")

# Words of any alphabet ("Müller", "José", "Ørsted"): an ASCII-only pattern would cut a name
# at its first accented letter and leave the rest ("<name>é garcía").
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019\-])*")
# Titles whose full stop does not end a sentence ("Dr. Smith").
_TITLE = re.compile(r"\b(?:mr|mrs|ms|miss|dr|prof|sir)\.$", re.IGNORECASE)
_INTRO = re.compile(
    r"\b(?:my name is|my name's|name's|call me|i'm|i am|this is|it's|its me)\s+",
    re.IGNORECASE,
)
_STRONG_INTRO = re.compile(r"(?:my name is|my name's|name's|call me)\s+$", re.IGNORECASE)
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
# Words that follow "my name is" without being a name.
_NOT_NAMES = frozenset("a an the not just and but on in at of to for is was".split())


@cache
def _english() -> dict[str, int]:
    return dict(SpellChecker(language="en").word_frequency.dictionary)


def english_frequency(word: str) -> int:
    """How often ``word`` (any case) occurs in pyspellchecker's English list; 0 if absent."""
    return _english().get(word.lower(), 0)


def with_placeholders(text: str, shop_words: Iterable[str] = ()) -> str:
    """``text`` with personal data replaced by placeholders (see the module doc).

    ``shop_words`` (any case) are never taken for names: catalog product names and brands.
    Idempotent: placeholders are left as they are.
    """
    text = redact_text(text)  # the raw shapes become core.privacy's masked forms first
    text = _MASKED_EMAIL.sub(EMAIL, text)
    text = _FULL_EMAIL.sub(EMAIL, text)
    text = _MASKED_PHONE.sub(PHONE, text)
    text = _MASKED_NUMBER.sub(NUMBER, text)
    text = _NUMBER.sub(_number, text)
    return _names(text, frozenset(word.lower() for word in shop_words))


def _number(match: re.Match[str]) -> str:
    return match.group() if _PLACEHOLDER.fullmatch(match.group()) else NUMBER


def _names(text: str, shop_words: frozenset[str]) -> str:
    spans: list[tuple[int, int]] = []
    words = list(_WORD.finditer(text))
    for index, match in enumerate(words):
        word = match.group()
        if _is_name(text, match, shop_words):
            spans.append(match.span())
        elif _after_strong_intro(text, match) and word.lower() not in _NOT_NAMES:
            spans.append(match.span())
            following = words[index + 1] if index + 1 < len(words) else None
            if following is not None and _continues_name(text, match, following, shop_words):
                spans.append(following.span())
    for start, end in reversed(_merged(text, spans)):
        text = text[:start] + NAME + text[end:]
    return text


def _is_name(text: str, match: re.Match[str], shop_words: frozenset[str]) -> bool:
    word = match.group().rstrip("'\u2019")
    if not word[0].isupper() or word.isupper() or word == "I" or word.startswith("I'"):
        return False
    lower = word.lower()
    base = re.sub(r"['\u2019]s$", "", lower)
    if lower in shop_words or base in shop_words or lower in _CALENDAR:
        return False
    if english_frequency(base) >= COMMON_WORD_FREQUENCY:
        return False
    # A capitalised rare word at the start of a sentence may just be capitalised; only an
    # introduction ("I'm Zoe") makes it a name there.
    return not _starts_sentence(text, match.start()) or _after_intro(text, match)


def _continues_name(
    text: str, first: re.Match[str], following: re.Match[str], shop_words: frozenset[str]
) -> bool:
    """Whether the word after a name given with "my name is" is its surname: a capitalised
    word, even a common one ("Rose Brown"), or a rare one in lower case ("john smith")."""
    between = text[first.end() : following.start()]
    word = following.group()
    if between != " " or word.lower() in shop_words or word == "I" or word.startswith("I'"):
        return False
    return word[0].isupper() or english_frequency(word) < COMMON_WORD_FREQUENCY


def _after_intro(text: str, match: re.Match[str]) -> bool:
    ends = [found.end() for found in _INTRO.finditer(text[: match.start()])]
    return bool(ends) and ends[-1] == match.start()


def _after_strong_intro(text: str, match: re.Match[str]) -> bool:
    return bool(_STRONG_INTRO.search(text[max(0, match.start() - 16) : match.start()]))


def _starts_sentence(text: str, start: int) -> bool:
    kept = text[:start].rstrip()
    if _TITLE.search(kept):
        return False
    return not kept or kept[-1] in ".!?:;\n\"'("


def _merged(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans in order, a first name and surname ("John Smith") joined into one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(spans)):
        if merged and text[merged[-1][1] : start] == " ":
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
