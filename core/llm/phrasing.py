"""Grounded replies: the model rewrites the template answer for the customer, a fact check
keeps it honest.

The skills build every answer from the shop's records (``core.answers``); :class:`ModelPhraser`
asks the model to say the same thing in a friendlier way and in the customer's language, then
compares the facts of the draft with those of the template (:mod:`core.llm.facts`). A draft
that adds, changes or leaves out a fact that matters, or that is far longer than the answer, is
dropped and the template replies are sent unchanged; so is the answer whenever the model fails.
The customer never sees an error, and never a fact the shop's records do not hold.

:func:`should_phrase` is the policy of *when* to pay for a model call.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Literal, Protocol

from core.errors import LLMError
from core.language import reads_english
from core.llm.client import LLMClient, outcome_of
from core.llm.facts import facts_in, missing_facts, unsupported_facts
from core.llm.prompts import as_data, data_rule, mask_personal
from core.llm.types import ChatMessage
from core.ports import Phrased, PhrasingRequest
from core.types import ModelCall, Reply

__all__ = [
    "FallbackCounter",
    "ModelPhraser",
    "PhrasingMode",
    "check_draft",
    "should_phrase",
]

log = logging.getLogger(__name__)

PhrasingMode = Literal["off", "articles_and_other_languages", "all"]
"""When replies are phrased by the model (see :func:`should_phrase`)."""

PURPOSE = "phrase"

SYSTEM_PROMPT = (
    "You are the online shop's customer-support assistant. Rewrite the shop's ANSWER (the "
    "<answer> block) for the customer: friendly, concise, in the language of the customer's "
    "last message (the <customer_message> block). State only facts that are in the ANSWER. "
    "Never add, change or leave out order numbers, statuses, dates, prices, quantities, "
    "tracking numbers or stock; copy numbers, tracking numbers, prices and product names "
    "exactly as written. Do not add greetings with time words (today, tomorrow), links, "
    "e-mail addresses, phone numbers or promises. If the ANSWER is a guide with numbered steps, "
    "keep every step, numbered, in the same order. If an <article_title> is given, say which "
    "guide it is by quoting that title exactly. Use the <conversation> only to understand the "
    "context. Answer with the reply text only. "
    + data_rule("customer_message", "conversation", "answer", "article_title")
)


class FallbackCounter(Protocol):
    """Counts the times a stage fell back (``core.metrics.Metrics`` implements it)."""

    def count_fallback(self, stage: str) -> None: ...


# --- when to phrase ---------------------------------------------------------------------------


def should_phrase(request: PhrasingRequest, mode: PhrasingMode) -> bool:
    """Whether the engine should ask the model to phrase this answer.

    ``"off"``: never. ``"all"``: every answer with text. ``"articles_and_other_languages"``
    (the default): technical-support answers grounded on a help article, and answers to a
    customer whose last message is not in English. The templates are already good English, so
    a model call there buys little; an article's steps read better adapted to the question, and
    a customer writing Spanish is far better served in Spanish. This keeps the model calls of a
    typical conversation well under 0.35 per message (most messages are English order, product
    and return questions), and so the cost and the 0.5–1 s a call adds. The price: English
    order and policy answers keep the template wording.
    """
    if mode == "off" or not any(reply.text.strip() for reply in request.replies):
        return False
    if mode == "all":
        return True
    return request.article_title is not None or not _customer_writes_english(request)


def _customer_writes_english(request: PhrasingRequest) -> bool:
    """The language of the customer's message, or — when it carries none ("1003", an email
    address) — of their latest message in the conversation that does."""
    earlier = [text for role, text in reversed(request.history) if role == "user"]
    for text in (request.user_text, *earlier):
        verdict = reads_english(text)
        if verdict is not None:
            return verdict
    return True


# --- the phraser ------------------------------------------------------------------------------


class ModelPhraser:
    """The :class:`~core.ports.ReplyPhraser` backed by a language model (one ``text`` call).

    ``deadline_seconds`` bounds the whole call (retries included); ``history_turns`` is how many
    of the latest conversation messages go into the prompt; ``fallbacks`` (e.g. the metrics)
    counts ``phrase_rejected`` (the fact check refused the draft) and ``phrase_failed`` (the
    model call failed). Never raises for a model failure.
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        deadline_seconds: float,
        history_turns: int = 6,
        fallbacks: FallbackCounter | None = None,
    ) -> None:
        self._client = client
        self._deadline = deadline_seconds
        self._history_turns = history_turns
        self._fallbacks = fallbacks

    async def phrase(self, request: PhrasingRequest) -> Phrased:
        """The answer phrased by the model, or the template replies when the model fails or
        its draft does not pass the fact check (``used_model`` says which)."""
        answer = "\n\n".join(reply.text for reply in request.replies if reply.text.strip())
        if not answer:
            return Phrased(replies=request.replies)
        started = time.perf_counter()
        try:
            response = await self._client.text(
                purpose=PURPOSE,
                system=SYSTEM_PROMPT,
                messages=[ChatMessage("user", self._prompt(request, answer))],
                deadline_seconds=self._deadline,
            )
        except LLMError as error:
            call = self._call(outcome_of(error), started)
            log.info("phrasing fell back to the template: model call failed (%s)", call.outcome)
            self._count("phrase_failed")
            return Phrased(replies=request.replies, model_calls=(call,))
        call = ModelCall(
            purpose=PURPOSE,
            model=response.model,
            tokens_in=response.tokens_in,
            tokens_out=response.tokens_out,
            latency_ms=response.latency_seconds * 1000,
            outcome="ok",
        )
        draft, problem = check_draft(response.content, answer, request.article_title)
        if response.finish_reason == "length":
            # Cut off at max_tokens: the end of the answer (an article's last steps) is missing.
            problem = "the draft was cut off at the token limit"
        if problem is not None:
            log.info("phrasing fell back to the template: %s", problem)
            self._count("phrase_rejected")
            rejected = ModelCall(
                call.purpose,
                call.model,
                call.tokens_in,
                call.tokens_out,
                call.latency_ms,
                "rejected",
            )
            return Phrased(replies=request.replies, model_calls=(rejected,))
        quick_replies = request.replies[-1].quick_replies
        return Phrased(replies=(Reply(draft, quick_replies),), model_calls=(call,), used_model=True)

    def _prompt(self, request: PhrasingRequest, answer: str) -> str:
        history = [
            (role, text)
            for role, text in request.history
            if role in ("user", "assistant") and text.strip()
        ]
        if history and history[-1] == ("user", request.user_text):
            history = history[:-1]  # the current message is given on its own
        recent = history[-self._history_turns :] if self._history_turns > 0 else []
        lines = [
            f"{'customer' if role == 'user' else 'assistant'}: {mask_personal(text)}"
            for role, text in recent
        ]
        parts = ["Rewrite the ANSWER for the customer, following the rules."]
        if lines:
            parts.append(as_data("conversation", "\n".join(lines)))
        parts.append(as_data("customer_message", mask_personal(request.user_text)))
        parts.append(as_data("answer", answer))
        if request.article_title:
            parts.append(as_data("article_title", request.article_title))
        return "\n\n".join(parts)

    def _call(self, outcome: str, started: float) -> ModelCall:
        latency_ms = (time.perf_counter() - started) * 1000
        return ModelCall(PURPOSE, self._client.model, 0, 0, latency_ms, outcome)

    def _count(self, stage: str) -> None:
        if self._fallbacks is not None:
            self._fallbacks.count_fallback(stage)


def _normalised(text: str) -> str:
    text = re.sub("[\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e]", "", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


# A numbered step: "2. Hold the power button…" at a line start in the answer; anywhere after a
# space or line start in a draft (a model may run the steps together, or write "2)").
_ANSWER_STEP = re.compile(r"^\s*(\d{1,2})[.)]\s", re.MULTILINE)
_DRAFT_STEP = re.compile(r"(?:^|\s)(\d{1,2})[.)]\s", re.MULTILINE)


def _step_numbers(text: str, pattern: re.Pattern[str]) -> frozenset[int]:
    return frozenset(int(number) for number in pattern.findall(text))


def check_draft(draft: str, answer: str, article_title: str | None) -> tuple[str, str | None]:
    """The draft to send and ``None``, or the reason (fact kinds only, no personal data) it
    must not be sent.

    Refused: a draft longer than twice the answer plus 200 characters; one stating a fact the
    answer and article title do not (:func:`~core.llm.facts.unsupported_facts`); one leaving out
    an order number, tracking number or price of the answer
    (:func:`~core.llm.facts.missing_facts`); one leaving out a numbered step of a guide (what
    a step says, "hold the power button", is words the fact check does not read, so a dropped
    step would go unnoticed otherwise). A technical answer that does not quote its article
    title gets ``(From our guide "<title>".)`` appended rather than being refused: the steps are
    right, and the customer still learns which guide they came from.
    """
    draft = draft.strip()
    if len(draft) > 2 * len(answer) + 200:
        return draft, f"the draft is too long ({len(draft)} characters for {len(answer)})"
    grounding = facts_in(answer + ("\n" + article_title if article_title else ""))
    unsupported = unsupported_facts(draft, grounding)
    if unsupported:
        kinds = sorted({fact.split(" ", 1)[0] for fact in unsupported})
        return draft, f"the draft states unsupported facts ({', '.join(kinds)})"
    missing = missing_facts(draft, grounding)
    if missing:
        kinds = sorted({fact.split(" ", 1)[0] for fact in missing})
        return draft, f"the draft leaves out facts ({', '.join(kinds)})"
    steps = _step_numbers(answer, _ANSWER_STEP)
    if len(steps) > 1 and not steps <= _step_numbers(draft, _DRAFT_STEP):
        return draft, "the draft leaves out steps of the guide"
    if article_title and _normalised(article_title) not in _normalised(draft):
        draft = f'{draft}\n(From our guide "{article_title}".)'
    return draft, None
