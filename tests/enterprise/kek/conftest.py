"""Helpers for the KEK tests: run the real CLI in a subprocess with a given environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without importobot or service settings, plus ``extra``."""
    drop = ("IMPORTOBOT_", "VAULT_", "BAO_", "AWS_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) or k.startswith("IMPORTOBOT_TEST_")
    }
    env.update(extra)
    return env


def run_cli(
    *args: str,
    env: dict[str, str],
    cwd: Path | str | None = None,
    stdin: str | bytes = b"",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``importobot ARGS`` in a subprocess: its stdout, stderr and exit code."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        input=data,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository (the wrapped-key file's home)."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=60)
    return path
