"""The ``shopbot`` console script, run as a user runs it: in a subprocess, in a fresh directory."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

BIN = Path(sys.executable).parent
SHOPBOT = str(BIN / "shopbot")
SEED_ANSWER = (
    "Your order #12345 is currently being processed and is expected to ship within 2 days."
)
SEED_CHAT = "Where is my order #12345?\ncarol@example.com\n"
# Generous: only a guard against a hung process, never a performance assertion.
TIMEOUT = 120


_OWN_VARIABLES = ("SHOPBOT_", "TELEGRAM_", "TWILIO_", "SLACK_", "OPENAI_")


def _env(**extra: str) -> dict[str, str]:
    """The caller's environment without any setting or credential of ours, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_VARIABLES)}
    return env | extra


def run(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHOPBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or _env(),
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The intent model trained once by a real ``shopbot demo reset`` on a fresh data dir."""
    home = tmp_path_factory.mktemp("trained")
    result = run("demo", "reset", "--data-dir", str(home / "var"), cwd=home)
    assert result.returncode == 0, result.stderr
    return home / "var" / "models"


@pytest.fixture
def data_dir(tmp_path: Path, trained_models: Path) -> Path:
    """A fresh data dir that already holds the trained model (so no test retrains it)."""
    shutil.copytree(trained_models, tmp_path / "var" / "models")
    return tmp_path / "var"


def test_chat_from_a_pipe_answers_the_seed_example(data_dir: Path) -> None:
    result = run("chat", "--data-dir", str(data_dir), cwd=data_dir.parent, stdin=SEED_CHAT)
    assert result.returncode == 0, result.stderr
    first, *_ = result.stdout.splitlines()
    assert "email" in first.lower()
    assert SEED_ANSWER in result.stdout
    assert "you>" not in result.stdout
    assert "Traceback" not in result.stderr


def test_chat_uses_the_default_data_dir_of_the_working_directory(data_dir: Path) -> None:
    result = run("chat", "--user", "carol", cwd=data_dir.parent, stdin=SEED_CHAT)
    assert result.returncode == 0, result.stderr
    assert SEED_ANSWER in result.stdout
    assert (data_dir / "demo_shop.sqlite3").exists()


def test_python_dash_m_runs_the_same_command(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopbot", "chat", "--data-dir", str(data_dir)],
        input=SEED_CHAT,
        capture_output=True,
        text=True,
        cwd=data_dir.parent,
        env=_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert SEED_ANSWER in result.stdout


def test_demo_reset_restores_the_demo_shop(data_dir: Path) -> None:
    args = ("--data-dir", str(data_dir))
    assert run("demo", "reset", *args, cwd=data_dir.parent).returncode == 0
    shop = data_dir / "demo_shop.sqlite3"
    with sqlite3.connect(shop) as db:  # the shop owner deletes the seed order...
        db.execute("DELETE FROM order_items WHERE order_number = '12345'")
        db.execute("DELETE FROM orders WHERE number = '12345'")
    db.close()
    broken = run("chat", "--user", "before", *args, cwd=data_dir.parent, stdin=SEED_CHAT)
    assert SEED_ANSWER not in broken.stdout

    reset = run("demo", "reset", *args, cwd=data_dir.parent)  # ...and resets the demo
    assert reset.returncode == 0, reset.stderr
    assert str(shop) in reset.stdout
    fixed = run("chat", "--user", "after", *args, cwd=data_dir.parent, stdin=SEED_CHAT)
    assert SEED_ANSWER in fixed.stdout


@pytest.mark.parametrize(
    ("command", "env", "config", "key"),
    [
        pytest.param("serve", {"SHOPBOT_SERVER_PORT": "eighty"}, None, "server.port", id="env"),
        pytest.param(
            "chat",
            {},
            "dialogue:\n  max_clarifications: -1\n",
            "dialogue.max_clarifications",
            id="config-file",
        ),
        pytest.param("serve", {}, "server: [1, 2]\n", "server", id="config-shape"),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, command: str, env: dict[str, str], config: str | None, key: str
) -> None:
    args = [command, "--data-dir", str(tmp_path / "var")]
    if config is not None:
        (tmp_path / "shop.yaml").write_text(config, encoding="utf-8")
        args += ["--config", str(tmp_path / "shop.yaml")]
    result = run(*args, cwd=tmp_path, env=_env(**env))
    assert result.returncode == 2
    assert result.stderr.startswith(f"shopbot: config {key}: ")
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = run("serve", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr


async def _read_banner(server: asyncio.subprocess.Process) -> str:
    """What ``shopbot serve`` printed up to its last banner line (the metrics URL)."""
    assert server.stdout is not None
    lines: list[str] = []
    while not lines or "/metrics" not in lines[-1]:
        line = await asyncio.wait_for(server.stdout.readline(), TIMEOUT)
        assert line, "serve exited before printing its banner"
        lines.append(line.decode())
    return "".join(lines)


async def test_serve_answers_then_stops_cleanly_on_sigterm(data_dir: Path) -> None:
    server = await asyncio.create_subprocess_exec(
        SHOPBOT, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir),
        cwd=data_dir.parent, env=_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        banner = await _read_banner(server)
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        base = match.group(1)
        assert f"shopbot chat --data-dir {data_dir}" in banner  # the same databases as serve
        assert "Where is my order #12345?" in banner
        assert "Messaging platforms: none" in banner and "Language model: none" in banner
        async with aiohttp.ClientSession() as client:
            async with client.get(base + "/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"status": "ok", "model": "shipped"}
            message = {"user_id": "curl", "text": "Where is my order #12345?"}
            async with client.post(base + "/api/v1/messages", json=message) as response:
                assert (await response.json())["state"] == "awaiting_input"
        server.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(server.communicate(), TIMEOUT)
        assert server.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


def test_help_answers_without_loading_the_model_stack(tmp_path: Path) -> None:
    # `shopbot --help` or a typo must answer at once: the commands load scikit-learn, the
    # database drivers and the SDKs only when they run.
    check = (
        "import sys, shopbot.cli; "
        "heavy = {'sklearn', 'sqlalchemy', 'openai', 'telegram', 'twilio', 'slack_bolt'}; "
        "loaded = sorted(heavy & set(sys.modules)); print(loaded); sys.exit(bool(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
