"""Issue 6 benchmark 3, first half: replaying Bitext phrasings through the real engine, then the
real ``shopbot learn mine`` and ``shopbot learn train`` commands on its log.

Each replayed conversation is one customer: the Bitext phrasing, then a phrasing the shipped
model knows for the same intent (the follow-up). Two ways to choose the follow-up:

* ``canonical``: one fixed request per intent ("where is my order", ...);
* ``similar``: the shipped example of that intent closest to the Bitext phrasing
  (``TextSimilarity`` over the shipped examples) among those the shipped model recognises — a
  customer who rephrases in words close to their first try.

The commands run as ``shopbot`` runs them: parsed by ``shopbot.cli.build_parser`` and awaited
through their ``run`` function (in process, not as subprocesses), their output captured.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.learning_data import Utterance
from config.settings import Settings, load_settings
from core.intents import LocalIntentClassifier, TrainingData
from core.learning.signals import TextSimilarity
from core.types import InboundMessage, utcnow
from shopbot.app import build_runtime
from shopbot.cli import build_parser

__all__ = [
    "CANONICAL",
    "FOLLOW_UPS",
    "CommandRun",
    "MineSummary",
    "Replay",
    "loop_settings",
    "replay",
    "run_command",
]

CANONICAL: Mapping[str, str] = {
    "order_status": "where is my order",
    "return_policy": "what is your return policy",
    "human_agent": "I want to talk to a human",
    "tech_support": "I can't log in to my account",
}
"""The fixed follow-up per shop intent (``canonical``)."""

FOLLOW_UPS = ("canonical", "similar")


def loop_settings(data_dir: Path, *, auto_accept_score: float, min_similarity: float) -> Settings:
    """Default settings (no environment) on a private data directory, with the learning knobs."""
    return load_settings(
        env={},
        data_dir=data_dir,
        storage={"url": f"sqlite+aiosqlite:///{data_dir / 'shopbot.sqlite3'}"},
        crm={"demo_database": data_dir / "demo_shop.sqlite3"},
        learning={"auto_accept_score": auto_accept_score, "min_similarity": min_similarity},
    )


@dataclass(frozen=True, slots=True)
class Replay:
    """What the engine did with the replayed conversations.

    ``first`` counts how the Bitext phrasing was handled: ``right`` (its intent), ``wrong``
    (another intent), ``unknown`` (no intent); ``follow_ups_recognised`` how many follow-ups got
    the intended intent (they must, or the conversation teaches nothing).
    """

    conversations: int
    first: Mapping[str, int]
    follow_ups_recognised: int


def _follow_up(
    utterance: Utterance,
    kind: str,
    known: Mapping[str, Sequence[str]],
    similarity: TextSimilarity,
) -> str:
    if kind == "canonical":
        return CANONICAL[utterance.intent]
    return max(known[utterance.intent], key=lambda example: similarity(utterance.text, example))


def _recognised_examples(
    data: TrainingData, shipped: LocalIntentClassifier
) -> dict[str, list[str]]:
    """The shipped examples of each intent that the shipped model classifies as that intent."""
    return {
        intent: [e for e in examples if shipped.classify_text(e).intent == intent]
        for intent, examples in data.intents.items()
    }


_FOLLOW_UP_AFTER = timedelta(seconds=20)
"""How long after the first message the follow-up comes."""


async def replay(
    settings: Settings,
    conversations: Sequence[Utterance],
    kind: str,
    shipped: LocalIntentClassifier,
) -> Replay:
    """Play each utterance, then its follow-up, as one customer's conversation through the
    runtime ``build_runtime(settings)`` builds (SQLite, no model, no platforms)."""
    runtime = build_runtime(settings)
    await runtime.start(platforms=False)
    try:
        data = runtime.training_data
        known = _recognised_examples(data, shipped)
        similarity = TextSimilarity([e for texts in data.intents.values() for e in texts])
        first: Counter[str] = Counter()
        recognised = 0
        # Yesterday's conversations, a minute apart: settled, so `learn mine` reads them all.
        start = utcnow() - timedelta(days=1)
        for index, utterance in enumerate(conversations):
            user = f"{kind}-{index}"
            at = start + timedelta(minutes=index)
            message = InboundMessage("bench", user, utterance.text, received_at=at)
            result = await runtime.engine.handle(message)
            said = result.understanding.classification.intent
            first[
                "unknown" if said is None else "right" if said == utterance.intent else "wrong"
            ] += 1
            follow_up = _follow_up(utterance, kind, known, similarity)
            again = InboundMessage("bench", user, follow_up, received_at=at + _FOLLOW_UP_AFTER)
            result = await runtime.engine.handle(again)
            recognised += result.understanding.classification.intent == utterance.intent
    finally:
        await runtime.stop()
    return Replay(len(conversations), dict(first), recognised)


@dataclass(frozen=True, slots=True)
class CommandRun:
    """A ``shopbot`` command run in process: its exit status and what it printed."""

    argv: tuple[str, ...]
    status: int
    output: str


async def run_command(settings: Settings, *argv: str) -> CommandRun:
    """Parse ``argv`` with the real ``shopbot`` parser and await the command it selects."""
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = await args.run(settings, args)
    return CommandRun(tuple(argv), int(status), out.getvalue())


_SUMMARY = re.compile(
    r"Read (?P<conversations>\d+) conversation\(s\): (?P<found>\d+) candidate\(s\) found, "
    r"(?P<dropped>\d+) dropped(?: \((?P<reasons>[^)]*)\))?, (?P<stored>\d+) stored, "
    r"(?P<accepted>\d+) auto-accepted\."
)


@dataclass(frozen=True, slots=True)
class MineSummary:
    """``learn mine``'s summary line, read back."""

    conversations: int
    found: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    stored: int = 0
    auto_accepted: int = 0

    @classmethod
    def parse(cls, output: str) -> MineSummary:
        match = _SUMMARY.search(output)
        if match is None:
            raise ValueError(f"unexpected `learn mine` output: {output!r}")
        reasons = {}
        for part in filter(None, (match.group("reasons") or "").split(", ")):
            reason, count = part.rsplit(" ", 1)
            reasons[reason] = int(count)
        return cls(
            conversations=int(match.group("conversations")),
            found=int(match.group("found")),
            dropped=reasons,
            stored=int(match.group("stored")),
            auto_accepted=int(match.group("accepted")),
        )
