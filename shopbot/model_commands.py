"""``shopbot learn train``, ``shopbot model list | promote | rollback`` and ``shopbot eval``.

* ``learn train [--dry-run]``: shipped + accepted examples -> a new model version, evaluated on
  the frozen set (``config/evaluation.yaml`` plus the held-out slice of accepted examples) and
  stored promoted (active) or rejected with the reason; exit status 1 when rejected.
* ``model list``: the stored versions and their metrics, ``*`` marking the active one.
* ``model promote VERSION [--force]`` / ``model rollback VERSION``: change the active version;
  running servers pick it up within ``learning.reload_interval_seconds``.
* ``eval FILE.jsonl [--model VERSION] [--png FILE]``: score a model on a JSON-lines file;
  exit status 2 for a missing or malformed file.

The work is in :mod:`shopbot.model_tasks`, imported when a command runs, so that
``shopbot --help`` does not load the model stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from config.settings import CONFIG_DIR, Settings
from shopbot.commands import AddCommon, Command, Subcommands

__all__ = ["EVALUATION_SET", "register"]

EVALUATION_SET = CONFIG_DIR / "evaluation.yaml"
"""The frozen evaluation set every version is measured on (training never reads it)."""


def _task(name: str) -> Command:
    async def run(settings: Settings, args: argparse.Namespace) -> int:
        from shopbot import model_tasks

        task: Command = getattr(model_tasks, name)
        return await task(settings, args)

    return run


def register(
    learn: Subcommands, model: Subcommands, commands: Subcommands, add_common: AddCommon
) -> None:
    """Add ``learn train`` to ``learn``, the ``model`` actions to ``model`` and ``eval`` to the
    top-level ``commands``."""
    train = learn.add_parser(
        "train", help="train a new model version on shipped + accepted examples"
    )
    add_common(train)
    train.add_argument(
        "--dry-run", action="store_true", help="train and evaluate, but store nothing"
    )
    train.set_defaults(run=_task("train_command"))

    listing = model.add_parser("list", help="the stored model versions and their metrics")
    add_common(listing)
    listing.set_defaults(run=_task("list_command"))

    promote = model.add_parser("promote", help="make a stored version the active one")
    add_common(promote)
    promote.add_argument("version", help="e.g. v3")
    promote.add_argument(
        "--force", action="store_true", help="also a version the promotion rule rejected"
    )
    promote.set_defaults(run=_task("promote_command"))

    rollback = model.add_parser("rollback", help="make an earlier version active again")
    add_common(rollback)
    rollback.add_argument("version", help="e.g. v2")
    rollback.set_defaults(run=_task("rollback_command"))

    evaluation = commands.add_parser("eval", help="score a model on a JSONL file of examples")
    add_common(evaluation)
    evaluation.add_argument(
        "file", type=Path, help='one {"text": ..., "intent": ...} per line (null: out of scope)'
    )
    evaluation.add_argument("--model", help="a stored version (default: the active model)")
    evaluation.add_argument("--png", type=Path, help="write the confusion matrix to this PNG")
    evaluation.set_defaults(run=_task("eval_command"))
