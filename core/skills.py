"""What the bot does for each intent, once the dialogue policy has chosen it.

Each skill reads facts through the shop backend (orders only through the :class:`Verifier`)
and answers with a template filled from those facts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from core.answers import (
    describe_article,
    describe_order,
    describe_order_for_staff,
    describe_policy,
    describe_product,
    describe_return,
    list_products,
)
from core.ports import ArticleSearch, ShopBackend
from core.responses import Responses
from core.session import DialogueState, Session
from core.shop import Order
from core.types import Attributes, Identity, Outcome, Reply
from core.verification import Access, Verifier

__all__ = ["Request", "Skills", "Turn"]


@dataclass(frozen=True, slots=True)
class Request:
    """One turn's input to a skill: the session after slot merging and this message's facts."""

    session: Session
    text: str
    found: Attributes
    identity: Identity | None
    now: datetime
    continued: bool = False  # the message answered the bot's question rather than asking anew


@dataclass(frozen=True, slots=True)
class Turn:
    """A skill's answer: the session to store and what the user sees."""

    session: Session
    replies: tuple[Reply, ...]
    outcome: Outcome
    handoff_reason: str | None = None
    intent: str | None = None  # the intent served, for metrics
    article_title: str | None = None  # the help article a technical answer is grounded on

    @property
    def state(self) -> DialogueState:
        return self.session.state


Skill = Callable[[Request], Awaitable[Turn]]

# "How much is it?" refers back to the product discussed; "what do you sell?" does not.
_REFERS_BACK = re.compile(r"\b(it|its|it's|this|that|this one|that one|them|they)\b", re.I)


def _refers_back_to_order(request: Request) -> bool:
    """ "Can I return it?" right after a verified order's answer is about that order."""
    return request.session.verified_customer is not None and bool(_REFERS_BACK.search(request.text))


def _product_in_context(request: Request) -> str | None:
    """The product from earlier in the conversation, when this message refers back to it.

    An answer to "which product?" that names nothing we sell is not about the earlier product.
    """
    session = request.session
    if session.awaiting != "product" and _REFERS_BACK.search(request.text):
        return session.slots.product
    return None


class Skills:
    """The intent handlers, sharing the shop, the verifier, article search and the templates."""

    def __init__(
        self,
        *,
        shop: ShopBackend,
        verifier: Verifier,
        articles: ArticleSearch,
        responses: Responses,
    ) -> None:
        self._shop = shop
        self._verifier = verifier
        self._articles = articles
        self.responses = responses
        self._skills: dict[str, Skill] = {
            "order_status": self.order_status,
            "return_policy": self.return_policy,
            "product_info": self.product_info,
            "tech_support": self.tech_support,
            "greeting": self.greeting,
            "goodbye": self.goodbye,
            "human_agent": self.human_agent,
        }

    async def run(self, intent: str, request: Request) -> Turn:
        """Serve ``intent``: its skill, else the shop's fixed answer, else a human."""
        skill = self._skills.get(intent)
        if skill is None:
            answer = self.responses.answers.get(intent)
            if answer is not None:
                return replace(self.answered(request.session, answer), intent=intent)
            return self.handoff(request.session, reason=f"no_skill:{intent}")
        turn = await skill(replace(request, session=replace(request.session, intent=intent)))
        return replace(turn, intent=intent)

    # -- replies shared by several skills -------------------------------------------------
    def say(self, session: Session, template: str, outcome: Outcome, **facts: object) -> Turn:
        text = self.responses.render(template, **facts)
        return Turn(session, (Reply(text),), outcome)

    def answered(self, session: Session, text: str) -> Turn:
        done = replace(session, state=DialogueState.ANSWERED, intent=None, awaiting=None)
        return Turn(done, (Reply(text),), Outcome.ANSWERED)

    def ask(self, session: Session, slot: str, template: str, **facts: object) -> Turn:
        waiting = replace(session, state=DialogueState.AWAITING_INPUT, awaiting=slot)
        return self.say(waiting, template, Outcome.AWAITING_INPUT, **facts)

    def with_topics(self, session: Session, template: str, outcome: Outcome) -> Turn:
        reply = Reply(self.responses.render(template), self.responses.topic_labels)
        return Turn(session, (reply,), outcome)

    def handoff(self, session: Session, *, reason: str) -> Turn:
        handed = replace(session, state=DialogueState.HANDOFF, intent=None, awaiting=None)
        turn = self.say(handed, "handoff", Outcome.HANDOFF)
        return replace(turn, handoff_reason=reason)

    # -- intents ------------------------------------------------------------------------------
    async def greeting(self, request: Request) -> Turn:
        done = replace(request.session, state=DialogueState.ANSWERED, intent=None, awaiting=None)
        return self.with_topics(done, "greeting", Outcome.ANSWERED)

    async def goodbye(self, request: Request) -> Turn:
        session = replace(request.session, slots=Attributes())
        return self.answered(session, self.responses.render("goodbye"))

    async def human_agent(self, request: Request) -> Turn:
        if request.session.state is DialogueState.HANDOFF:
            return self.say(request.session, "handoff_pending", Outcome.HANDOFF)
        return self.handoff(request.session, reason="requested")

    async def order_status(self, request: Request) -> Turn:
        today = request.now.date()
        return await self._with_order(
            request,
            lambda order: describe_order(order, today, self.responses),
            for_staff=lambda order: describe_order_for_staff(order, today, self.responses),
        )

    async def return_policy(self, request: Request) -> Turn:
        session = request.session
        # A fresh return question is about an order only if it names one; an answer to the
        # bot's "which order?" / "which email?" continues the order's return question.
        about_order = request.found.order_number is not None or (
            session.slots.order_number is not None
            and (request.continued or _refers_back_to_order(request))
        )
        policy = await self._shop.get_return_policy()
        if not about_order:
            return self.answered(session, describe_policy(policy, self.responses))
        return await self._with_order(
            request,
            lambda order: describe_return(order, policy, request.now.date(), self.responses),
        )

    async def product_info(self, request: Request) -> Turn:
        sku = request.found.product or _product_in_context(request)
        product = await self._shop.get_product(sku) if sku else None
        if product is None:
            products = await self._shop.list_products()
            waiting = replace(
                request.session, state=DialogueState.AWAITING_INPUT, awaiting="product"
            )
            reply = Reply(list_products(products, self.responses))
            return Turn(waiting, (reply,), Outcome.AWAITING_INPUT)
        return self.answered(request.session, describe_product(product, self.responses))

    async def tech_support(self, request: Request) -> Turn:
        session = request.session
        sku = request.found.product or session.slots.product
        article = await self._articles.best(request.text, sku)
        if article is not None:
            turn = self.answered(session, describe_article(article, self.responses))
            # The article asks "did that solve it?": a "no" next hands over to a person.
            return replace(
                turn,
                session=replace(turn.session, awaiting="feedback"),
                article_title=article.title,
            )
        if session.awaiting == "problem" or request.found.product is not None:
            # We know what it is about and have no guide for it: a person can help.
            return self.handoff(session, reason="no_article")
        return self.ask(session, "problem", "ask_problem")

    async def _with_order(
        self,
        request: Request,
        describe: Callable[[Order], str],
        *,
        for_staff: Callable[[Order], str] | None = None,
    ) -> Turn:
        """Run the verification dialogue for the order in the slots, then ``describe`` it
        (``for_staff`` when the shop's staff asks, if given)."""
        session = request.session
        number = session.slots.order_number
        if number is None:
            return self.ask(session, "order_number", "ask_order_number")
        result = await self._verifier.open_order(
            session,
            number,
            email=session.slots.email,
            identity=request.identity,
            now=request.now,
        )
        if result.access is Access.NEED_EMAIL:
            return self.ask(result.session, "email", "ask_email", order_number=number)
        # The email and phone served this check; they are not kept in the session.
        session = replace(
            result.session, slots=replace(result.session.slots, email=None, phone=None)
        )
        if result.access is Access.GRANTED and result.order is not None:
            return self.answered(session, describe(result.order))
        if result.access is Access.STAFF and result.order is not None:
            return self.answered(session, (for_staff or describe)(result.order))
        if result.access is Access.DENIED:
            return self.ask(session, "email", "verification_failed", order_number=number)
        forget = replace(session, slots=replace(session.slots, order_number=None))
        if result.access is Access.NOT_FOUND:
            text = self.responses.render("order_not_found_staff", order_number=number)
            return self.answered(forget, text)
        if result.access is Access.NOT_LINKED:
            text = self.responses.render("order_not_linked", order_number=number)
            return self.answered(forget, text)
        seconds = result.retry_after.total_seconds() if result.retry_after else 0
        minutes = max(1, math.ceil(seconds / 60))
        text = self.responses.render("verification_locked", minutes=minutes, order_number=number)
        return self.answered(forget, text)
