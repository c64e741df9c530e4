"""``shopbot learn mine | review | export``: candidate examples from logged conversations.

Only the arguments are defined here; the work is in :mod:`shopbot.learn_tasks`, imported when a
command runs, so that ``shopbot --help`` does not load the model stack.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from config.settings import Settings
from shopbot.commands import AddCommon, Command, Subcommands

__all__ = ["register"]


def _task(name: str) -> Command:
    async def run(settings: Settings, args: argparse.Namespace) -> int:
        from shopbot import learn_tasks

        task: Command = getattr(learn_tasks, name)
        return await task(settings, args)

    return run


def register(learn: Subcommands, add_common: AddCommon) -> None:
    """Add the ``learn`` actions of this module to ``learn``."""
    mine_parser = learn.add_parser("mine", help="mine logged conversations for new examples")
    add_common(mine_parser)
    mine_parser.add_argument(
        "--since", type=_timestamp, help="re-read conversations from this ISO time on"
    )
    mine_parser.set_defaults(run=_task("mine"))

    review = learn.add_parser("review", help="accept, reject or relabel candidate examples")
    add_common(review)
    review.add_argument(
        "--auto", action="store_true", help="only apply the rule learning.auto_accept_score"
    )
    review.set_defaults(run=_task("review"))

    export = learn.add_parser("export", help="write accepted and successful examples as JSONL")
    add_common(export)
    export.add_argument("--format", choices=("openai", "jsonl"), default="openai")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.set_defaults(run=_task("export"))


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
