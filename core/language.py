"""Which language a customer writes: a cheap heuristic, no model.

The spelling corrector leaves other languages alone (it would turn Spanish "pedido" into
English "perdido"), and the model phrases answers for customers writing another language.
"""

from __future__ import annotations

import re

__all__ = ["is_english", "reads_english"]

_ENGLISH = frozenset(
    "a an the is are was were be been am i you he she it we they my your our their me us him "
    "her them this that these those what where when why how who which whose can could would "
    "should will shall do does did have has had not no yes to of in on at for with from by and "
    "or but if so about please thanks thank hi hello hey there here get got want need still "
    "order orders my help any just it's i'm don't can't doesn't didn't isn't".split()
)
_FOREIGN = frozenset(
    # Spanish, French, German, Italian, Portuguese, Dutch function words and greetings.
    "el la los las un una unos del al que qué es está están mi mis tu su sus por para con "
    "dónde donde cuándo cuando cómo como hola gracias pedido quiero puedo tengo y o pero no "
    "le les des du et est je tu il nous vous mon ma mes votre où quand comment bonjour merci "
    "commande suis pas une ce cette der die das ein eine ist ich sie wir mein meine wo wann "
    "wie hallo danke bestellung nicht und oder il lo gli di è dove quando come ciao grazie "
    "ordine sono mio mia o da em um uma não onde quando obrigado olá encomenda meu minha é "
    "de het een ik mijn waar hoe bedankt bestelling".split()
)
_NON_ENGLISH_MARKS = re.compile(
    r"[¿¡ñãõçßæøåœ]|[^\x00-\x7f\u2000-\u206f\u00a0-\u00bf\u00d7\u2013\u2014\u2018\u2019\u201c\u201d\u20ac\u00a3]"
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def is_english(text: str) -> bool:
    """Whether ``text`` reads as English (or is too short to tell, which counts as English).

    A cheap heuristic, no model: letters outside English (``ñ``, ``¿``, ``é``, Cyrillic, CJK…)
    or more known foreign function words than English ones make it foreign. Emails, numbers
    and order references carry no language: "1003" or "bob@example.com" count as English.
    """
    return reads_english(text) is not False


def reads_english(text: str) -> bool | None:
    """Whether ``text`` reads as English: ``None`` when it carries no language at all (an
    order number, an email address)."""
    text = re.sub(r"\S+@\S+|https?://\S+|#?\d+", " ", text)
    tokens = [w.lower() for w in _WORD.findall(text)]
    if not tokens:
        return None
    english = sum(t in _ENGLISH for t in tokens)
    foreign = sum(t in _FOREIGN and t not in _ENGLISH for t in tokens)
    if _NON_ENGLISH_MARKS.search(text) and english * 3 < len(tokens):
        return False
    return foreign <= english
