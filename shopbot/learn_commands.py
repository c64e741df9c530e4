"""``shopbot learn mine | review | export``: candidate examples from logged conversations."""

from __future__ import annotations

from shopbot.commands import AddCommon, Subcommands

__all__ = ["register"]


def register(learn: Subcommands, add_common: AddCommon) -> None:
    """Add the ``learn`` actions of this module to ``learn``."""
