"""The benchmark's message corpus: many short conversations, generated from our own templates.

Every message is built here from templates x catalog products x order numbers x emails, with
typos injected by a seeded RNG, so the same seed always gives the same corpus and nothing
third-party is copied into the project. Conversations cover every intent and the multi-turn
flows of the issue: order status with email verification (right and wrong email), product
questions, returns, technical support, greetings, handoff requests, and gibberish that walks
the clarify loop into a handoff.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from crm_adapters.demo import DEMO_ORDER_NUMBERS, demo_orders, demo_products

__all__ = ["Conversation", "ShopFacts", "add_typos", "build_corpus", "flatten", "shop_facts"]

# Adjacent keys on a QWERTY keyboard: a substitution typo mostly hits a neighbour.
_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversation:
    """One user's messages in order; ``kind`` names the flow (for reading results, not logic)."""

    kind: str
    user_id: str
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShopFacts:
    """The demo shop facts the templates draw on."""

    products: tuple[str, ...]
    skus: tuple[str, ...]
    orders: tuple[tuple[str, str], ...]
    """(order number, email of its customer)."""


def shop_facts() -> ShopFacts:
    """Product names, SKUs and (order, email) pairs of the seeded demo shop."""
    now = datetime.now(UTC)
    products = demo_products(now)
    orders = {order.number: order.customer.email for order in demo_orders(now)}
    return ShopFacts(
        products=tuple(p.name for p in products),
        skus=tuple(p.sku for p in products),
        orders=tuple((number, orders[number]) for number in DEMO_ORDER_NUMBERS),
    )


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    kind = rng.randrange(4)
    if kind == 0 and i < len(word) - 1:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1 and len(word) > 3:  # deletion
        return word[:i] + word[i + 1 :]
    if kind == 2:  # doubled letter
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower(), string.ascii_lowercase)
    return word[:i] + rng.choice(near) + word[i + 1 :]


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    """``text`` with each alphabetic word of 4+ letters misspelled with probability ``rate``.

    Numbers, emails and punctuation-bearing tokens are left alone, as users rarely mistype the
    order number they copy from an email.
    """
    if rate <= 0:
        return text
    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) >= 4 and word.isalpha() and rng.random() < rate:
            words[index] = _typo(word, rng)
    return " ".join(words)


def _gibberish(rng: random.Random) -> str:
    words = (
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
        for _ in range(rng.randint(1, 5))
    )
    return " ".join(words)


_Flow = Callable[[random.Random, ShopFacts], list[str]]


def _order_status(rng: random.Random, shop: ShopFacts) -> list[str]:
    number, email = rng.choice(shop.orders)
    opener = rng.choice(
        [
            ["where is my package", number],
            ["hi, I'd like to track my order", f"it's #{number}"],
            [f"where is my order #{number}?"],
            [f"has order {number} shipped yet"],
            [f"what's the status of order number {number} please"],
        ]
    )
    return [*opener, rng.choice([email, f"my email is {email}", f"{email.upper()}"])]


def _wrong_email(rng: random.Random, shop: ShopFacts) -> list[str]:
    number, _ = rng.choice(shop.orders)
    stranger = f"{rng.choice(['sam', 'lee', 'kim', 'max'])}{rng.randint(1, 999)}@example.org"
    unknown = str(rng.randint(2000, 99999))
    target = rng.choice([number, unknown])
    return [f"track order {target}", stranger, f"I meant order {number}", stranger]


def _product(rng: random.Random, shop: ShopFacts) -> list[str]:
    name = rng.choice(shop.products)
    short = name.split()[0]
    question = rng.choice(
        [
            f"how much is the {name}?",
            f"is the {name} in stock",
            f"tell me about the {short}",
            f"what features does the {name} have",
            f"do you still sell the {short} {name.split()[-1].lower()}",
            "I have a question about one of your products",
        ]
    )
    follow = rng.choice(["", "is it in stock?", f"and the {rng.choice(shop.products)}?"])
    return [question, follow] if follow else [question]


def _returns(rng: random.Random, shop: ShopFacts) -> list[str]:
    number, email = rng.choice(shop.orders)
    return rng.choice(
        [
            ["what is your return policy"],
            ["how do I send something back for a refund?"],
            [f"can I return order {number}?", email],
            [f"I want to return the {rng.choice(shop.products)}, how does that work"],
            ["how long do refunds take"],
        ]
    )


def _tech(rng: random.Random, shop: ShopFacts) -> list[str]:
    name = rng.choice(shop.products)
    return [
        rng.choice(
            [
                f"my {name} won't pair over bluetooth",
                f"the {name} is not charging",
                "how do I reset my account password",
                f"I can't get the {name.split()[0]} to sync with my phone",
                f"my {name.lower()} keeps turning off, what should I do",
                "the speaker makes no sound after the update",
            ]
        )
    ]


def _small_talk(rng: random.Random, shop: ShopFacts) -> list[str]:
    return rng.choice(
        [
            ["hello", "thanks, bye"],
            ["good morning!", "I'd like to speak to a real person"],
            ["hey there", "can I talk to a human agent please"],
            ["thank you, that's all", "goodbye"],
        ]
    )


def _gibberish_flow(rng: random.Random, shop: ShopFacts) -> list[str]:
    off_topic = [
        "tell me a joke",
        "what's the weather in Lisbon tomorrow",
        "who won the match yesterday",
        "how do I cook rice",
    ]
    # Three misunderstood messages in a row: clarify, clarify again, then hand off.
    return [rng.choice([_gibberish(rng), rng.choice(off_topic)]) for _ in range(3)]


def _long_message(rng: random.Random, shop: ShopFacts) -> list[str]:
    number, email = rng.choice(shop.orders)
    name = rng.choice(shop.products)
    story = (
        f"Hello, I ordered the {name} a while ago and I have been waiting patiently for it, "
        f"but nothing has arrived and the tracking page does not load on my computer. "
        f"Could you please check what is happening with order {number}? I would really "
        f"appreciate a quick answer because it is a birthday present."
    )
    return [story, email]


# Weights roughly follow what a shop's support inbox sees: mostly order questions.
_FLOWS: tuple[tuple[str, _Flow, int], ...] = (
    ("order_status", _order_status, 30),
    ("wrong_email", _wrong_email, 6),
    ("product_info", _product, 20),
    ("return_policy", _returns, 14),
    ("tech_support", _tech, 12),
    ("small_talk", _small_talk, 8),
    ("gibberish", _gibberish_flow, 6),
    ("long_message", _long_message, 4),
)


def build_corpus(
    conversations: int, *, seed: int = 20240601, user_prefix: str = "bench"
) -> tuple[Conversation, ...]:
    """``conversations`` conversations, each from its own user, reproducible from ``seed``."""
    rng = random.Random(seed)
    shop = shop_facts()
    kinds = list(_FLOWS)
    weights = [weight for _, _, weight in _FLOWS]
    result: list[Conversation] = []
    for index in range(conversations):
        kind, flow, _ = rng.choices(kinds, weights)[0]
        rate = rng.choice((0.0, 0.0, 0.1, 0.2, 0.35))
        messages = tuple(add_typos(text, rng, rate) for text in flow(rng, shop))
        result.append(Conversation(kind, f"{user_prefix}-{seed}-{index}", messages))
    return tuple(result)


def flatten(corpus: Iterable[Conversation]) -> list[str]:
    """Every message of every conversation, in order."""
    return [text for conversation in corpus for text in conversation.messages]
