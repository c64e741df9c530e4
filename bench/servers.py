"""The two servers the HTTP benchmark loads, each run in its own process.

``python -m bench.servers shopbot --data-dir DIR`` serves the real JSON API (composition root +
``channels.api.create_api_app``, as ``shopbot serve`` does); ``python -m bench.servers echo``
serves a bare aiohttp app that parses the same JSON body and answers a small JSON. Both listen
on 127.0.0.1 on a free port, print ``PORT <n>`` once ready, serve until SIGTERM, then print
``RSS {"maxrss_kib": ...}`` (their own peak resident set) and exit. Both log like
``shopbot serve`` (INFO, aiohttp access log), so the comparison is like for like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

__all__ = ["echo_app", "main", "shopbot_app"]

HOST = "127.0.0.1"


def echo_app() -> web.Application:
    """The baseline: parse the JSON body, answer a small JSON; nothing else."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"user_id": body["user_id"], "chars": len(body["text"])})

    app = web.Application()
    app.router.add_post("/api/v1/messages", echo)
    return app


async def shopbot_app(data_dir: Path, database: str) -> web.Application:
    """The real API on a started runtime; the runtime stops with the app."""
    # Imported here so the echo process does not pay for (or measure the memory of) shopbot.
    from bench.stages import bench_settings
    from shopbot.app import build_runtime

    settings = bench_settings(data_dir, database)
    runtime = build_runtime(settings)
    await runtime.start()
    app = runtime.api_app()

    async def stop(_app: web.Application) -> None:
        await runtime.stop()

    app.on_cleanup.append(stop)
    return app


async def _serve(app: web.Application) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        print(f"PORT {runner.addresses[0][1]}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


async def _run(args: argparse.Namespace) -> None:
    if args.kind == "echo":
        app = echo_app()
    else:
        app = await shopbot_app(args.data_dir, args.database)
    await _serve(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one of the two apps until SIGTERM; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("kind", choices=("echo", "shopbot"))
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--database", default="http.sqlite3")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_run(args))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("RSS " + json.dumps({"maxrss_kib": peak}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
