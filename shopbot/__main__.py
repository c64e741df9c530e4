"""``python -m shopbot``: the same as the ``shopbot`` command."""

from shopbot.cli import main

__all__: list[str] = []

raise SystemExit(main())
