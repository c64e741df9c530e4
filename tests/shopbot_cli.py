"""The ``shopbot`` command as a shop owner runs it: a real subprocess on a runtime's databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def run_shopbot(
    settings: Settings,
    *args: str,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    status: int = 0,
) -> str:
    """Run ``python -m shopbot ARGS`` on the databases of ``settings`` (``env`` adds variables);
    asserts the exit ``status`` and returns what it printed on stdout."""
    variables = {
        **os.environ,
        "SHOPBOT_STORAGE_URL": settings.database_url,
        "SHOPBOT_CRM_DEMO_DATABASE": str(settings.demo_database_path),
        "SHOPBOT_DATA_DIR": str(settings.data_dir),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "shopbot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=variables,
        timeout=120,
        check=False,
    )
    assert done.returncode == status, (done.stdout, done.stderr)
    return done.stdout
