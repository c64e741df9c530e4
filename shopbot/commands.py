"""What a sub-command registered by another module looks like to ``shopbot.cli``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

from config.settings import Settings

__all__ = ["AddCommon", "Command", "Subcommands"]

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
"""A sub-command's body: runs with the settings and the parsed arguments; the exit status.
Set it on the sub-command's parser with ``parser.set_defaults(run=...)``."""

AddCommon = Callable[[argparse.ArgumentParser], None]
"""Adds the options every command takes (``--config``, ``--data-dir``)."""

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers()`` returns."""
