"""What ``shopbot learn mine | review | export`` do (``shopbot.learn_commands`` parses them and
imports this module only when one runs: it loads the model stack)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from config.settings import Settings
from core.intents import TrainingData
from core.learning.evaluation import UNKNOWN
from core.learning.export import fine_tuning_record
from core.learning.mining import Miner, MiningOptions, normalised
from core.learning.mining_run import MiningReport
from core.learning.mining_run import mine as mine_log
from core.learning.signals import Verdict
from core.learning.types import Candidate, Example
from core.llm.prompts import as_data
from core.llm.understanding import CUSTOMER_MESSAGE, understanding_system_prompt
from core.shop import Product
from core.storage import SQLConversationStore
from crm_adapters.demo import DemoShop
from shopbot.app import training_data

__all__ = ["export", "exported_lines", "mine", "review"]


@dataclass(frozen=True, slots=True)
class _Learning:
    store: SQLConversationStore
    miner: Miner
    data: TrainingData
    products: tuple[Product, ...]


@asynccontextmanager
async def _learning(settings: Settings) -> AsyncIterator[_Learning]:
    """The conversation store (started) and a miner knowing the shipped examples and catalog."""
    data = training_data(settings)
    shop = DemoShop(settings.demo_database_path)
    await shop.start()
    try:
        products = tuple(await shop.list_products())
    finally:
        await shop.stop()
    shop_words = {w for p in products for w in (*p.name.split(), *(p.brand or "").split())}
    miner = Miner(
        MiningOptions.from_settings(settings.learning),
        examples=data.intents,
        out_of_scope=data.out_of_scope,
        shop_words=shop_words,
    )
    store = SQLConversationStore(settings.database_url, echo=settings.storage.echo)
    await store.start()
    try:
        yield _Learning(store, miner, data, products)
    finally:
        await store.stop()


async def mine(settings: Settings, args: argparse.Namespace) -> int:
    async with _learning(settings) as learning:
        report = await mine_log(learning.store, learning.miner, since=args.since)
        accepted: list[Candidate] = []
        threshold = settings.learning.auto_accept_score
        if threshold is not None:
            new = [candidate.id for candidate in report.stored]
            accepted = await learning.store.accept_candidates(threshold, among=new)
    print(_summary(report, len(accepted)))
    return 0


def _summary(report: MiningReport, auto_accepted: int) -> str:
    dropped = sum(report.dropped.values())
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(report.dropped.items()))
    summary = (
        f"Read {report.conversations} conversation(s): {report.found} candidate(s) found, "
        f"{dropped} dropped" + (f" ({reasons})" if reasons else "") + f", "
        f"{len(report.stored)} stored, {auto_accepted} auto-accepted."
    )
    if report.held_back:
        summary += (
            f"\n{report.held_back} conversation(s) still going on (a customer message within "
            "learning.window_minutes) were left for the next run."
        )
    return summary


async def review(settings: Settings, args: argparse.Namespace) -> int:
    async with _learning(settings) as learning:
        if args.auto:
            threshold = settings.learning.auto_accept_score
            if threshold is None:
                print("learning.auto_accept_score is not set: nothing is accepted automatically.")
                return 0
            accepted = await learning.store.accept_candidates(threshold)
            print(f"Auto-accepted {len(accepted)} candidate(s) scoring at least {threshold}.")
            return 0
        await _review_loop(learning, sys.stdin, sys.stdout)
    return 0


async def _review_loop(learning: _Learning, source: IO[str], out: IO[str]) -> None:
    store, intents = learning.store, tuple(learning.data.intents)
    # The clearest first: a reviewer who stops early has handled the best ones.
    pending = sorted(await store.candidates("pending"), key=lambda c: (-c.score, c.id))
    if not pending:
        print("No candidates to review.", file=out)
        return
    counts = {"accepted": 0, "rejected": 0, "relabelled": 0, "skipped": 0}
    for number, candidate in enumerate(pending, 1):
        await _show(learning, candidate, number, len(pending), out)
        verdict = await _decide(store, candidate, intents, source, out)
        if verdict == "quit":
            break
        counts[verdict] += 1
    print("Reviewed: " + ", ".join(f"{n} {what}" for what, n in counts.items()), file=out)


async def _show(
    learning: _Learning, candidate: Candidate, number: int, total: int, out: IO[str]
) -> None:
    store, redact = learning.store, learning.miner.redact
    provenance = candidate.provenance
    success = await store.turn_by_id(provenance.success_turn_id)
    phrasing = "(no longer in the log)"
    if success is not None:
        phrasing = repr(redact(success.record.text))
    print(
        f"\n[{number}/{total}] {candidate.text!r}\n"
        f"  proposed intent: {candidate.intent}   score: {candidate.score:.2f}\n"
        f"  conversation {provenance.conversation_id}, failed at "
        f"{provenance.failed_at:%Y-%m-%d %H:%M:%S}, succeeded at "
        f"{provenance.succeeded_at:%Y-%m-%d %H:%M:%S}\n"
        f"  successful phrasing: {phrasing}",
        file=out,
    )


async def _decide(
    store: SQLConversationStore,
    candidate: Candidate,
    intents: Sequence[str],
    source: IO[str],
    out: IO[str],
) -> str:
    while True:
        answer = _ask("[a]ccept [r]eject [l]abel [s]kip [q]uit? ", source, out)
        if answer is None or answer.startswith("q"):
            return "quit"
        if answer.startswith("a"):
            await store.set_candidate(candidate.id, "accepted")
            return "accepted"
        if answer.startswith("r"):
            await store.set_candidate(candidate.id, "rejected")
            return "rejected"
        if answer.startswith("s"):
            return "skipped"
        if answer.startswith("l"):
            intent = _choose_intent(intents, source, out)
            if intent is None:
                return "quit"
            await store.set_candidate(candidate.id, "accepted", intent=intent)
            return "relabelled"
        print("Please answer a, r, l, s or q.", file=out)


def _choose_intent(intents: Sequence[str], source: IO[str], out: IO[str]) -> str | None:
    """An intent of the training file, or ``unknown`` (0): a message the bot should not claim
    to understand, trained as an out-of-scope example."""
    listing = "  ".join(f"{i}) {name}" for i, name in enumerate((UNKNOWN, *intents)))
    while True:
        print(listing, file=out)
        answer = _ask("intent (number or name)? ", source, out)
        if answer is None:
            return None
        if answer.isdigit() and int(answer) <= len(intents):
            return (UNKNOWN, *intents)[int(answer)]
        if answer == UNKNOWN or answer in intents:
            return answer
        print(f"No intent {answer!r}.", file=out)


def _ask(prompt: str, source: IO[str], out: IO[str]) -> str | None:
    """One answer line, lower-cased; ``None`` at the end of the input."""
    print(prompt, end="", file=out, flush=True)
    line = source.readline()
    if not line:
        print(file=out)
        return None
    return line.strip().lower()


async def export(settings: Settings, args: argparse.Namespace) -> int:
    async with _learning(settings) as learning:
        examples = await _examples(learning)
        system = understanding_system_prompt(
            {name: learning.data.descriptions.get(name, name) for name in learning.data.intents},
            learning.products,
        )
    lines = exported_lines(examples, args.format, system)
    if args.output:
        content = "".join(line + "\n" for line in lines)
        await asyncio.to_thread(Path(args.output).write_text, content, encoding="utf-8")
        print(f"Wrote {len(lines)} example(s) to {args.output}.", file=sys.stderr)
    else:
        sys.stdout.writelines(line + "\n" for line in lines)
    return 0


async def _examples(learning: _Learning) -> list[tuple[Example, str]]:
    """Accepted examples, then the logged messages the bot understood and answered, each
    text once (placeholder-redacted), with where it came from."""
    found: dict[str, tuple[Example, str]] = {}
    for example in await learning.store.accepted_examples():
        found.setdefault(normalised(example.text), (example, "accepted"))
    async for batch in learning.store.conversation_batches():
        for turns in batch:
            for signal in learning.miner.signals(turns):
                if signal.verdict is Verdict.SUCCEEDED and signal.turn.intent:
                    text = learning.miner.redact(signal.turn.text).strip()
                    example = Example(text=text, intent=signal.turn.intent)
                    found.setdefault(normalised(text), (example, "logged"))
    return list(found.values())


def exported_lines(examples: Sequence[tuple[Example, str]], fmt: str, system: str) -> list[str]:
    """JSON lines of ``examples`` (each with its source): chat fine-tuning records for
    ``openai`` (system prompt, the user text delimited as the understanding step sends it —
    placeholders replaced by stand-in values — and that step's structured answer),
    ``{"text", "intent", "source"}`` for ``jsonl``."""
    lines = []
    for example, source in examples:
        if fmt == "jsonl":
            record: dict[str, object] = {
                "text": example.text,
                "intent": example.intent,
                "source": source,
            }
        else:
            record = fine_tuning_record(
                example, system, lambda text: as_data(CUSTOMER_MESSAGE, text)
            )
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines
