"""Local attribute extraction: order numbers, emails, phones, catalog products and problem topics.

Identifiers (order numbers, emails, phones) are read from the text exactly as the user typed it,
so spelling correction can never damage them; products and problem topics are read from the
corrected text. Every pattern is linear-time on hostile input: no nested quantifiers, starts
anchored by look-behinds, and bounded repetition counts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

from core.shop import Product
from core.types import Attributes

__all__ = ["TECH_SUPPORT_INTENT", "LocalExtractor", "normalise_phone"]

TECH_SUPPORT_INTENT = "tech_support"
# Intents in which a bare number somewhere in the message is taken as an order reference.
_ORDER_INTENTS = frozenset({"order_status", "return_policy"})

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9-])"
)
# One greedy character class after "+", so a failed match backtracks at most 22 characters.
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d[\d ().-]{6,22}")
_PHONE_NANP = re.compile(r"(?<![\w+(])(?:1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w)")
_TRACKING = re.compile(
    r"\btracking(?: (?:number|no|id|code))?\.?\s{0,3}[:#]?\s{0,3}[A-Za-z0-9]{4,40}"
    r"|(?<![A-Za-z0-9])1Z[A-Za-z0-9]{16}(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_PRICE = re.compile(
    r"[$€£]\s?\d[\d,]{0,15}(?:\.\d{1,2})?"
    r"|(?<![\d,.])\d[\d,]{0,15}(?:\.\d{1,2})?\s?(?:usd|eur|gbp|dollars?|euros?|pounds?)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?://|www\.)\S{1,500}", re.IGNORECASE)
_HASH_REF = re.compile(r"(?<![\w&#])#\s?(\d{3,10})(?![\w]|[.,]\d)")
_ORDER_REF = re.compile(
    r"\borders?(?: (?:number|num|nr|no|id|ref|reference))?\.?(?: is)?\s{0,3}[:#]?\s{0,3}#?"
    r"(\d{4,10})(?![\w]|[.,]\d)",
    re.IGNORECASE,
)
# A standalone number: not glued to letters, signs, currency, decimals, dates or ranges.
_BARE_NUMBER = re.compile(r"(?<![\w$€£#+.,/:-])(\d{4,8})(?![\w/%-]|[.,:]\d)")
_ORDER_CONTEXT = re.compile(
    r"\b(?:orders?|ordered|package|parcel|shipment|deliver(?:y|ed)|purchased?|bought|ship(?:ped)?"
    r"|shipping|arriv(?:e|ed)|returns?|refund|cancel(?:led)?|invoice|receipt)\b",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(r"[ ]{0,3}(%|[A-Za-z]{1,20})")
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?"
# Checked only against the 24 characters before a year-like number, so it stays cheap.
_DATE_PREFIX = re.compile(
    rf"(?:\b{_MONTHS} (?:\d{{1,2}}(?:st|nd|rd|th)?,? ?)?|\b(?:in|since|year|of|from|until|before"
    r"|after|by) )$",
    re.IGNORECASE,
)
_UNIT_WORDS = frozenset(
    "x pc pcs piece pieces unit units item items h hr hrs hour hours min mins minute minutes"
    " day days week weeks month months year years atm mah mm cm m l ml kg g gb mb tb w v hz khz mhz"
    " usd eur gbp dollar dollars euro euros pound pounds percent %".split()
)
_FILLER_WORDS = frozenset(
    "it it's its is my the order number no nr num sure yes yeah ok okay here please thanks thank"
    " you that's thats this".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset("the a an my our your this that these those for of to with".split())
# First words too generic to name a product on their own even when only one product has them.
_GENERIC_FIRST_WORDS = frozenset(
    "smart wireless bluetooth mini pro max new classic basic premium digital portable".split()
)
# Words before a head noun that show it is used as a noun ("my watch", not "I watch").
_NOUN_MARKERS = frozenset("my the this your our his her a an new".split())
_MULTI_WORD_CUTOFF = 85.0
_SINGLE_WORD_CUTOFF = 90.0
_MIN_FUZZY_SINGLE_LEN = 7
_MAX_TOKENS = 120

# Checked in order: the first topic that matches wins, so specific topics come first
# ("reset my password" is about the password, not a device reset).
_PROBLEM_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(pattern))
    for topic, pattern in (
        ("password", r"\b(?:password|passcode|passwd|pass word)"),
        ("login", r"\b(?:log(?:ging)? ?in|logon|sign ?in|signin|locked out|two.factor|2fa)\b"),
        ("not charging", r"\b(?:charg(?:e|es|ed|ing|er)|recharg\w{0,6})\b"),
        ("battery", r"\b(?:battery|batteries|drain\w{0,4})\b"),
        ("sync", r"\b(?:sync\w{0,6}|synchroni[sz]\w{0,6})\b"),
        ("pairing", r"\b(?:pair\w{0,5}|connect\w{0,6}|disconnect\w{0,6})\b"),
        ("reset", r"\b(?:reset\w{0,4}|factory|restart\w{0,3}|reboot\w{0,3})\b"),
        ("crash", r"\b(?:crash\w{0,3}|freez\w{0,3}|froze|frozen|hang(?:s|ing)?|stuck)\b"),
        ("no sound", r"\b(?:sound|audio|volume|mute[ds]?|silent|crackl\w{0,3})\b"),
        ("power", r"\b(?:turn(?:s|ing)? on|power\w{0,3}|switch(?:es)? on|boot\w{0,3}|dead)\b"),
        ("update", r"\b(?:update\w{0,2}|updating|firmware|upgrade\w{0,2})\b"),
        ("screen", r"\b(?:screen|display|touchscreen)\b"),
        ("broken", r"\b(?:broken|broke|cracked|damaged|defective|faulty|not working)\b"),
        # Last: "Bluetooth" is also part of product names ("Orbit Bluetooth Speaker").
        ("pairing", r"\bbluetooth\b"),
    )
)


def normalise_phone(raw: str) -> str | None:
    """``raw`` as an E.164 number ("+15550001111"), or ``None`` if it is not a plausible phone.

    Ten digits without a country code are taken as North American (+1).
    """
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.lstrip().startswith("+"):
        if digits.startswith("1"):
            return "+" + digits if len(digits) == 11 else None
        return "+" + digits if 8 <= len(digits) <= 15 else None
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return None


def _singular(word: str) -> str:
    """A plural's singular, roughly: enough to match "headphones" with "headphone"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """Lower-case, singular content words, for product matching."""
    return [_singular(w) for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]


def _content_words(text: str, limit: int) -> tuple[list[str], list[bool]]:
    """Like ``_words``, plus for each word whether it is plainly used as a noun.

    A word counts as a noun at the start of the message, after a determiner or possessive,
    or in plural form; so "my watch" and "watches" do, "I watch" and "can't stand" do not.
    """
    words: list[str] = []
    nouns: list[bool] = []
    previous: str | None = None
    for raw in _TOKEN.findall(text.lower()):
        if len(words) >= limit:
            break
        if raw not in _STOPWORDS:
            singular = _singular(raw)
            words.append(singular)
            nouns.append(previous is None or previous in _NOUN_MARKERS or singular != raw)
        previous = raw
    return words, nouns


def _overlaps(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(start < s_end and s_start < end for s_start, s_end in spans)


class LocalExtractor:
    """Extracts attributes with regular expressions and fuzzy catalog matching (rapidfuzz).

    Aliases are the product name, its distinctive first word ("Aurora"), first plus
    last word ("Aurora headphones"), the name without its first word ("smart watch") and the
    last word ("headphones"); an alias shared by several products is dropped as ambiguous.
    """

    def __init__(self, products: Sequence[Product]) -> None:
        generated, head_nouns = _generated_aliases(products)
        self._aliases: dict[str, str] = {
            k: next(iter(v)) for k, v in generated.items() if len(v) == 1
        }
        # Generic head nouns ("watch", "stand", "case") double as verbs and idioms, so they
        # name a product only where the message plainly uses them as nouns.
        self._head_nouns = frozenset(head_nouns)
        self._max_alias_words = max((k.count(" ") + 1 for k in self._aliases), default=0)
        self._fuzzy_aliases = [
            k for k in self._aliases if " " in k or len(k) >= _MIN_FUZZY_SINGLE_LEN
        ]
        self._catalog_words = frozenset(w for k in self._aliases for w in k.split())
        # rapidfuzz's first cdist call pays a one-off set-up cost; pay it now, not in a turn.
        self._product("warm up")

    async def extract(self, original: str, corrected: str, intent: str | None) -> Attributes:
        """The attributes of one message.

        Order number, email and phone come from ``original``; product and problem from
        ``corrected``. The problem topic is only looked for in technical or unknown intents.
        """
        emails, phones, blocked = self._identifiers(original)
        return Attributes(
            order_number=self._order_number(original, intent, blocked),
            email=emails[0] if emails else None,
            phone=phones[0] if phones else None,
            product=self._product(corrected),
            problem=self._problem(corrected, intent),
        )

    # -- identifiers -------------------------------------------------------------------------

    def _identifiers(self, text: str) -> tuple[list[str], list[str], list[tuple[int, int]]]:
        """Emails, phones and the character spans no order number may come from."""
        blocked: list[tuple[int, int]] = []
        emails: list[str] = []
        if "@" in text:
            for m in _EMAIL.finditer(text):
                emails.append(m.group().lower())
                blocked.append(m.span())
        for pattern in (_URL, _TRACKING, _PRICE):
            blocked.extend(m.span() for m in pattern.finditer(text))
        phones: list[str] = []
        for start, end, phone in _phones(text):
            if not _overlaps(start, end, blocked):
                phones.append(phone)
                blocked.append((start, end))
        return emails, phones, blocked

    def _order_number(
        self, text: str, intent: str | None, blocked: list[tuple[int, int]]
    ) -> str | None:
        # "#1001" is unambiguous; "order 2000 stands" is a quantity, not a reference.
        explicit = [(m, False) for m in _HASH_REF.finditer(text)]
        explicit += [(m, True) for m in _ORDER_REF.finditer(text)]
        for m, check_quantity in sorted(explicit, key=lambda pair: pair[0].start(1)):
            if _overlaps(*m.span(1), blocked):
                continue
            if not (check_quantity and self._is_quantity(text, m.end(1))):
                return m.group(1)
        whole = _whole_message_number(text, blocked)
        if whole is not None:
            return whole
        if intent not in _ORDER_INTENTS and not _ORDER_CONTEXT.search(text):
            return None
        for m in _BARE_NUMBER.finditer(text):
            if _overlaps(*m.span(1), blocked) or self._is_quantity(text, m.end(1)):
                continue
            if not _looks_like_year(text, m.start(1), m.group(1)):
                return m.group(1)
        return None

    def _is_quantity(self, text: str, end: int) -> bool:
        """Whether the number ending at ``end`` counts something ("2000 stands", "30 h")."""
        m = _NEXT_WORD.match(text, end)
        if m is None:
            return False
        word = m.group(1).lower()
        singular = _singular(word)
        return word in _UNIT_WORDS or (singular != word and singular in self._catalog_words)

    # -- product and problem -----------------------------------------------------------------

    def _product(self, text: str) -> str | None:
        words, nouns = _content_words(text, _MAX_TOKENS)
        grams = [
            (" ".join(words[i : i + n]), i)
            for n in range(1, self._max_alias_words + 1)
            for i in range(len(words) - n + 1)
        ]
        if not grams:
            return None
        # Best = most alias words, then highest score, then earliest in the message.
        best: tuple[int, float, int] | None = None
        best_sku: str | None = None
        for alias, score, position in self._matches(grams):
            if alias in self._head_nouns and not nouns[position]:
                continue
            key = (alias.count(" ") + 1, score, -position)
            if best is None or key > best:
                best, best_sku = key, self._aliases[alias]
        return best_sku

    def _matches(self, grams: list[tuple[str, int]]) -> list[tuple[str, float, int]]:
        found = [(gram, 100.0, pos) for gram, pos in grams if gram in self._aliases]
        if not self._fuzzy_aliases:
            return found
        scores = process.cdist(
            [gram for gram, _ in grams],
            self._fuzzy_aliases,
            scorer=fuzz.ratio,
            score_cutoff=_MULTI_WORD_CUTOFF,
        )
        for row, col in zip(*scores.nonzero(), strict=True):
            alias = self._fuzzy_aliases[col]
            score = float(scores[row, col])
            if " " in alias or score >= _SINGLE_WORD_CUTOFF:
                found.append((alias, score, grams[row][1]))
        return found

    @staticmethod
    def _problem(text: str, intent: str | None) -> str | None:
        if intent not in (None, TECH_SUPPORT_INTENT):
            return None
        lowered = text.lower()
        for topic, pattern in _PROBLEM_TOPICS:
            if pattern.search(lowered):
                return topic
        return None


def _phones(text: str) -> list[tuple[int, int, str]]:
    """(start, end, E.164) of each phone number, international forms first."""
    found: list[tuple[int, int, str]] = []
    for m in _PHONE_INTL.finditer(text):
        kept = _trim_international(m.group())
        phone = normalise_phone(kept)
        if phone is not None:
            found.append((m.start(), m.start() + len(kept), phone))
    for m in _PHONE_NANP.finditer(text):
        phone = normalise_phone(m.group())
        if phone is not None and not _overlaps(*m.span(), ((s, e) for s, e, _ in found)):
            found.append((m.start(), m.end(), phone))
    return found


def _trim_international(raw: str) -> str:
    """The leading space-separated groups of ``raw`` that still fit in one E.164 number.

    The loose pattern may run on into a following number ("+1 555 000 1111 1001").
    """
    limit = 11 if raw[1] == "1" else 15
    kept, digits = "", 0
    for group in raw.rstrip(" .-(").split(" "):
        count = sum(ch.isdigit() for ch in group)
        if kept and digits + count > limit:
            break
        kept, digits = (f"{kept} {group}" if kept else group), digits + count
    return kept.rstrip(" .-(")


def _whole_message_number(text: str, blocked: list[tuple[int, int]]) -> str | None:
    """The order number when the message is just a number ("1003", "it's 1003 thanks")."""
    if len(text) > 400:
        return None
    # Emails and phones are cut out first, so "1003 bob@example.com" still counts.
    for start, end in sorted(blocked, reverse=True):
        text = text[:start] + " " + text[end:]
    if len(text) > 60:
        return None
    numbers: list[str] = []
    for token in re.findall(r"[a-z']+|\d+|[^\sa-z\d]", text.lower()):
        if token.isdigit():
            numbers.append(token)
        elif token.isalpha() or "'" in token:
            if token not in _FILLER_WORDS:
                return None
        elif token not in "#.,!:-":
            return None
    if len(numbers) == 1 and 4 <= len(numbers[0]) <= 8:
        return numbers[0]
    return None


def _looks_like_year(text: str, start: int, number: str) -> bool:
    """Whether a 4-digit number reads as a year in a date ("March 3, 2024", "in 2023")."""
    if len(number) != 4 or not ("1900" <= number <= "2099"):
        return False
    return _DATE_PREFIX.search(text[max(0, start - 24) : start]) is not None


def _generated_aliases(products: Sequence[Product]) -> tuple[dict[str, set[str]], set[str]]:
    """Every generated alias with the SKUs it could mean, and which aliases are head nouns."""
    aliases: dict[str, set[str]] = defaultdict(set)
    head_nouns: set[str] = set()
    for product in products:
        words = _words(product.name)
        if not words:
            continue
        candidates = {" ".join(words), words[-1]}
        if len(words) > 1:
            head_nouns.add(words[-1])
        if len(words) > 1:
            candidates.add(f"{words[0]} {words[-1]}")
            candidates.add(" ".join(words[1:]))
            if len(words[0]) >= 4 and words[0] not in _GENERIC_FIRST_WORDS:
                candidates.add(words[0])
        if product.brand:
            candidates.add(" ".join(_words(product.brand)))
        for alias in candidates - {""}:
            aliases[alias].add(product.sku)
    return aliases, head_nouns
