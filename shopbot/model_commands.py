"""``shopbot learn train``, ``shopbot model list | promote | rollback`` and ``shopbot eval``."""

from __future__ import annotations

from shopbot.commands import AddCommon, Subcommands

__all__ = ["register"]


def register(
    learn: Subcommands, model: Subcommands, commands: Subcommands, add_common: AddCommon
) -> None:
    """Add ``learn train`` to ``learn``, the ``model`` actions to ``model`` and ``eval`` to the
    top-level ``commands``."""
