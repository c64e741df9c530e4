"""Help-article retrieval for technical questions: Okapi BM25 over the shop's articles.

Each article is one document made of weighted fields (title and keywords count more than the
summary and steps). Queries are lower-cased, stop words dropped, words reduced to a rough stem,
and a few everyday paraphrases ("connect" for "pair") are added with a lower weight.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.shop import HelpArticle

__all__ = ["ArticleIndex", "tokenize"]

K1 = 1.5
B = 0.75
_TITLE_WEIGHT = 3.0
_KEYWORD_WEIGHT = 3.0
_SUMMARY_WEIGHT = 1.5
_STEP_WEIGHT = 0.5

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    """a about after again all am an and any are as at be been before being but by can cannot
    could did do does doesn don dont for from get got had has have having help how i i'm if im in
    into is isn it its just me my myself no not now of on once or our out please so some still
    than that the their them then there these they this those to too up us very was wasn we were
    what whats when where which while who why will with won wont would you your t s ve ll d m re
    hi hello hey thanks thank anyone tried trying try want need like know tell""".split()
)
# Everyday words for what articles call something else; added to a query at lower weight.
_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "connect": ("pair", "bluetooth"),
    "disconnect": ("pair", "bluetooth"),
    "pair": ("connect", "bluetooth"),
    "link": ("pair", "connect"),
    "forgot": ("reset", "password"),
    "forget": ("reset", "password"),
    "login": ("sign", "password", "account"),
    "log": ("sign", "password", "account"),
    "sign": ("login", "account"),
    "charge": ("battery", "power"),
    "power": ("charge", "battery"),
    "sync": ("app",),
    "restore": ("reset", "factory"),
    "reboot": ("restart", "reset"),
    "restart": ("reset",),
    "wipe": ("reset", "factory"),
    "sound": ("audio", "volume"),
    "audio": ("sound",),
}
_PARAPHRASE_WEIGHT = 0.5
# Words any complaint may contain: they rank articles but are no evidence that one fits, so
# "something is wrong with my device" gets a question back rather than a random article.
_GENERIC = frozenset(
    """wrong problem problems issue issues device devices thing things something anything
    work works working worked look looks good bad high low new old fix broken help properly
    right left time times""".split()
)
# The things a shop's articles are about: naming one is no evidence of which problem it has,
# and an article that never mentions the thing the customer named is about something else.
_SUBJECTS = frozenset(
    """speaker speakers headphone headphones earbud earbuds watch watches tracker trackers
    phone phones laptop stand backpack app account""".split()
)


def _stem(word: str) -> str:
    """A deliberately rough stem: enough to meet "charging", "charger" and "charges" at "charg"."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    elif word.endswith("er") and len(word) > 5:
        word = word[:-2]
    elif word.endswith(("ches", "shes", "sses", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def _undouble(word: str) -> str:
    """ "resett" -> "reset", "stopp" -> "stop"; keeps "ll"/"ss" endings ("install")."""
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order (stop words and apostrophes dropped)."""
    words = _WORD.findall(text.lower().replace("'", "").replace("\u2019", ""))
    return [_stem(w) for w in words if w not in _STOPWORDS]


# Stemmed once, so the table above can be written in plain words.
_STEMMED_PARAPHRASES = {
    _stem(word): tuple(_stem(extra) for extra in extras) for word, extras in _PARAPHRASES.items()
}


_GENERIC_STEMS = frozenset(_stem(word) for word in _GENERIC)
_SUBJECT_STEMS = frozenset(_stem(word) for word in _SUBJECTS)


@dataclass(frozen=True, slots=True)
class _Scored:
    doc: int
    article: HelpArticle
    relevance: float
    score: float


class ArticleIndex:
    """Ranks help articles for a question with Okapi BM25 (k1=1.5, b=0.75).

    ``product_boost`` multiplies the score of articles for the product the conversation is
    about, ``other_product_factor`` the score of articles for a different product (general
    articles keep theirs). An article is an answer only if its unboosted score reaches
    ``min_score``, so a boost cannot make an unrelated article relevant.
    """

    def __init__(
        self,
        articles: Sequence[HelpArticle],
        *,
        min_score: float = 1.5,
        product_boost: float = 1.5,
        other_product_factor: float = 0.7,
        subjects: Iterable[str] = (),
    ) -> None:
        self._articles = tuple(articles)
        # The shop's own kinds of thing (from its catalog) join the built-in ones.
        self._subjects = _SUBJECT_STEMS | {_stem(w) for w in tokenize(" ".join(subjects))}
        self._min_score = min_score
        self._product_boost = product_boost
        self._other_product_factor = other_product_factor
        weights = [_term_weights(article) for article in self._articles]
        self._doc_terms = [frozenset(w) for w in weights]
        self._strong = [
            frozenset(tokenize(f"{a.title} {' '.join(a.keywords)}")) for a in self._articles
        ]
        lengths = [sum(w.values()) for w in weights]
        average = (sum(lengths) / len(lengths)) if lengths else 0.0
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for doc, terms in enumerate(weights):
            norm = K1 * (1 - B + B * lengths[doc] / average) if average else K1
            for term, tf in terms.items():
                # The document-side BM25 factor is fixed per (term, doc), so compute it once.
                self._postings[term].append((doc, tf * (K1 + 1) / (tf + norm)))
        n = len(self._articles)
        self._idf = {
            term: math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self._postings.items()
        }

    async def best(self, query: str, product_sku: str | None = None) -> HelpArticle | None:
        """The most relevant article for ``query``, or ``None`` when nothing is relevant enough."""
        terms = _query_terms(query)
        own = set(terms)
        for scored in self._scored(terms, product_sku):
            if scored.relevance >= self._min_score and self._has_evidence(scored.doc, own):
                return scored.article
        return None

    def _has_evidence(self, doc: int, own: set[str]) -> bool:
        """Whether the customer's words (or their paraphrases) really point at article ``doc``:
        two distinct specific words it contains, or one in its title or keywords; and no named
        thing (speaker, watch) that the article never mentions."""
        terms = self._doc_terms[doc]
        if own & self._subjects - terms:
            return False
        specific = own & terms - _GENERIC_STEMS - self._subjects
        return len(specific) >= 2 or bool(specific & self._strong[doc])

    def rank(self, query: str, product_sku: str | None = None) -> list[tuple[HelpArticle, float]]:
        """Every article sharing a word with ``query``, best first, with its (boosted) score."""
        return [(s.article, s.score) for s in self._scored(_query_terms(query), product_sku)]

    def _scored(self, terms: dict[str, float], product_sku: str | None) -> list[_Scored]:
        relevance: dict[int, float] = defaultdict(float)
        for term, weight in terms.items():
            idf = self._idf.get(term)
            if idf is None:
                continue
            for doc, factor in self._postings[term]:
                relevance[doc] += weight * idf * factor
        scored = [
            _Scored(doc, self._articles[doc], value, value * self._factor(doc, product_sku))
            for doc, value in relevance.items()
        ]
        scored.sort(key=lambda s: (-s.score, s.article.id))
        return scored

    def _factor(self, doc: int, product_sku: str | None) -> float:
        article_sku = self._articles[doc].product_sku
        if product_sku is None or article_sku is None:
            return 1.0
        return self._product_boost if article_sku == product_sku else self._other_product_factor


def _term_weights(article: HelpArticle) -> dict[str, float]:
    """Field-weighted term frequencies of one article (BM25F-style)."""
    counts: dict[str, float] = defaultdict(float)
    fields: Iterable[tuple[str, float]] = (
        (article.title, _TITLE_WEIGHT),
        (" ".join(article.keywords), _KEYWORD_WEIGHT),
        (article.summary, _SUMMARY_WEIGHT),
        *((step, _STEP_WEIGHT) for step in article.steps),
    )
    for text, weight in fields:
        for term in tokenize(text):
            counts[term] += weight
    return counts


def _query_terms(query: str) -> dict[str, float]:
    """Each query term with its weight: 1 for the user's own words, less for paraphrases."""
    terms: dict[str, float] = {}
    for term in tokenize(query[:2000]):
        terms[term] = 1.0
    for term in list(terms):
        for extra in _STEMMED_PARAPHRASES.get(term, ()):
            terms.setdefault(extra, _PARAPHRASE_WEIGHT)
    return terms
