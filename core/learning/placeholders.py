"""Placeholders for personal data in text kept for training: numbers, emails, phones, names.

Everything the learning loop stores or exports goes through :func:`with_placeholders` first.
The turn log may hold a message as typed or already masked by :mod:`core.privacy`
(``b***@example.com``, ``[phone ending 22]``, ``[card ending 1111]``, ``[iban]``); both become
the same placeholders, so a candidate never depends on whether redaction was switched on:

* ``<email>``: an email address, whole or masked, and ``[email]``;
* ``<phone>``: a phone number (the shapes of :func:`core.privacy.redact_text`), masked or not;
* ``<number>``: any other token with a digit — order numbers (``#12345``), tracking numbers,
  amounts, card numbers and IBANs;
* ``<name>``: a person's name, by these rules (a "rare" word is not common English, not a month
  or weekday, not one of the shop's own words — catalog names, brands — nor chat shorthand
  or a support word such as "asap", "refund"; a capitalised word may be written all in
  capitals when longer than an acronym: "JOHN", not "USB"):

  - the one or two words after "my name is" / "my name's" / "name's", whatever they are;
  - after "I'm", "I am", "call me", "this is", "it's (me)", "here is", "regards,",
    "thanks,", "cheers," (any case), a capitalised word below :data:`_INTRODUCED_FREQUENCY`
    (60,000: "I'm Mark", ~50,000) or a rare lower-case one ("this is sarah"), unless it
    is a common word with a suffix or prefix ("it's delayed", "this is unacceptable");
  - the same at the start of a sentence, or after "hi", before "here" or "speaking"
    ("Mark here", "hi sarah here");
  - a capitalised rare word that does not start a sentence ("ask Carol"), or that does but
    is the whole sentence ("John. where is my order") or comes before another name
    ("Sarah Jones here", "JOHN SMITH");
  - the word after a name when it is capitalised and below :data:`_INTRODUCED_FREQUENCY`
    ("Sarah Brown"), or, after an introduction, rare in lower case ("i'm john smith").

  Left as they are: a capitalised word starting a sentence without such a sign ("Parcel never
  came"), acronyms of three letters or fewer ("DHL", "BOB"), common words used as names
  ("i'm mark", "Will here"). A brand the shop did not list is taken for a name ("Amazon.").

"Common English" is pyspellchecker's word list with a frequency of at least
:data:`COMMON_WORD_FREQUENCY`: first names ("john": ~7,000) fall below, ordinary words
("waiting": ~430,000) above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from spellchecker import SpellChecker

from core.privacy import EMAIL_ADDRESS, redact_text

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
_INTRODUCED_FREQUENCY = 60_000
"""A capitalised word introduced as a name is one below this frequency ("I'm Mark", "Mark here")."""

# Masked forms written by core.privacy, and its blanks.
_MASKED_EMAIL = re.compile(r"[\w.%+\-]*\*{3}@[\w\-]+(?:\.[\w\-]+)+|\[email\]")
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
# What a customer says before their own name; "my name is" always, the others only before a
# word that looks like one ("call me back", "this is urgent", "it's broken").
_INTRO = re.compile(
    r"\b(?:(?P<strong>my name is|my name's|name's)|call me|i'm|im|i am|this is|it's me,?"
    r"|its me,?|it's|here is|here's|(?:regards|thanks|thank you|cheers),)\s+$".replace(
        "'", "['\u2019]"
    ),
    re.IGNORECASE,
)
_GREETING = re.compile(r"\b(?:hi|hello|hey|hiya)[,!]?\s+$", re.IGNORECASE)
_SAYS_WHO = frozenset(("here", "speaking"))  # "Mark here", "sarah speaking"
_SENTENCE_END = re.compile(r"\s*(?:[.!]|$)")
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
# Never names, though rare in general English: function words ("my name is not ..."), forms
# of address ("cheers, mate"), chat shorthand ("Thx.", "ASAP"), a shop's everyday words
# ("Refund.", "PARCEL") and acronyms of its products.
_NOT_NAMES = frozenset(
    "a an the not just and but on in at of to for is was mate buddy dude pal bro "
    "im thx thanx ty pls plz lol omg btw idk np tbh fyi imho asap hiya heya yep yup nope ugh "
    "argh meh aww oops whoops refund refunds parcel parcels invoice invoices warranty voucher "
    "coupon discount postage courier receipt cancellation returns checkout hdmi oled qled "
    "gutted livid furious tryna".split()
)
# A word built on a common one ("defective", "unacceptable", "faulty") describes, not names.
_SUFFIXES = ("ed", "d", "ing", "ive", "able", "ible", "ful", "less", "ous", "ish", "ly", "y")
_PREFIXES = ("un", "over", "under", "dis", "mis", "non", "in", "im")
_STEM_FREQUENCY = 500
_ELONGATED = re.compile(r"(.)\1\1")  # "sooo", "hmmm"


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
    text = EMAIL_ADDRESS.sub(EMAIL, text)
    text = _MASKED_PHONE.sub(PHONE, text)
    text = _MASKED_NUMBER.sub(NUMBER, text)
    text = _NUMBER.sub(_number, text)
    return _names(text, frozenset(word.lower() for word in shop_words))


def _number(match: re.Match[str]) -> str:
    return match.group() if _PLACEHOLDER.fullmatch(match.group()) else NUMBER


def _names(text: str, shop_words: frozenset[str]) -> str:
    spans: list[tuple[int, int]] = []
    words = [word for word in _WORD.finditer(text) if not _in_placeholder(text, word)]
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and text[word.end() : following.start()] != " ":
            following = None
        intro = _intro(text, word.start())
        if _is_name(text, word, following, intro, shop_words):
            spans.append(word.span())
            if following is not None and _continues_name(following.group(), intro, shop_words):
                spans.append(following.span())
    for start, end in reversed(_merged(text, spans)):
        text = text[:start] + NAME + text[end:]
    return text


def _is_name(
    text: str,
    match: re.Match[str],
    following: re.Match[str] | None,
    intro: str | None,
    shop_words: frozenset[str],
) -> bool:
    word = match.group().rstrip("'\u2019")
    if _ordinary(word, shop_words):
        return False
    if intro == "strong":
        return True
    if _name_like(word, shop_words) and (
        not _starts_sentence(text, match.start())
        or bool(_SENTENCE_END.match(text, match.end()))
        or (following is not None and _continues_name(following.group(), None, shop_words))
    ):
        return True
    says_who = (
        following is not None
        and following.group().lower() in _SAYS_WHO
        and (
            _starts_sentence(text, match.start()) or bool(_GREETING.search(text, 0, match.start()))
        )
    )
    return (intro is not None or says_who) and _introduced(word)


def _continues_name(word: str, intro: str | None, shop_words: frozenset[str]) -> bool:
    """Whether the word after a name is its surname: capitalised, even common after "my name
    is" ("Rose Brown"), or rare in lower case after an introduction ("i'm john smith")."""
    if _ordinary(word, shop_words):
        return False
    if intro == "strong" and _capitalised(word):
        return True
    if _capitalised(word) or intro is not None:
        return _introduced(word) or _name_like(word, shop_words)
    return False


def _introduced(word: str) -> bool:
    """Whether a word given as a name ("I'm ...", "... here") is one: not a description built
    on a common word, and capitalised below :data:`_INTRODUCED_FREQUENCY` or rare in lower case."""
    frequency = english_frequency(_base(word))
    if _derived(word.lower()):
        return False
    if _capitalised(word):
        return frequency < _INTRODUCED_FREQUENCY
    return word.islower() and frequency < COMMON_WORD_FREQUENCY


def _name_like(word: str, shop_words: frozenset[str]) -> bool:
    """A capitalised word that is neither common English nor one of the shop's own."""
    return (
        _capitalised(word)
        and not _ordinary(word, shop_words)
        and english_frequency(_base(word)) < COMMON_WORD_FREQUENCY
    )


def _capitalised(word: str) -> bool:
    """Capitalised, or in capitals but longer than an acronym ("JOHN", not "USB") and not built
    on a common word ("DAMAGED")."""
    if not word[0].isupper() or word == "I" or word[:2] in ("I'", "I\u2019"):
        return False
    return not word.isupper() or (len(word) > 3 and not _derived(word.lower()))


def _ordinary(word: str, shop_words: frozenset[str]) -> bool:
    """Never a name: the shop's words, months and weekdays, :data:`_NOT_NAMES`, "sooo"."""
    lower = word.lower()
    known = (shop_words, _CALENDAR, _NOT_NAMES)
    return any(lower in words or _base(lower) in words for words in known) or bool(
        _ELONGATED.search(lower)
    )


def _derived(lower: str) -> bool:
    """Whether ``lower`` is a common word with a suffix or prefix ("shipped", "unacceptable");
    not a pet name with a doubled letter ("billy") nor a short stem after a prefix ("ingrid")."""
    stems: list[str] = []
    for suffix in _SUFFIXES:
        stem = lower.removesuffix(suffix)
        doubled = len(stem) > 1 and stem[-1] == stem[-2]
        if stem != lower and not (doubled and suffix == "y"):
            stems += [stem, stem[:-1]] if doubled else [stem]
    stems = [stem for stem in stems if len(stem) >= 4]
    stems += [lower.removeprefix(prefix) for prefix in _PREFIXES if len(lower) - len(prefix) >= 5]
    return any(english_frequency(stem) >= _STEM_FREQUENCY for stem in stems if stem != lower)


def _base(word: str) -> str:
    return re.sub(r"['\u2019]s$", "", word.lower())


def _intro(text: str, start: int) -> str | None:
    """``"strong"`` after "my name is", ``"weak"`` after another introduction, else None."""
    found = _INTRO.search(text, max(0, start - 24), start)
    if found is None:
        return None
    return "strong" if found.group("strong") else "weak"


def _in_placeholder(text: str, match: re.Match[str]) -> bool:
    return (
        text[match.start() - 1 : match.start()] == "<"
        and text[match.end() : match.end() + 1] == ">"
    )


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
