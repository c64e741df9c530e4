"""HTTP throughput of ``POST /api/v1/messages`` beside a bare aiohttp JSON echo.

Three kinds of process, so no two of them share an event loop: the shopbot server, the echo
server (both from :mod:`bench.servers`) and, for each measurement, a load generator
(``python -m bench.http load ...``) with N concurrent keep-alive connections for a fixed
duration on 127.0.0.1. Measurements alternate echo, shopbot, echo, shopbot... and the medians
are reported, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

import aiohttp

from bench.corpus import Conversation, build_corpus
from bench.stats import percentile

__all__ = ["HttpResult", "LoadRun", "main", "measure_http"]

REPO = Path(__file__).resolve().parents[1]
PATH = "/api/v1/messages"
_READY_TIMEOUT_S = 180.0  # the first start may train the intent model


@dataclass(frozen=True, slots=True)
class LoadRun:
    """One measurement window of one load generator against one server."""

    server: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float = float("nan")
    """CPU time of the server process over the whole load run, in cores (1.0 = one core busy).
    Below 1 the server was waiting (locks, threads, the scheduler), not computing."""


@dataclass(frozen=True, slots=True)
class HttpResult:
    """All runs, the median throughput of each server, their ratio and the servers' memory."""

    runs: tuple[LoadRun, ...]
    echo_rps: float
    shopbot_rps: float
    ratio: float
    concurrency: int
    seconds_per_run: float
    memory_kib: dict[str, dict[str, int | None]] = field(default_factory=dict)


# -- the load generator (runs in its own process) ----------------------------------------------
async def _worker(
    session: aiohttp.ClientSession,
    url: str,
    conversations: Sequence[Conversation],
    window: tuple[float, float],
    results: list[tuple[float, int]],
) -> None:
    """Plays its conversations in order, each under a fresh user id, until the window ends."""
    start, end = window
    clock = time.perf_counter
    for cycle in itertools.count():
        for conversation in conversations:
            user_id = f"{conversation.user_id}-{cycle}"
            for text in conversation.messages:
                sent = clock()
                if sent >= end:
                    return
                try:
                    async with session.post(url, json={"user_id": user_id, "text": text}) as resp:
                        await resp.read()
                        status = resp.status
                except aiohttp.ClientError:
                    status = 0
                done = clock()
                if start <= sent and done <= end:
                    results.append((done - sent, status))


async def _load(url: str, concurrency: int, warmup: float, duration: float, tag: str) -> LoadRun:
    corpus = build_corpus(max(concurrency * 8, 64), seed=7, user_prefix=f"http-{tag}")
    shares = [corpus[i::concurrency] for i in range(concurrency)]
    results: list[tuple[float, int]] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + warmup
        window = (start, start + duration)
        await asyncio.gather(*(_worker(session, url, s, window, results) for s in shares))
    latencies = sorted(seconds * 1000 for seconds, status in results if status == 200)
    errors = sum(1 for _, status in results if status != 200)
    return LoadRun(
        server=tag.split("-")[0],
        requests=len(latencies),
        errors=errors,
        seconds=duration,
        rps=len(latencies) / duration,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
    )


# -- orchestration (the benchmark's own process) -----------------------------------------------
class _Server:
    """One server process: started, asked for its port, measured, stopped."""

    def __init__(self, kind: str, data_dir: Path, log: IO[str]) -> None:
        command = [sys.executable, "-m", "bench.servers", kind, "--data-dir", str(data_dir)]
        self.kind = kind
        self._process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True
        )
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        assert self._process.stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if line.startswith("PORT "):
                return int(line.split()[1])
            if not line and self._process.poll() is not None:
                break
        self._process.kill()
        raise RuntimeError(f"the {self.kind} server did not start (see its log)")

    def memory(self) -> dict[str, int | None]:
        """Peak (VmHWM) and current (VmRSS) resident set in KiB, from /proc."""
        figures: dict[str, int | None] = {"peak_rss_kib": None, "rss_kib": None}
        try:
            lines = Path(f"/proc/{self._process.pid}/status").read_text().splitlines()
        except OSError:
            return figures
        for line in lines:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                key = "peak_rss_kib" if name == "VmHWM" else "rss_kib"
                figures[key] = int(value.split()[0])
        return figures

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (nan off Linux)."""
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        # utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        """SIGTERM, wait, and return the peak RSS the server reported about itself."""
        self._process.terminate()
        try:
            out, _ = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None
        for line in out.splitlines():
            if line.startswith("RSS "):
                return int(json.loads(line[4:])["maxrss_kib"])
        return None


def _run_load(
    server: _Server, concurrency: int, warmup: float, duration: float, tag: str
) -> LoadRun:
    command = [
        sys.executable, "-m", "bench.http", "load",
        "--url", f"http://127.0.0.1:{server.port}{PATH}",
        "--concurrency", str(concurrency),
        "--warmup", str(warmup),
        "--duration", str(duration),
        "--tag", tag,
    ]  # fmt: skip
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=warmup + duration + 120
    )
    cpu = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - started)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-2000:]}")
    run = LoadRun(**json.loads(done.stdout.strip().splitlines()[-1]))
    return replace(run, server_cpu=round(cpu, 2))


def measure_http(
    data_dir: Path,
    *,
    rounds: int,
    concurrency: int,
    warmup: float,
    duration: float,
    log_path: Path,
) -> HttpResult:
    """Alternate echo and shopbot ``rounds`` times each; medians, ratio and memory."""
    runs: list[LoadRun] = []
    with log_path.open("w", encoding="utf-8") as log:
        servers = {kind: _Server(kind, data_dir, log) for kind in ("echo", "shopbot")}
        try:
            for index in range(rounds):
                for kind in ("echo", "shopbot"):
                    tag = f"{kind}-{index}"
                    runs.append(_run_load(servers[kind], concurrency, warmup, duration, tag))
        finally:
            memory = {kind: server.memory() for kind, server in servers.items()}
            for kind, server in servers.items():
                memory[kind]["self_reported_maxrss_kib"] = server.stop()
    echo = statistics.median(run.rps for run in runs if run.server == "echo")
    shopbot = statistics.median(run.rps for run in runs if run.server == "shopbot")
    return HttpResult(
        runs=tuple(runs),
        echo_rps=echo,
        shopbot_rps=shopbot,
        ratio=shopbot / echo if echo else float("nan"),
        concurrency=concurrency,
        seconds_per_run=duration,
        memory_kib=memory,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``load``: run one load generator and print its :class:`LoadRun` as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.http")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load one server and print the result as JSON")
    load.add_argument("--url", required=True)
    load.add_argument("--concurrency", type=int, default=16)
    load.add_argument("--warmup", type=float, default=1.0)
    load.add_argument("--duration", type=float, default=5.0)
    load.add_argument("--tag", default="run")
    args = parser.parse_args(argv)
    if not args.url.startswith("http://127.0.0.1:"):
        parser.error("the load generator only targets 127.0.0.1")
    run = asyncio.run(_load(args.url, args.concurrency, args.warmup, args.duration, args.tag))
    print(json.dumps(asdict(run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
