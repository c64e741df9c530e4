"""The ``shopbot`` command: ``serve`` the HTTP API, ``chat`` in the terminal, ``demo reset``.

This and :mod:`shopbot.app` are the only places that wire settings into running objects.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from channels.cli import chat_loop
from config.settings import Settings, load_settings
from core.errors import ChannelError, ConfigError, ShopbotError
from shopbot import learn_commands, model_commands
from shopbot.commands import Command

if TYPE_CHECKING:
    from shopbot.app import Runtime

__all__ = ["build_parser", "main", "serve_banner"]

_SEED_QUESTION = "Where is my order #12345?"
_SEED_EMAIL = "carol@example.com"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``shopbot`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="shopbot", description="Customer-support chatbot for online shops."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the JSON HTTP API")
    _add_common(serve)
    serve.add_argument("--host", help="interface to listen on (default: server.host)")
    serve.add_argument("--port", type=int, help="port to listen on, 0 for any free one")

    chat = commands.add_parser("chat", help="chat with the bot in the terminal (stdin/stdout)")
    _add_common(chat)
    chat.add_argument("--user", default="local", help="user id of this conversation")

    channels = commands.add_parser("channels", help="the messaging platforms")
    channel_commands = channels.add_subparsers(
        dest="channels_command", required=True, metavar="ACTION"
    )
    check = channel_commands.add_parser(
        "check", help="verify each configured platform's credentials against the platform"
    )
    _add_common(check)

    telegram = commands.add_parser("telegram", help="Telegram set-up")
    telegram_commands = telegram.add_subparsers(
        dest="telegram_command", required=True, metavar="ACTION"
    )
    set_webhook = telegram_commands.add_parser(
        "set-webhook", help="register URL (https://.../webhooks/telegram) with Telegram"
    )
    _add_common(set_webhook)
    set_webhook.add_argument("url", help="the public https URL of POST /webhooks/telegram")

    demo = commands.add_parser("demo", help="manage the demo shop")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    reset = demo_commands.add_parser("reset", help="re-create and re-seed the demo shop")
    _add_common(reset)

    # The learning loop. Each of these sub-commands sets ``run`` (see ``Command``).
    learn = commands.add_parser("learn", help="learn from logged conversations")
    learn_actions = learn.add_subparsers(dest="learn_command", required=True, metavar="ACTION")
    model = commands.add_parser("model", help="the intent model's versions")
    model_actions = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    learn_commands.register(learn_actions, _add_common)
    model_commands.register(learn_actions, model_actions, commands, _add_common)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML file overriding config/shopbot.yaml")
    parser.add_argument("--data-dir", type=Path, help="where databases live (default: ./var)")


def _settings(args: argparse.Namespace) -> Settings:
    # Only the flags given: load_settings merges ``server`` key by key over the file and env.
    flags = {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}
    server = {key: value for key, value in flags.items() if value is not None}
    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    if server:
        overrides["server"] = server
    return load_settings(args.config, **overrides)


def _own_command() -> str:
    """How the user can run this command again: ``shopbot`` when that is on PATH, else the path
    it was started by (``.venv/bin/shopbot`` after ``make run``)."""
    started = Path(sys.argv[0])
    on_path = shutil.which("shopbot")
    if started.name != "shopbot" or (on_path and Path(on_path).resolve() == started.resolve()):
        return "shopbot"
    return os.path.relpath(started)


def serve_banner(
    url: str,
    api_token_set: bool,
    chat_command: str = "shopbot chat",
    web_chat: bool = False,
    platforms: Sequence[str] = (),
    language_model: str | None = None,
) -> str:
    """What ``shopbot serve`` prints: where it listens, what is on, and what to try first."""
    auth = ' -H "Authorization: Bearer $SHOPBOT_API_TOKEN"' if api_token_set else ""

    def curl(text: str) -> str:
        body = f'{{"user_id": "demo", "text": "{text}"}}'
        return f"  curl -s {url}/api/v1/messages{auth} -d '{body}'"

    return "\n".join(
        [
            f"shopbot is serving on {url}  (Ctrl+C to stop)",
            "",
            "Try the demo shop:",
            curl(_SEED_QUESTION),
            curl(_SEED_EMAIL),
            "",
            f"Or chat in the terminal:  {chat_command}",
            *([f"Website chat: {url}/"] if web_chat else []),
            "Messaging platforms: "
            + (", ".join(platforms) if platforms else "none (README: Messaging platforms)"),
            "Language model: "
            + (language_model or "none, local pipeline only (set OPENAI_API_KEY to add one)"),
            f"Health: {url}/healthz   Metrics: {url}/metrics",
        ]
    )


def _build_runtime(settings: Settings) -> Runtime:
    # Imported late: the model stack (scikit-learn) takes seconds to import, and `--help` or a
    # bad setting should answer at once.
    from shopbot.app import build_runtime

    return build_runtime(settings)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _serve(settings: Settings) -> None:
    runtime = _build_runtime(settings)
    # The engine exists only once the runtime has started, so start it before building the app.
    await runtime.start()
    try:
        await _listen_until_signalled(runtime)
    finally:
        await runtime.stop()


async def _listen_until_signalled(runtime: Runtime) -> None:
    settings = runtime.settings
    runner = web.AppRunner(runtime.api_app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        port = runner.addresses[0][1]
        chat_command = f"{_own_command()} chat"
        if settings.data_dir != Path("var"):  # the chat must open the same databases
            chat_command += f" --data-dir {shlex.quote(str(settings.data_dir))}"
        url = _url(settings.server.host, port)
        token_set = bool(settings.secrets.api_token)
        platforms = [channel.description for channel in runtime.channels]
        llm = settings.llm
        language_model = None
        if runtime.llm is not None:
            where = llm.azure_endpoint if llm.provider == "azure" else llm.base_url
            language_model = f"{llm.model} ({where or 'OpenAI'})"
        print(
            serve_banner(
                url,
                token_set,
                chat_command,
                web_chat=settings.web.enabled,
                platforms=platforms,
                language_model=language_model,
            )
        )
        sys.stdout.flush()
        await _until_signalled()
    finally:
        await runner.cleanup()  # stop accepting, let in-flight requests finish


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _chat(settings: Settings, user_id: str) -> None:
    runtime = _build_runtime(settings)
    await runtime.start(platforms=False)
    try:
        interactive = sys.stdin.isatty()
        if interactive:
            print("Chat with the shop assistant. Type /quit or press Ctrl+D to leave.")
        await chat_loop(runtime.engine, user_id, sys.stdin, sys.stdout, interactive=interactive)
    finally:
        await runtime.stop()


async def _demo_reset(settings: Settings) -> None:
    runtime = _build_runtime(settings)
    await runtime.start(platforms=False)
    try:
        await runtime.reset_demo_shop()
    finally:
        await runtime.stop()
    print(f"Demo shop re-created in {settings.demo_database_path}")


async def _check_channels(settings: Settings) -> bool:
    """Print each configured platform's verdict; whether all of them passed."""
    from shopbot.platforms import platform_channels

    channels = platform_channels(settings)
    if not channels:
        print(
            "No messaging platform is configured. Set TELEGRAM_BOT_TOKEN, TWILIO_ACCOUNT_SID + "
            "TWILIO_AUTH_TOKEN + a sender number, or SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET "
            "(README: Connect a platform)."
        )
        return True
    passed = True
    for channel in channels:
        try:
            print(f"{channel.name}: ok ({await channel.check()})")
        except ChannelError as exc:
            print(f"{channel.name}: FAILED: {exc}")
            passed = False
    return passed


async def _set_telegram_webhook(settings: Settings, url: str) -> None:
    from shopbot.platforms import platform_channels

    telegram = next((c for c in platform_channels(settings) if c.name == "telegram"), None)
    if telegram is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "not set: Telegram is off")
    from channels.telegram import TelegramChannel

    assert isinstance(telegram, TelegramChannel)
    await telegram.set_webhook(url)
    print(f"Telegram will post updates to {url}")


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    command: Command | None = getattr(args, "run", None)
    if command is not None:
        return asyncio.run(command(settings, args))
    if args.command == "serve":
        asyncio.run(_serve(settings))
    elif args.command == "chat":
        asyncio.run(_chat(settings, args.user))
    elif args.command == "channels":
        return 0 if asyncio.run(_check_channels(settings)) else 1
    elif args.command == "telegram":
        asyncio.run(_set_telegram_webhook(settings, args.url))
    else:
        asyncio.run(_demo_reset(settings))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shopbot`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "serve" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # HTTP client libraries log each request's URL at INFO, and a Telegram URL holds the bot
    # token; the platform SDKs log request details. Their warnings are enough.
    for noisy in ("httpx", "httpx2", "httpcore", "twilio", "openai", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"shopbot: {exc}", file=sys.stderr)
        return 2
    except (ShopbotError, OSError) as exc:
        print(f"shopbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
