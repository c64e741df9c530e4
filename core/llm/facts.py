"""The facts a reply states, and which of them a draft states without grounding.

A model-phrased reply may say only what the template reply (built by code from the shop's
records) says. :func:`facts_in` reads the checkable facts of a text; :func:`unsupported_facts`
lists those of a draft that the grounding does not have, :func:`missing_facts` the order and
tracking numbers and prices of the grounding that a draft leaves out.

The reading is deliberately conservative: anything that looks like a fact (a number, a date, a
status word, a carrier, an address…) counts, and a draft fact must match a grounding fact of the
same kind. A faithful paraphrase may therefore be refused now and then (the customer then gets
the template reply, which is always right); an invented or changed fact should never pass.
Recognised in English, Spanish, French, German, Italian and Portuguese (month and weekday names,
status words, negation). Kinds and how they compare:

* ``order_number`` (``#1003``, "order 1003", "pedido 1003") and ``tracking_number`` (10+ letters
  and digits with a digit, or 12+ digits) and other ``code``s with letters and digits (``IPX7``);
* ``money``: amount and currency (``$1,299.00`` = ``1299 USD`` ≠ ``1299 €``); ``percent``;
  ``duration`` (number and time unit: "30 days" = "30-day" = "30 días" ≠ "30 weeks");
* ``date`` (day, month and year when given: "Wednesday, March 5, 2025", "March 5", "5 March",
  "5 de marzo", ISO, 05/03/2025 read both ways), ``weekday``, ``relative_day`` (today, tomorrow…);
* ``quantity`` of an order line ("2 × Zephyr Laptop Stand"): must be a quantity of the grounding;
* ``number``: any other number (quantities, "in 2 days" → 2, number words "two"…"twelve");
  supported by any number of the grounding, including those inside its dates and amounts;
* ``status`` of an order with its mood: ``delivered`` said as done, negated ("hasn't been
  delivered") or expected ("should arrive", "will be delivered") are three different facts;
* ``stock`` (in stock / out of stock / restock), ``carrier`` (UPS, FedEx…), ``email``,
  ``phone``, ``url`` and masked personal data (``[phone ending 11]``);
* ``promise``: what the shop would commit to — free, credit, discount, voucher, compensation,
  refund, guarantee, replacement, gift — only where the grounding says it too ("feel free to
  ask" promises nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.llm.fact_words import (
    CARRIERS,
    CURRENCIES,
    EXPECTATION,
    EXPECTATION_AFTER,
    MONTHS,
    NEGATORS,
    NUMBER_WORDS,
    ORDER_WORDS,
    PROMISES,
    RELATIVE_DAYS,
    STATUSES,
    STOCK,
    TIME_UNITS,
    WEEKDAYS,
    fold,
)
from core.privacy import redact_text

__all__ = ["Fact", "FactSet", "facts_in", "missing_facts", "unsupported_facts"]


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact as written (``text``), of a ``kind``, with its normalised ``values`` (several
    when the writing is ambiguous, e.g. ``1,299`` or ``05/03/2025``) and the plain ``numbers``
    inside it (which support a bare number stated elsewhere)."""

    kind: str
    text: str
    values: tuple[str, ...]
    numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FactSet:
    """The facts of one text."""

    facts: tuple[Fact, ...]

    def values(self, kind: str) -> frozenset[str]:
        """Every normalised value of the facts of ``kind``."""
        return frozenset(v for f in self.facts if f.kind == kind for v in f.values)

    def of(self, kind: str) -> tuple[Fact, ...]:
        """The facts of ``kind``, in reading order."""
        return tuple(f for f in self.facts if f.kind == kind)

    @property
    def numbers(self) -> frozenset[str]:
        """Every number the text states, alone or inside a date, amount, duration…"""
        return frozenset(n for f in self.facts for n in f.numbers)


def _decimal(text: str) -> str:
    return format(Decimal(text).normalize(), "f")


def amounts(token: str) -> tuple[str, ...]:
    """The values a written number can mean: ``1,299.00`` → 1299, ``5,95`` → 5.95, and the
    ambiguous ``1,299`` → 1299 or 1.299."""
    token = re.sub(r"[\s\u00a0\u202f']", "", token)
    if "," in token and "." in token:
        decimal_sep = "," if token.rfind(",") > token.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        return (_decimal(token.replace(thousands, "").replace(decimal_sep, ".")),)
    for sep in ",.":
        if sep in token:
            head, _, tail = token.rpartition(sep)
            if token.count(sep) > 1:
                return (_decimal(token.replace(sep, "")),)
            if len(tail) == 3:
                return tuple(dict.fromkeys((_decimal(head + tail), _decimal(f"{head}.{tail}"))))
            return (_decimal(f"{head}.{tail}"),)
    try:
        return (_decimal(token),)
    except InvalidOperation:
        return ()


_NUM = r"\d{1,3}(?:[.,\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"
_ALT = "|".join


def _alternation(names: Iterable[str]) -> str:
    return _ALT(sorted((re.escape(n) for n in names), key=len, reverse=True))


_MONTH = _alternation(MONTHS)
_WEEKDAY = _alternation(WEEKDAYS)
_CURRENCY = _alternation(CURRENCIES)
_UNIT = _alternation(TIME_UNITS)
_ORDINAL = r"(?:st|nd|rd|th|º|ª|er|eme|o|a)?\.?"
_YEAR = r"(?:,?\s+(?:de\s+|del\s+)?(\d{4}))?"

# (kind, pattern) in the order they are read; what one reads is blanked for the next ones.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("masked", r"\[(?:phone|card) ending \d+\]|\[(?:email|phone|iban)\]"),
        ("email", r"[\w.%+*\-]+@[\w\-]+(?:\.[\w\-]+)+"),
        (
            "url",
            r"https?://[^\s<>\"')\]]+|www\.[^\s<>\"')\]]+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*"
            r"\.(?:com|org|net|io|co|shop|store|help|app|es|fr|de|it|pt|uk|eu|us)\b(?:/[^\s<>\"')\]]*)?",
        ),
        ("code", r"(?<![\w\-])(?=[a-z0-9]*[a-z])(?=[a-z0-9]*\d)[a-z0-9]+(?![\w\-])|\b\d{12,}\b"),
        (
            "phone",
            r"\+\d[\d ()./\-]{6,}\d|(?<![\w#])(?:1[ .\-])?\(?\d{3}\)?[ .\-]\d{3}[ .\-]\d{4}\b",
        ),
        ("iso_date", r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"),
        ("numeric_date", r"\b(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b"),
        ("month_day", rf"\b({_MONTH})\.?\s+(\d{{1,2}}){_ORDINAL}(?!\d){_YEAR}"),
        ("day_month", rf"\b(\d{{1,2}}){_ORDINAL}\s+(?:of\s+|de\s+)?({_MONTH})\b\.?{_YEAR}"),
        ("money", rf"(?:({_CURRENCY})\s?({_NUM}))|(?:({_NUM})\s?({_CURRENCY})(?!\w))"),
        (
            "percent",
            rf"({_NUM})\s?(?:%|percent\b|per cent\b|por ciento\b|pour cent\b|prozent\b"
            rf"|per cento\b|por cento\b)",
        ),
        ("duration", rf"({_NUM})(?:\s*-\s*|\s+)?(?:(?:business|working)\s+)?({_UNIT})\b"),
        (
            "order_number",
            rf"#\s?(\d+)|\b(?:{_alternation(ORDER_WORDS)})\s*"
            r"(?:number|no\.?|nº|n\.º|n°|numero|número|numéro|nr\.?|nummer|#)?\s*:?\s*(\d{3,})\b",
        ),
        ("quantity", r"(?<![\w.,])(\d+)\s?[×x](?=\s)"),
        ("number", rf"(?<![\w.,])({_NUM})(?:st|nd|rd|th)?(?!\w)|(?<![\w])(\d+)(?=[a-z]{{1,3}}\b)"),
        ("weekday", rf"\b({_WEEKDAY})\b"),
        ("relative_day", rf"\b({_alternation(RELATIVE_DAYS)})\b"),
        ("number_word", rf"\b({_alternation(NUMBER_WORDS)})\b"),
    )
)


def _code(text: str) -> Iterator[Fact]:
    """A token of letters and digits: ``5th`` and ``65w`` are numbers, ``30h`` a duration,
    ``IPX7`` a code, ``1Z999AA10123456784`` (10 or more) a tracking number."""
    number = re.fullmatch(r"(\d+)([a-z]{1,3})", text.lower())
    if number and number.group(2) in TIME_UNITS:
        values = amounts(number.group(1))
        unit = TIME_UNITS[number.group(2)]
        yield Fact("duration", text, tuple(f"{v} {unit}" for v in values), values)
    elif number:
        values = amounts(number.group(1))
        yield Fact("number", text, values, values)
    else:
        kind = "tracking_number" if len(text) >= 10 else "code"
        yield Fact(kind, text, (text.upper(),))


def _date_fact(text: str, month: int, day: int, year: str | None) -> Fact | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    numbers = (str(day),) + ((str(int(year)),) if year else ())
    return Fact("date", text, (f"{month}-{day}-{year or '?'}",), numbers)


def _read(kind: str, match: re.Match[str]) -> Iterator[Fact]:
    text, groups = match.group(0), match.groups()
    if kind in ("masked", "email"):
        yield Fact("personal" if kind == "masked" else "email", text, (text.lower(),))
    elif kind == "url":
        yield Fact(
            "url",
            text,
            (
                text.lower()
                .rstrip(".,;:!?/")
                .removeprefix("https://")
                .removeprefix("http://")
                .removeprefix("www."),
            ),
        )
    elif kind == "code":
        yield from _code(text)
    elif kind == "phone":
        yield Fact("phone", text, ("".join(re.findall(r"\d", text))[-10:],))
    elif kind == "iso_date":
        fact = _date_fact(text, int(groups[1]), int(groups[2]), groups[0])
        yield from (fact,) if fact else ()
    elif kind == "numeric_date":
        first, second, year = int(groups[0]), int(groups[1]), groups[2]
        year = year if len(year) == 4 else f"20{year}"
        readings = [_date_fact(text, m, d, year) for m, d in ((first, second), (second, first))]
        found = [r for r in readings if r is not None]
        if found:
            values = tuple(dict.fromkeys(v for r in found for v in r.values))
            yield Fact("date", text, values, (str(first), str(second), str(int(year))))
    elif kind in ("month_day", "day_month"):
        month_name, day = (groups[0], groups[1]) if kind == "month_day" else (groups[1], groups[0])
        fact = _date_fact(text, MONTHS[fold(month_name)], int(day), groups[2])
        yield from (fact,) if fact else ()
    elif kind == "money":
        symbol, number = (groups[0], groups[1]) if groups[0] else (groups[3], groups[2])
        currency = CURRENCIES[fold(symbol)]
        values = amounts(number)
        yield Fact("money", text, tuple(f"{v} {currency}" for v in values), values)
    elif kind == "percent":
        values = amounts(groups[0])
        yield Fact("percent", text, values, values)
    elif kind == "duration":
        values = amounts(groups[0])
        unit = TIME_UNITS[fold(groups[1])]
        yield Fact("duration", text, tuple(f"{v} {unit}" for v in values), values)
    elif kind == "order_number":
        number = _decimal(groups[0] or groups[1])
        yield Fact("order_number", text, (number,), (number,))
    elif kind == "quantity":
        values = amounts(groups[0])
        yield Fact("quantity", text, values, values)
    elif kind == "number":
        values = amounts(groups[0] or groups[1])
        yield Fact("number", text, values, values)
    elif kind == "weekday":
        yield Fact("weekday", text, (str(WEEKDAYS[fold(groups[0])]),))
    elif kind == "relative_day":
        yield Fact("relative_day", text, (RELATIVE_DAYS[fold(groups[0])],))
    elif kind == "number_word":
        value = str(NUMBER_WORDS[fold(groups[0])])
        yield Fact("number", text, (value,), (value,))


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _mood(folded: str, start: int, end: int) -> str:
    """``no`` (negated), ``expected`` or ``yes`` for a status word at ``start:end``."""
    before = re.split(r"[.;:!?()\n]", folded[:start])[-1]
    before_words = re.findall(r"[\w']+", before)[-5:]
    after_words = re.findall(r"[\w']+", re.split(r"[.;:!?()\n]", folded[end:])[0])[:1]
    if any(w in NEGATORS or w.endswith("n't") for w in before_words):
        return "no"
    if any(w in EXPECTATION or w.endswith("'ll") for w in before_words):
        return "expected"
    if any(w in EXPECTATION_AFTER for w in after_words):
        return "expected"
    return "yes"


_STATUS_RE = re.compile(rf"\b({_alternation(STATUSES)})\b")
_STOCK_RE = re.compile(rf"\b({_alternation(STOCK)})\b")
_PROMISE_RE = re.compile(rf"\b({_alternation(PROMISES)})\b")
# Where a promise word promises nothing: "feel free to ask", "free of charge" is a promise.
_NOT_A_PROMISE = re.compile(r"feel\s+free|free\s+to\b|credit\s+card|tarjeta\s+de\s+credito")


def _words_facts(original: str, folded: str) -> Iterator[tuple[int, Fact]]:
    for match in _STATUS_RE.finditer(folded):
        status, inherent = STATUSES[match.group(1)]
        mood = _mood(folded, match.start(), match.end())
        mood = inherent if mood == "yes" and inherent else mood
        yield match.start(), Fact("status", match.group(0), (f"{status}:{mood}",))
    for match in _STOCK_RE.finditer(folded):
        stock = STOCK[match.group(1)]
        if stock == "in_stock" and _mood(folded, match.start(), match.end()) == "no":
            stock = "out_of_stock"
        yield match.start(), Fact("stock", match.group(0), (stock,))
    for name in CARRIERS:
        for match in re.finditer(rf"\b{re.escape(name)}\b", original):
            yield match.start(), Fact("carrier", name, (name.lower(),))
    idioms = [m.span() for m in _NOT_A_PROMISE.finditer(folded)]
    for match in _PROMISE_RE.finditer(folded):
        if any(start <= match.start() < end for start, end in idioms):
            continue
        yield match.start(), Fact("promise", match.group(0), (PROMISES[match.group(1)],))


def facts_in(text: str) -> FactSet:
    """The checkable facts ``text`` states (kinds in the module doc)."""
    folded = fold(text)
    found: list[tuple[int, Fact]] = list(_words_facts(text, folded))
    remaining = folded
    for kind, pattern in _PATTERNS:
        for match in list(pattern.finditer(remaining)):
            span_text = text[match.start() : match.end()]
            for fact in _read(kind, match):
                found.append((match.start(), Fact(fact.kind, span_text, fact.values, fact.numbers)))
            remaining = _blank(remaining, match.start(), match.end())
    found.sort(key=lambda item: item[0])
    return FactSet(tuple(fact for _, fact in found))


def _supported(fact: Fact, grounding: FactSet) -> bool:
    if fact.kind == "number":
        return any(v in grounding.numbers for v in fact.values)
    if fact.kind == "order_number":
        return any(
            v in grounding.values("order_number") or v in grounding.numbers for v in fact.values
        )
    if fact.kind == "date":
        known = grounding.values("date")
        return any(
            v in known or (v.endswith("-?") and any(k.startswith(v[:-1]) for k in known))
            for v in fact.values
        )
    return any(v in grounding.values(fact.kind) for v in fact.values)


def _describe(fact: Fact) -> str:
    return f"{fact.kind} {redact_text(fact.text)!r}"


def unsupported_facts(draft: str, grounding: str | FactSet) -> list[str]:
    """What ``draft`` states that ``grounding`` does not, as ``"kind 'text'"`` (emails and
    phone numbers masked), in reading order; empty when every fact of the draft is grounded."""
    known = grounding if isinstance(grounding, FactSet) else facts_in(grounding)
    return [_describe(f) for f in facts_in(draft).facts if not _supported(f, known)]


_REQUIRED_KINDS = ("order_number", "tracking_number", "money")


def missing_facts(draft: str, grounding: str | FactSet) -> list[str]:
    """The order numbers, tracking numbers and prices of ``grounding`` that ``draft`` leaves out.

    Leaving these out changes what the customer learns (which order, how to track it, what it
    costs); dates and statuses may be left out of a shorter answer, but never changed.
    """
    known = grounding if isinstance(grounding, FactSet) else facts_in(grounding)
    said = facts_in(draft)
    said_numbers = said.numbers | said.values("order_number")
    missing = []
    for fact in known.facts:
        if fact.kind not in _REQUIRED_KINDS:
            continue
        if fact.kind == "order_number":
            present = any(v in said_numbers for v in fact.values)
        else:
            present = any(v in said.values(fact.kind) for v in fact.values)
        if not present:
            missing.append(_describe(fact))
    return list(dict.fromkeys(missing))
