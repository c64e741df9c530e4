"""Quick replies on channels that cannot show buttons: numbered options, answered by number.

This is the one place rich replies are downgraded. A channel that declares it has no buttons
(SMS, the terminal) shows :func:`numbered_text`; whatever the channel, the engine resolves a bare
number against the options the conversation was last offered (:func:`pick_option`).
"""

from __future__ import annotations

import re

from core.types import Reply

__all__ = ["numbered_text", "pick_option"]

_CHOICE = re.compile(r"\s*(?:option\s*)?#?\s*(\d{1,2})\s*[.)]?\s*", re.IGNORECASE)


def numbered_text(reply: Reply) -> str:
    """The reply's text followed by its quick replies as a numbered list."""
    if not reply.quick_replies:
        return reply.text
    options = "\n".join(f"{n}. {label}" for n, label in enumerate(reply.quick_replies, 1))
    return f"{reply.text}\n{options}\n(Reply with a number.)"


def pick_option(text: str, offered: tuple[str, ...]) -> str:
    """The label of option N when ``text`` is just "N" and N was offered; else ``text``."""
    if not offered:
        return text
    match = _CHOICE.fullmatch(text)
    if match is None:
        return text
    index = int(match.group(1))
    return offered[index - 1] if 1 <= index <= len(offered) else text
