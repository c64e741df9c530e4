"""Terminal chat: one message per line on stdin, the bot's replies on stdout.

Works the same from a keyboard and from a pipe (``echo "Where is my order?" | shopbot chat``);
when the input is not a terminal there is no prompt, so the output is only the replies.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO

from channels import ChatEngine
from core.options import numbered_text
from core.text import clean_text
from core.types import InboundMessage, Reply

__all__ = ["CHANNEL", "QUIT_COMMANDS", "chat_loop", "format_reply"]

CHANNEL = "cli"
QUIT_COMMANDS = frozenset({"/quit", "/exit"})
_PROMPT = "you> "
_BOT = "bot> "


def format_reply(reply: Reply, *, interactive: bool) -> str:
    """A reply as printed: its text, then its quick replies as numbered options.

    The terminal has no buttons; typing the number picks the option (the engine resolves it).
    """
    prefix = _BOT if interactive else ""
    return prefix + numbered_text(reply).replace("\n", "\n" + " " * len(prefix))


def _start_reader(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Read ``stdin`` in a daemon thread, handing lines over through a queue (``None`` = EOF).

    A daemon thread rather than the default executor: a thread blocked on the keyboard must not
    keep the process alive after Ctrl+C.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="shopbot-chat-stdin", daemon=True).start()
    return lines


async def chat_loop(
    engine: ChatEngine, user_id: str, stdin: TextIO, stdout: TextIO, *, interactive: bool
) -> None:
    """Chat with ``engine`` as ``user_id`` on channel ``"cli"`` until EOF or ``/quit``.

    Blank lines are skipped. ``interactive`` adds the ``you>`` prompt and ``bot>`` prefixes.
    """
    lines = _start_reader(stdin)
    while True:
        if interactive:
            stdout.write(_PROMPT)
            stdout.flush()
        line = await lines.get()
        if line is None:
            if interactive:
                stdout.write("\n")  # leave the shell prompt on a line of its own after Ctrl+D
            break
        text = clean_text(line)
        if not text:
            continue
        if text.lower() in QUIT_COMMANDS:
            break
        message = InboundMessage(CHANNEL, user_id, text)
        result = await engine.handle(message)
        for reply in result.replies:
            stdout.write(format_reply(reply, interactive=interactive) + "\n")
        stdout.flush()
