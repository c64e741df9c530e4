"""The shop's own words, which spelling correction must know and never change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from core.shop import HelpArticle, Product

__all__ = ["domain_vocabulary"]


def domain_vocabulary(
    products: Sequence[Product],
    articles: Sequence[HelpArticle],
    examples: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    """Catalog names, brands and features, help-article titles and keywords, and the words of
    the intent training examples, as phrases (the corrector splits them into words).
    """
    phrases: list[str] = []
    for product in products:
        phrases += [product.name, product.brand or "", *product.features]
    for article in articles:
        phrases += [article.title, *article.keywords]
    for texts in examples.values():
        phrases += list(texts)
    return tuple(_unique(p for p in phrases if p))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
