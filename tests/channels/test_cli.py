"""The terminal chat loop on the real engine, fed from in-memory "pipes"."""

from __future__ import annotations

import io

from channels.cli import chat_loop
from shopbot.app import Runtime

SEED_ANSWER = (
    "Your order #12345 is currently being processed and is expected to ship within 2 days."
)


async def chat(runtime: Runtime, lines: str, *, interactive: bool = False, user: str = "u") -> str:
    stdout = io.StringIO()
    await chat_loop(runtime.engine, user, io.StringIO(lines), stdout, interactive=interactive)
    return stdout.getvalue()


async def test_seed_conversation_from_a_pipe(runtime: Runtime) -> None:
    output = await chat(runtime, "Where is my order #12345?\n\ncarol@example.com\n")
    lines = output.splitlines()
    assert "email" in lines[0].lower()
    assert SEED_ANSWER in output
    assert "you>" not in output and "bot>" not in output  # no prompt noise in a pipe


async def test_quit_ends_the_chat(runtime: Runtime) -> None:
    output = await chat(runtime, "hello\n/quit\nWhere is my order #12345?\n")
    assert output.strip()
    assert "email" not in output.lower()  # the line after /quit was never sent


async def test_blank_lines_are_not_messages(runtime: Runtime) -> None:
    assert await chat(runtime, "\n   \n\t\n") == ""


async def test_interactive_prompts(runtime: Runtime) -> None:
    output = await chat(runtime, "Where is my order #12345?\n", interactive=True)
    assert output.startswith("you> bot> ")
    assert output.endswith("\nyou> \n")  # prompted again; EOF then ended the line and the chat


async def test_quick_replies_are_numbered_and_picked_by_number(runtime: Runtime) -> None:
    output = await chat(runtime, "tell me a joke\n1\n")
    lines = output.splitlines()
    assert "1. Order status" in lines and "2. Product information" in lines
    # "1" picked the first topic, so the bot now asks what an order question needs.
    assert "order number" in lines[-1].lower()


async def test_conversation_continues_across_chats_for_the_same_user(runtime: Runtime) -> None:
    await chat(runtime, "Where is my order #12345?\n", user="carol")
    assert SEED_ANSWER in await chat(runtime, "carol@example.com\n", user="carol")
